import Foundation
import GRDB

/// A batch result, read from a provider's result file or from a live run, ready to settle.
public struct BatchResult: Sendable, Equatable {
    public var customID: String
    public var state: BatchRequestRecord.State
    public var text: String
    public var error: String?
    /// Counts after checking, and the cost they come to at batch prices (nil when unknown).
    public var usage: Usage
    public var costPicos: Int64?
    public var liveCostPicos: Int64?
    public var estimated: Bool
    public var usageNote: String?

    public init(customID: String, state: BatchRequestRecord.State, text: String = "", error: String? = nil, usage: Usage = Usage(),
                costPicos: Int64? = 0, liveCostPicos: Int64? = nil, estimated: Bool = false, usageNote: String? = nil) {
        self.customID = customID
        self.state = state
        self.text = text
        self.error = error
        self.usage = usage
        self.costPicos = costPicos
        self.liveCostPicos = liveCostPicos
        self.estimated = estimated
        self.usageNote = usageNote
    }
}

/// Batch jobs in `persona.db` (DESIGN.md §13): any process can pick a job up where another left
/// it, and every write that matters is a compare-and-set, so two processes never do one step twice.
public final class BatchStore: Sendable {
    let pool: DatabasePool
    public let ledger: Ledger
    public let database: PersonaDatabase

    public init(database: PersonaDatabase) {
        self.database = database
        pool = database.pool
        ledger = Ledger(database: database)
    }

    /// Takes a request's estimate off its job's reservation.
    private static let shrinkReservationSQL = "UPDATE reservations SET amount_picos = MAX(0, amount_picos - ?) WHERE id = ?"

    private static func ms(_ date: Date?) -> Int64? { date.map(Ledger.milliseconds) }
    private static func date(_ ms: Int64?) -> Date? { ms.map { Date(timeIntervalSince1970: Double($0) / 1000) } }

    // MARK: Creating

    /// Records a job with its parts, requests and sessions, and reserves its estimate, in one
    /// transaction: if the estimate does not fit under `caps` nothing is recorded, and
    /// `BudgetRefusal` is thrown.
    public func create(_ job: BatchJob, parts: [BatchPart], requests: [BatchRequestRecord], sessions: [SessionInfo],
                       claim: ReservationClaim, caps: BudgetCaps) throws -> BatchJob {
        var created = job
        _ = try ledger.reserve(claim, caps: caps, now: job.created, batchJob: job.id) { db, reservation in
            created.reservationID = reservation
            try Self.insert(created, in: db)
            for part in parts { try Self.insert(part, in: db) }
            try Self.insert(requests, in: db)
            for session in sessions { try SessionStore.create(session, in: db) }
            try SessionStore.append(sessions.map { ($0.id, TranscriptMessage.user($0.topic, round: 1)) }, at: job.created, in: db)
            try MessageSearchIndex.indexQueued(in: db)
        }
        return created
    }

    private static func insert(_ job: BatchJob, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO batch_jobs (id, name, created_ms, state, mode, rounds, max_tokens, concurrency, budget_picos, estimate_picos,
                live_estimate_picos, reservation_id, personas, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [job.id, job.name, ms(job.created), job.state.rawValue, job.mode.rawValue, job.rounds, job.maxTokens,
                             job.concurrency, job.budgetPicos, job.estimatePicos, job.liveEstimatePicos, job.reservationID,
                             JSON.array(job.personas.map { .string($0) }).serialized, job.model])
    }

    private static func insert(_ part: BatchPart, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO batch_parts (id, job, round, provider, model, api, state, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [part.id, part.job, part.round, part.provider, part.model, part.api.rawValue, part.state.rawValue,
                             ms(part.created)])
    }

