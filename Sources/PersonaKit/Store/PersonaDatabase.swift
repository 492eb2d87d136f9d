import Foundation
import GRDB

/// `persona.db`: the cost ledger and the saved sessions, in one SQLite file in WAL mode.
///
/// One migrator owns the whole schema, so the ledger and the session store never disagree about
/// which migrations have run.
public final class PersonaDatabase: Sendable {
    let pool: DatabasePool

    public init(path: String) throws {
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
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
            // Covers the summary's GROUP BY, so reports read a narrow, ordered index, not whole rows.
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
            // The summaries count estimated rows too; the index still covers everything they read.
            try db.execute(sql: """
                DROP INDEX requests_summary;
                CREATE INDEX requests_summary ON requests(provider, model, timestamp_ms, cost_micros, input_tokens, output_tokens, estimated)
                """)
        }
        return migrator
    }
}
