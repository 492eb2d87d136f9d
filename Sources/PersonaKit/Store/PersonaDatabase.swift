import Foundation
import GRDB

/// `persona.db`: the cost ledger, the reservations of requests in flight and the saved sessions,
/// in one SQLite file in WAL mode, shared by every Persona process of a home.
///
/// One migrator owns the whole schema, so the ledger and the session store never disagree about
/// which migrations have run.
public final class PersonaDatabase: Sendable {
    let pool: DatabasePool
    public let path: String
    /// Writes from tasks in flight, committed together (`GroupedWrites`).
    let writes: GroupedWrites

    /// How long a write waits for another process's write lock before it gives up.
    public static let lockTimeout: TimeInterval = 5

    /// `lockTimeout` is how long a statement waits for another process's lock; a reader that
    /// must stay responsive, such as the monitor, waits less and says so.
    public init(path: String, lockTimeout: TimeInterval = PersonaDatabase.lockTimeout) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                    withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(lockTimeout)
            pool = try Self.openAlone(path) {
                let pool = try DatabasePool(path: path, configuration: configuration)
                if try !pool.read({ try Self.migrator.hasCompletedMigrations($0) }) { try Self.migrator.migrate(pool) }
                return pool
            }
            writes = GroupedWrites(pool: pool)
        } catch {
            throw LedgerError(path: path, error)
        }
    }

    /// Runs `body`, turning any database failure into a `LedgerError` naming the file. A budget's
    /// refusal passes as it is: it is no failure of the database.
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as BudgetRefusal { throw error } catch { throw LedgerError(path: path, error) }
    }

    func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as BudgetRefusal { throw error } catch { throw LedgerError(path: path, error) }
    }

    /// Opens and migrates with a lock on a file beside the database held. Processes that open a
    /// new or older `persona.db` at once would otherwise each run the same migration, or wait
    /// for another's migration in SQLite's busy timeout, which a slow migration on a loaded
    /// machine can outlast. Opening a migrated database holds the lock for milliseconds.
    private static func openAlone(_ path: String, _ open: () throws -> DatabasePool) throws -> DatabasePool {
        let lock = Foundation.open(path + "-migrate-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        // A folder that cannot be written holds no lock file; SQLite then says what it can do there.
        if lock < 0, errno == EACCES || errno == EROFS { return try open() }
        guard lock >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { flock(lock, LOCK_UN) }
        return try open()
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("ledger-v1") { db in
            try db.execute(sql: """
                CREATE TABLE requests (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    timestamp_ms INTEGER NOT NULL,
                    session TEXT NOT NULL,
                    persona TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    model TEXT NOT NULL,
                    input_tokens INTEGER NOT NULL,
                    cached_input_tokens INTEGER NOT NULL,
                    cache_write_tokens INTEGER NOT NULL,
                    output_tokens INTEGER NOT NULL,
                    reasoning_tokens INTEGER NOT NULL,
                    cost_micros INTEGER,
                    estimated INTEGER NOT NULL,
                    ttft_ms INTEGER,
                    duration_ms INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    http_status INTEGER,
                    error_kind TEXT
                );
                CREATE INDEX requests_time ON requests(timestamp_ms);
                CREATE INDEX requests_session ON requests(session);
                """)
        }
        migrator.registerMigration("ledger-v2-summary-index") { db in
            try db.execute(sql: """
                CREATE INDEX requests_summary ON requests(provider, model, timestamp_ms, cost_micros, input_tokens, output_tokens)
                """)
        }
        migrator.registerMigration("sessions-v1") { db in
            try db.execute(sql: """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    created_ms INTEGER NOT NULL,
                    mode TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    roster TEXT NOT NULL,
                    rounds INTEGER,
                    judge TEXT
                );
                CREATE TABLE messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    round INTEGER NOT NULL,
                    speaker TEXT NOT NULL,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    provider TEXT,
                    model TEXT,
                    text TEXT NOT NULL,
                    status TEXT NOT NULL,
                    error TEXT,
                    input_tokens INTEGER NOT NULL DEFAULT 0,
                    output_tokens INTEGER NOT NULL DEFAULT 0,
                    cost_micros INTEGER,
                    estimated INTEGER NOT NULL DEFAULT 0,
                    dropped_turns INTEGER NOT NULL DEFAULT 0,
                    created_ms INTEGER NOT NULL
                );
                CREATE INDEX messages_session ON messages(session, id);
                """)
        }
        migrator.registerMigration("ledger-v3-summary-index-estimated") { db in
            try db.execute(sql: """
                DROP INDEX requests_summary;
                CREATE INDEX requests_summary ON requests(provider, model, timestamp_ms, cost_micros, input_tokens, output_tokens, estimated)
                """)
        }
        migrator.registerMigration("money-v4-picodollars-reservations") { db in
            try migrateToPicodollars(db)
        }
        migrator.registerMigration("sessions-v5-names-search") { db in
            // A session can be named; every message's text is indexed for `persona sessions search`.
            try db.execute(sql: """
                ALTER TABLE sessions ADD COLUMN name TEXT;
                CREATE UNIQUE INDEX sessions_name ON sessions(name COLLATE NOCASE) WHERE name IS NOT NULL;
                CREATE VIRTUAL TABLE messages_search USING fts5(text, content='messages', content_rowid='id');
                INSERT INTO messages_search(messages_search) VALUES ('rebuild');
                CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
                    INSERT INTO messages_search(rowid, text) VALUES (new.id, new.text);
                END;
                CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
                    INSERT INTO messages_search(messages_search, rowid, text) VALUES ('delete', old.id, old.text);
                END;
                """)
        }
        migrator.registerMigration("sessions-v6-structured") { db in
            // An answer given in its schema keeps its value, as JSON text.
            try db.execute(sql: "ALTER TABLE messages ADD COLUMN structured TEXT")
        }
        migrator.registerMigration("knowledge-v7") { db in
            // The passages of personas' knowledge folders, for search_knowledge, and which files they came from.
            try db.execute(sql: """
                CREATE TABLE knowledge_files (folder TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
                    modified_ns INTEGER NOT NULL, PRIMARY KEY (folder, path));
                CREATE VIRTUAL TABLE knowledge_passages USING fts5(text, folder UNINDEXED, path UNINDEXED, line UNINDEXED);
                """)
        }
        migrator.registerMigration("sessions-v8-tools") { db in
            // The tools a turn called, with their results, as a JSON array.
            try db.execute(sql: "ALTER TABLE messages ADD COLUMN tools TEXT")
        }
        migrator.registerMigration("batch-v9") { db in
            try migrateToBatches(db)
        }
        migrator.registerMigration("votes-v10") { db in
            try migrateToVotes(db)
        }
        migrator.registerMigration("gateway-v11") { db in
            // A request through `persona serve` names its client (the key's name) and its X-Request-ID.
            try db.execute(sql: "ALTER TABLE requests ADD COLUMN client TEXT; ALTER TABLE requests ADD COLUMN request_id TEXT")
        }
        migrator.registerMigration("monitor-v12") { db in
            try migrateToMonitor(db)
        }
        migrator.registerMigration("search-v13-queue") { db in
            try MessageSearchIndex.migrateToQueue(db)
        }
        return migrator
    }

    /// What `persona monitor` reads beside the ledger: each request in flight names the command
    /// that sent it (and the gateway's client) and carries its progress, which its process
    /// publishes twice a second; each process publishes its providers' breakers and rate limits.
    /// Ledger rows are only ever added, but for the rare row a late settle replaces: a count of
    /// deletions tells a monitor that sums new rows as they come when it must sum afresh.
    private static func migrateToMonitor(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE reservations ADD COLUMN source TEXT;
            ALTER TABLE reservations ADD COLUMN client TEXT;
            ALTER TABLE reservations ADD COLUMN output_so_far INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE reservations ADD COLUMN output_exact INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE reservations ADD COLUMN picos_so_far INTEGER;
            CREATE TABLE provider_status (
                provider TEXT NOT NULL,
                owner_pid INTEGER NOT NULL,
                owner_start TEXT NOT NULL,
                updated_ms INTEGER NOT NULL,
                breaker TEXT NOT NULL,
                consecutive_failures INTEGER NOT NULL,
                blocked_until_ms INTEGER,
                remaining_requests INTEGER,
                remaining_tokens INTEGER,
                limit_requests INTEGER,
                limit_tokens INTEGER,
                PRIMARY KEY (provider, owner_pid, owner_start)
            );
            CREATE TABLE ledger_deletions (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL);
            INSERT INTO ledger_deletions VALUES (1, 0);
            CREATE TRIGGER requests_deleted AFTER DELETE ON requests BEGIN
                UPDATE ledger_deletions SET count = count + 1 WHERE id = 1;
            END;
            """)
    }

    /// Batch jobs (DESIGN.md §13): a job, its parts (one provider batch each, or a live run) and
    /// its requests. A ledger row of a batch result names its job and what it would have cost live.
    private static func migrateToBatches(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE batch_jobs (
                id TEXT PRIMARY KEY,
                name TEXT,
                created_ms INTEGER NOT NULL,
                state TEXT NOT NULL,
                mode TEXT NOT NULL,
                rounds INTEGER NOT NULL,
                max_tokens INTEGER,
                concurrency INTEGER NOT NULL,
                budget_picos INTEGER,
                estimate_picos INTEGER,
                live_estimate_picos INTEGER,
                reservation_id INTEGER,
                personas TEXT NOT NULL,
                model TEXT
            );
            CREATE TABLE batch_parts (
                id TEXT PRIMARY KEY,
                job TEXT NOT NULL REFERENCES batch_jobs(id) ON DELETE CASCADE,
                round INTEGER NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                api TEXT NOT NULL,
                state TEXT NOT NULL,
                file_id TEXT,
                batch_id TEXT,
                output_file_id TEXT,
                error_file_id TEXT,
                results_url TEXT,
                provider_state TEXT,
                provider_done INTEGER NOT NULL DEFAULT 0,
                provider_failed INTEGER NOT NULL DEFAULT 0,
                created_ms INTEGER NOT NULL,
                step_ms INTEGER,
                polled_ms INTEGER,
                next_poll_ms INTEGER,
                error TEXT,
                claim TEXT,
                claim_until_ms INTEGER
            );
            CREATE INDEX batch_parts_job ON batch_parts(job);
            CREATE TABLE batch_requests (
                job TEXT NOT NULL REFERENCES batch_jobs(id) ON DELETE CASCADE,
                custom_id TEXT NOT NULL,
                part TEXT,
                prompt_id TEXT NOT NULL,
                prompt_index INTEGER NOT NULL,
                prompt TEXT NOT NULL,
                persona TEXT NOT NULL,
                persona_name TEXT NOT NULL,
                persona_index INTEGER NOT NULL,
                round INTEGER NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                session TEXT NOT NULL,
                state TEXT NOT NULL,
                body TEXT,
                estimate_picos INTEGER,
                prompt_bound INTEGER NOT NULL,
                output_bound INTEGER,
                input_estimate INTEGER NOT NULL,
                text TEXT,
                error TEXT,
                ledger_id INTEGER,
                input_tokens INTEGER,
                cached_input_tokens INTEGER,
                cache_write_tokens INTEGER,
                output_tokens INTEGER,
                reasoning_tokens INTEGER,
                cost_picos INTEGER,
                estimated INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (job, custom_id)
            );
            CREATE INDEX batch_requests_part ON batch_requests(part, state);
            ALTER TABLE requests ADD COLUMN batch_job TEXT;
            ALTER TABLE requests ADD COLUMN live_cost_picos INTEGER;
            CREATE INDEX requests_batch ON requests(timestamp_ms, cost_picos, live_cost_picos) WHERE batch_job IS NOT NULL;
            """)
    }

    /// Votes (DESIGN.md §13): the user's and the council's, each with its candidates. Ledger rows
    /// and messages name the answer they belong to, so that a candidate's cost is the ledger's.
    private static func migrateToVotes(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE votes (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                key TEXT NOT NULL UNIQUE,
                time_ms INTEGER NOT NULL,
                source TEXT NOT NULL,
                blind INTEGER NOT NULL,
                session TEXT NOT NULL,
                turn INTEGER,
                round INTEGER,
                prompt_hash TEXT,
                reviewer TEXT,
                ranking TEXT NOT NULL
            );
            CREATE INDEX votes_time ON votes(time_ms);
            CREATE TABLE vote_candidates (
                vote INTEGER NOT NULL REFERENCES votes(id) ON DELETE CASCADE,
                label TEXT NOT NULL,
                position INTEGER NOT NULL,
                persona TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                cost_picos INTEGER,
                output_tokens INTEGER,
                answer TEXT,
                PRIMARY KEY (vote, label)
            );
            ALTER TABLE requests ADD COLUMN answer TEXT;
            CREATE INDEX requests_answer ON requests(answer) WHERE answer IS NOT NULL;
            ALTER TABLE messages ADD COLUMN answer TEXT;
            """)
    }

    /// Costs move from rounded micro-dollars to exact picodollars. Rows whose counts or cost
    /// were impossible (negative, past 2⁵³, a request over $100,000) keep no cost: it becomes
    /// unknown, marked estimated, with the reason in `usage_note`. Reservations of requests in
    /// flight get their table.
    private static func migrateToPicodollars(_ db: Database) throws {
        let countColumns = ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens"]
        let impossibleCount = countColumns.map { "\($0) < 0 OR \($0) > \(UsageCheck.countLimit)" }.joined(separator: " OR ")
        let ceilingMicros = Money.requestCeiling / 1_000_000
        try db.execute(sql: """
            ALTER TABLE requests ADD COLUMN cost_picos INTEGER;
            ALTER TABLE requests ADD COLUMN cache_saved_picos INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE requests ADD COLUMN usage_note TEXT;
            ALTER TABLE requests ADD COLUMN reservation_id INTEGER;
            UPDATE requests SET cost_picos = cost_micros * 1000000 WHERE cost_micros BETWEEN 0 AND \(ceilingMicros);
            UPDATE requests SET cost_picos = NULL, estimated = 1,
                usage_note = 'usage not believed when the ledger moved to exact costs: impossible counts or cost; the cost is unknown',
                \(countColumns.map { "\($0) = CASE WHEN \($0) < 0 OR \($0) > \(UsageCheck.countLimit) THEN 0 ELSE \($0) END" }
                    .joined(separator: ", "))
                WHERE \(impossibleCount) OR cost_micros < 0 OR cost_micros > \(ceilingMicros);
            DROP INDEX requests_summary;
            DROP INDEX requests_time;
            DROP INDEX requests_session;
            ALTER TABLE requests DROP COLUMN cost_micros;
            CREATE INDEX requests_summary ON requests(provider, model, timestamp_ms, cost_picos, input_tokens, output_tokens, estimated,
                cache_saved_picos);
            CREATE INDEX requests_day ON requests(timestamp_ms, cost_picos, estimated, input_tokens, output_tokens, cache_saved_picos);
            CREATE INDEX requests_session ON requests(session);
            CREATE UNIQUE INDEX requests_reservation ON requests(reservation_id) WHERE reservation_id IS NOT NULL;

            ALTER TABLE messages ADD COLUMN cost_picos INTEGER;
            UPDATE messages SET cost_picos = cost_micros * 1000000 WHERE cost_micros BETWEEN 0 AND \(ceilingMicros);
            ALTER TABLE messages DROP COLUMN cost_micros;

            CREATE TABLE reservations (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                created_ms INTEGER NOT NULL,
                deadline_ms INTEGER NOT NULL,
                owner_pid INTEGER NOT NULL,
                owner_start TEXT NOT NULL,
                session TEXT NOT NULL,
                persona TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                input_tokens INTEGER NOT NULL,
                max_output_tokens INTEGER NOT NULL,
                amount_picos INTEGER
            );
            CREATE INDEX reservations_session ON reservations(session);
            """)
    }
}

/// The ledger could not be read or written: a full disk, a lock held too long by another
/// process, a damaged file. Persona then sends nothing it could not record (DESIGN.md §5).
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    init(path: String, _ error: any Error) {
        self.path = path
        if let ledger = error as? LedgerError {
            reason = ledger.reason
        } else if let database = error as? DatabaseError {
            switch database.resultCode {
            case .SQLITE_FULL: reason = "the disk is full"
            case .SQLITE_BUSY, .SQLITE_LOCKED: reason = "another process holds it locked, longer than Persona waits"
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: reason = "the file is damaged (\(database.message ?? "not a database")); move it aside to start a new ledger"
            case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN: reason = "it cannot be written (\(database.message ?? "read-only"))"
            case .SQLITE_IOERR: reason = "the disk failed to read or write it (\(database.message ?? "I/O error"))"
            default: reason = database.message ?? "\(database)"
            }
        } else {
            reason = "\(error)"
        }
    }

    public var description: String { "the cost ledger \(path) cannot be used: \(reason)" }
}