    private static func insert(_ requests: [BatchRequestRecord], in db: Database) throws {
        let statement = try db.makeStatement(sql: """
            INSERT INTO batch_requests (job, custom_id, part, prompt_id, prompt_index, prompt, persona, persona_name, persona_index,
                round, provider, model, session, state, body, estimate_picos, prompt_bound, output_bound, input_estimate, error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for request in requests {
            try statement.execute(arguments: [
                request.job, request.customID, request.part, request.promptID, request.promptIndex, request.prompt, request.persona,
                request.personaName, request.personaIndex, request.round, request.provider, request.model, request.session,
                request.state.rawValue, request.body, request.estimatePicos, request.bounds.prompt, request.bounds.output,
                request.bounds.estimatedInput, request.error,
            ])
        }
    }

    /// Adds a later round: its parts and requests, those that sit it out among them.
    public func addRound(_ parts: [BatchPart], requests: [BatchRequestRecord]) throws {
        try database.guarded {
            try pool.write { db in
                for part in parts { try Self.insert(part, in: db) }
                try Self.insert(requests, in: db)
            }
        }
    }

    // MARK: Reading

    public func job(_ id: String) throws -> BatchJob? {
        try database.guarded { try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM batch_jobs WHERE id = ?", arguments: [id]).map(Self.job) } }
    }

    /// Every job, newest first.
    public func jobs() throws -> [BatchJob] {
        try database.guarded { try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM batch_jobs ORDER BY created_ms DESC, id").map(Self.job) } }
    }

    /// The job a user named: its id, a unique prefix of it, or its name.
    public func find(_ query: String) throws -> BatchJob? {
        try database.guarded {
            try pool.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT * FROM batch_jobs WHERE id = ?1 OR name = ?1 OR id LIKE ?2 ESCAPE '\\' ORDER BY id = ?1 DESC, name = ?1 DESC
                    """, arguments: [query, query.replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"])
                guard let first = rows.first else { return nil }
                let exact = (first["id"] as String) == query || (first["name"] as String?) == query
                return exact || rows.count == 1 ? Self.job(first) : nil
            }
        }
    }

    public func parts(job: String) throws -> [BatchPart] {
        try database.guarded {
            try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM batch_parts WHERE job = ? ORDER BY created_ms, id", arguments: [job]).map(Self.part) }
        }
    }

    public func part(_ id: String) throws -> BatchPart? {
        try database.guarded { try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM batch_parts WHERE id = ?", arguments: [id]).map(Self.part) } }
    }

    /// A job's requests in the order of their prompts, rounds and personas.
    public func requests(job: String) throws -> [BatchRequestRecord] {
        try database.guarded {
            try pool.read { db in
                try Array(Row.fetchCursor(db, sql: "SELECT \(Self.requestColumns(bodies: false)) FROM batch_requests WHERE job = ? "
                                              + "ORDER BY prompt_index, round, persona_index", arguments: [job]).map(Self.request))
            }
        }
    }

    /// A page of a part's requests in custom-id order, after `customID`: the primary key's
    /// order, so a part of any size is read a page at a time.
    public func requests(part: String, job: String, after customID: String, limit: Int) throws -> [BatchRequestRecord] {
        try database.guarded {
            try pool.read { db in
                try Array(Row.fetchCursor(db, sql: """
                    SELECT \(Self.requestColumns(bodies: false)) FROM batch_requests WHERE job = ? AND custom_id > ? AND part = ?
                    ORDER BY custom_id LIMIT ?
                    """, arguments: [job, customID, part, limit]).map(Self.request))
            }
        }
    }

    /// A part's requests; `bodies` only where they are sent, since a large job's bodies fill memory.
    public func requests(part: String, bodies: Bool = false) throws -> [BatchRequestRecord] {
        try database.guarded {
            try pool.read { db in
                try Array(Row.fetchCursor(db, sql: "SELECT \(Self.requestColumns(bodies: bodies)) FROM batch_requests WHERE part = ? "
                                              + "ORDER BY prompt_index, round, persona_index", arguments: [part]).map(Self.request))
            }
        }
    }

    /// A job's requests by state, and its cost so far from the ledger rows of its sessions.
    public func progress(job: String) throws -> BatchProgress {
        var progress = try database.guarded {
            try pool.read { db in
                var progress = BatchProgress()
                for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM batch_requests WHERE job = ? GROUP BY state", arguments: [job]) {
                    guard let state = BatchRequestRecord.State(rawValue: row[0]) else { continue }
                    progress.counts[state] = row[1]
                    progress.total += row[1] as Int
                }
                return progress
            }
        }
        // Every session of the job is named `<job>-q<n>`.
        progress.cost = try ledger.totals(sessionsFrom: job + "-q", before: job + "-r")
        return progress
    }

    // MARK: Steps

    /// Writes `part` if it is still in `expected`: false when another process moved it first.
    @discardableResult
    public func save(_ part: BatchPart, expecting expected: BatchPart.State) throws -> Bool {
        try database.guarded {
            try pool.write { db in
                try db.execute(sql: """
                    UPDATE batch_parts SET state = ?, file_id = ?, batch_id = ?, output_file_id = ?, error_file_id = ?, results_url = ?,
                        provider_state = ?, provider_done = ?, provider_failed = ?, step_ms = ?, polled_ms = ?, next_poll_ms = ?, error = ?
                    WHERE id = ? AND state = ?
                    """, arguments: [part.state.rawValue, part.fileID, part.batchID, part.outputFileID, part.errorFileID, part.resultsURL,
                                     part.providerState, part.providerDone, part.providerFailed, Self.ms(part.stepAt),
                                     Self.ms(part.polledAt), Self.ms(part.nextPollAt), part.error, part.id, expected.rawValue])
                return db.changesCount == 1
            }
        }
    }

    /// Takes a part for `seconds`, so that one process at a time creates, downloads or runs it;
    /// a claim whose holder died, or that ran out, may be taken over.
    public func claim(_ part: String, for seconds: TimeInterval, now: Date = Date()) throws -> Bool {
        let owner = "\(ProcessIdentity.current.pid)/\(ProcessIdentity.current.start)"
        return try database.guarded {
            try pool.write { db in
                let row = try Row.fetchOne(db, sql: "SELECT claim, claim_until_ms FROM batch_parts WHERE id = ?", arguments: [part])
                if let holder = row?["claim"] as String?, holder != owner, let until = row?["claim_until_ms"] as Int64?,
                   until > Ledger.milliseconds(now) {
                    let fields = holder.split(separator: "/", maxSplits: 1).map(String.init)
                    if let pid = Int32(fields[0]), ProcessIdentity.isRunning(pid: pid, start: fields.count > 1 ? fields[1] : "") {
                        return false
                    }
                }
                try db.execute(sql: "UPDATE batch_parts SET claim = ?, claim_until_ms = ? WHERE id = ?",
                               arguments: [owner, Ledger.milliseconds(now.addingTimeInterval(seconds)), part])
                return true
            }
        }
    }

    public func release(_ part: String) throws {
        try database.guarded { try pool.write { db in try db.execute(sql: "UPDATE batch_parts SET claim = NULL, claim_until_ms = NULL WHERE id = ?", arguments: [part]) } }
    }

    /// Marks a request of a live part as running, recorded before it is sent, and takes its
    /// estimate off the job's reservation (the request reserves for itself as it is sent); false
    /// when it is no longer pending (cancelled, or taken by another process).
    public func markRunning(_ request: BatchRequestRecord, of job: BatchJob) async throws -> Bool {
        try await database.guarded {
            try await database.writes.write { db in
                try db.cachedStatement(sql: "UPDATE batch_requests SET state = 'running' WHERE job = ? AND custom_id = ? AND state = 'pending'")
                    .execute(arguments: [job.id, request.customID])
                guard db.changesCount == 1 else { return false }
                if let reservation = job.reservationID, let estimate = request.estimatePicos, estimate > 0 {
                    try db.cachedStatement(sql: Self.shrinkReservationSQL).execute(arguments: [estimate, reservation])
                }
                return true
            }
        }
    }

    /// Sends requests again in new parts (`persona batch retry`), each request pointed at its
    /// part: their estimate is reserved against `caps` first, the job runs again, and nothing is
    /// recorded if it does not fit.
    public func resend(_ assignments: [(customID: String, part: String)], in parts: [BatchPart], job: BatchJob, claim: ReservationClaim,
                       caps: BudgetCaps, now: Date = Date()) throws {
        _ = try ledger.reserve(claim, caps: caps, now: now, batchJob: job.id) { db, reservation in
            // One reservation per job: the new hold joins the job's own while that stands.
            if let current = job.reservationID,
               try Int64.fetchOne(db, sql: "SELECT id FROM reservations WHERE id = ?", arguments: [current]) != nil {
                try db.execute(sql: "UPDATE reservations SET amount_picos = amount_picos + ? WHERE id = ?", arguments: [claim.picos ?? 0, current])
                try db.execute(sql: "DELETE FROM reservations WHERE id = ?", arguments: [reservation])
            } else {
                try db.execute(sql: "UPDATE batch_jobs SET reservation_id = ? WHERE id = ?", arguments: [reservation, job.id])
            }
            try db.execute(sql: "UPDATE batch_jobs SET state = 'running' WHERE id = ?", arguments: [job.id])
            for part in parts { try Self.insert(part, in: db) }
            let statement = try db.makeStatement(sql: """
                UPDATE batch_requests SET part = ?, state = 'pending', text = NULL, error = NULL WHERE job = ? AND custom_id = ?
                """)
            for assignment in assignments { try statement.execute(arguments: [assignment.part, job.id, assignment.customID]) }
        }
    }

    /// Settles results of `part`, each exactly once: the request's state, its ledger row (dated
    /// by the job's submit day, marked `batch` when `batchPriced`), its message in the prompt's
    /// session, and the reservation shrunk by its estimate (unless `request` is running, whose
    /// estimate `markRunning` took off), all in one transaction. A result
    /// whose request was settled already (by another process), or is not in this part, is
    /// skipped. Returns how many were settled. `ledgerRow: false` is for requests never sent.
    @discardableResult
    public func settle(_ results: [(request: BatchRequestRecord, result: BatchResult)], part: BatchPart, job: BatchJob,
                       batchPriced: Bool, ledgerRow: Bool = true) throws -> Int {
        guard !results.isEmpty else { return 0 }
        return try database.guarded {
            try pool.write { db in
                let settled = try Self.settle(results, part: part, job: job, batchPriced: batchPriced, ledgerRow: ledgerRow, in: db)
                try MessageSearchIndex.indexQueued(in: db)
                return settled
            }
        }
    }

    /// Settles a live request's result, whose ledger row the engine wrote, sharing its
    /// transaction with the other requests ending at the same moment (`GroupedWrites`).
    @discardableResult
    public func settleLive(_ request: BatchRequestRecord, result: BatchResult, part: BatchPart, job: BatchJob) async throws -> Int {
        try await database.guarded {
            try await database.writes.write { db in
                try Self.settle([(request, result)], part: part, job: job, batchPriced: false, ledgerRow: false, in: db)
            }
        }
    }

    private static func settle(_ results: [(request: BatchRequestRecord, result: BatchResult)], part: BatchPart, job: BatchJob,
                               batchPriced: Bool, ledgerRow: Bool, in db: Database) throws -> Int {
        var settled = 0
        var released: Int64 = 0
        var messages: [(session: String, message: TranscriptMessage)] = []
        // The state guard makes the claim: only one transaction moves a request out of pending.
        // Its ledger row goes in first, so that the update can name it; a request settled
        // already (by another process) takes its row back out.
        let update = try db.cachedStatement(sql: """
            UPDATE batch_requests SET state = ?, text = ?, error = ?, ledger_id = ?, input_tokens = ?, cached_input_tokens = ?,
                cache_write_tokens = ?, output_tokens = ?, reasoning_tokens = ?, cost_picos = ?, estimated = ?
            WHERE job = ? AND custom_id = ? AND part = ? AND state IN ('pending', 'running')
            """)
        let insert = try db.cachedStatement(sql: Ledger.insertSQL)
        let takeBack = try db.cachedStatement(sql: "DELETE FROM requests WHERE id = ?")
        for (request, result) in results {
            let usage = result.usage
            var ledgerID: Int64?
            if ledgerRow {
                let entry = LedgerEntry(
                    timestamp: job.created, session: request.session, persona: request.persona, provider: request.provider,
                    model: request.model, inputTokens: usage.inputTokens ?? 0, cachedInputTokens: usage.cachedInputTokens ?? 0,
                    cacheWriteTokens: usage.cacheWriteTokens ?? 0, outputTokens: usage.outputTokens ?? 0,
                    reasoningTokens: usage.reasoningTokens ?? 0, costPicos: result.costPicos, estimated: result.estimated,
                    usageNote: result.usageNote, durationMs: 0,
                    status: result.state == .succeeded ? .ok : result.state == .canceled ? .cancelled : .failed,
                    errorKind: result.state == .succeeded ? nil : result.state.rawValue,
                    batchJob: batchPriced ? job.id : nil, liveCostPicos: batchPriced ? result.liveCostPicos : nil)
                try insert.execute(arguments: Ledger.arguments(entry))
                ledgerID = db.lastInsertedRowID
            }
            try update.execute(arguments: [result.state.rawValue, Secrets.redact(result.text), result.error.map(Secrets.redact),
                                           ledgerID, usage.inputTokens, usage.cachedInputTokens, usage.cacheWriteTokens,
                                           usage.outputTokens, usage.reasoningTokens, result.costPicos, result.estimated, job.id,
                                           request.customID, part.id])
            guard db.changesCount == 1 else {
                if let ledgerID { try takeBack.execute(arguments: [ledgerID]) }
                continue
            }
            // A live request's estimate left the reservation when it was marked running.
            if request.state != .running { released = Money.sum(released, request.estimatePicos ?? 0) ?? released }
            let message = TranscriptMessage(
                round: request.round, speaker: request.persona, name: request.personaName, role: .persona, text: result.text,
                status: result.state == .succeeded ? .complete : .failed,
                error: result.state == .succeeded ? nil : result.error ?? result.state.rawValue, provider: request.provider,
                model: request.model, inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0,
                costPicos: result.costPicos, estimated: result.estimated)
            messages.append((request.session, message))
            settled += 1
        }
        try SessionStore.append(messages, at: job.created, in: db)
        if let reservation = job.reservationID, released > 0 {
            try db.cachedStatement(sql: shrinkReservationSQL).execute(arguments: [released, reservation])
        }
        return settled
    }

    /// Ends a job: its reservation is released (its results hold what they cost), and its state set.
    public func finish(_ job: BatchJob, as state: BatchJob.State) throws {
        try database.guarded {
            try pool.write { db in
                if let reservation = job.reservationID {
                    try db.execute(sql: "DELETE FROM reservations WHERE id = ?", arguments: [reservation])
                }
                try db.execute(sql: "UPDATE batch_jobs SET state = ? WHERE id = ? AND state IN ('running', 'cancelling')",
                               arguments: [state.rawValue, job.id])
            }
        }
    }

    public func markCancelling(_ job: String) throws {
        try database.guarded { try pool.write { db in try db.execute(sql: "UPDATE batch_jobs SET state = 'cancelling' WHERE id = ? AND state = 'running'", arguments: [job]) } }
    }

    /// A live request is back to pending after its process died while it ran: it is marked
    /// errored, for `retry`, since nobody knows whether the provider answered it.
    public func abandonRunning(part: String) throws -> Int {
        try database.guarded {
            try pool.write { db in
                try db.execute(sql: """
                    UPDATE batch_requests SET state = 'errored', error = 'the process running it ended before it was recorded'
                    WHERE part = ? AND state = 'running'
                    """, arguments: [part])
                return db.changesCount
            }
        }
    }

    // MARK: Rows

    static func job(_ row: Row) -> BatchJob {
        BatchJob(id: row["id"], name: row["name"], created: date(row["created_ms"])!, state: BatchJob.State(rawValue: row["state"]) ?? .running,
                 mode: ConversationMode(rawValue: row["mode"]) ?? .parallel, rounds: row["rounds"], maxTokens: row["max_tokens"],
                 concurrency: row["concurrency"], budgetPicos: row["budget_picos"], estimatePicos: row["estimate_picos"],
                 liveEstimatePicos: row["live_estimate_picos"], reservationID: row["reservation_id"],
                 personas: ((try? JSON.parse(row["personas"] as String))?.array ?? []).compactMap(\.string), model: row["model"])
    }

    static func part(_ row: Row) -> BatchPart {
        var part = BatchPart(id: row["id"], job: row["job"], round: row["round"], provider: row["provider"], model: row["model"],
                             api: BatchAPI(rawValue: row["api"]) ?? .live, state: BatchPart.State(rawValue: row["state"]) ?? .planned,
                             created: date(row["created_ms"])!)
        part.fileID = row["file_id"]
        part.batchID = row["batch_id"]
        part.outputFileID = row["output_file_id"]
        part.errorFileID = row["error_file_id"]
        part.resultsURL = row["results_url"]
        part.providerState = row["provider_state"]
        part.providerDone = row["provider_done"]
        part.providerFailed = row["provider_failed"]
        part.stepAt = date(row["step_ms"])
        part.polledAt = date(row["polled_ms"])
        part.nextPollAt = date(row["next_poll_ms"])
        part.error = row["error"]
        return part
    }

    /// The columns a request is read from, in the order `request(_:)` reads them by position:
    /// by name, each read would compare names, which dominates reading a large job.
    static func requestColumns(bodies: Bool) -> String {
        """
        job, custom_id, part, prompt_id, prompt_index, prompt, persona, persona_name, persona_index, round, provider, model, session,
        state, \(bodies ? "body" : "NULL"), estimate_picos, prompt_bound, output_bound, input_estimate, text, error, ledger_id,
        input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_picos, estimated
        """
    }

    static func request(_ row: Row) -> BatchRequestRecord {
        var request = BatchRequestRecord(
            job: row[0], customID: row[1], part: row[2], promptID: row[3], promptIndex: row[4], prompt: row[5], persona: row[6],
            personaName: row[7], personaIndex: row[8], round: row[9], provider: row[10], model: row[11], session: row[12],
            state: BatchRequestRecord.State(rawValue: row[13]) ?? .pending, body: row[14], estimatePicos: row[15],
            bounds: UsageCheck.Bounds(prompt: row[16], output: row[17], estimatedInput: row[18]))
        request.text = row[19]
        request.error = row[20]
        request.ledgerID = row[21]
        request.usage = Usage(inputTokens: row[22], cachedInputTokens: row[23], cacheWriteTokens: row[24], outputTokens: row[25],
                              reasoningTokens: row[26])
        request.costPicos = row[27]
        request.estimated = row[28]
        return request
    }
}
