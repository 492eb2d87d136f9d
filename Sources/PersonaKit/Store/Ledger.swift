import Foundation
import GRDB
import Synchronization

/// One request as the ledger keeps it.
public struct LedgerEntry: Sendable, Equatable {
    public enum Status: String, Sendable {
        case ok
        case failed
        case cancelled
        /// Refused by the budget guard; nothing was sent.
        case budget
        /// Its process ended before the request was recorded; priced at its reserved worst case.
        case interrupted
    }

    public var id: Int64?
    public var timestamp: Date
    public var session: String
    public var persona: String
    public var provider: String
    public var model: String
    public var inputTokens: Int
    public var cachedInputTokens: Int
    public var cacheWriteTokens: Int
    public var outputTokens: Int
    public var reasoningTokens: Int
    /// Exact, in picodollars; nil when the model's price is unknown.
    public var costPicos: Int64?
    /// What cache reads saved against the input price, in picodollars.
    public var cacheSavedPicos: Int64
    public var estimated: Bool
    /// Why the provider's usage was not believed, when it was not.
    public var usageNote: String?
    public var timeToFirstTokenMs: Int?
    public var durationMs: Int
    public var status: Status
    public var httpStatus: Int?
    public var errorKind: String?
    /// The batch job whose result this row is, priced at batch prices.
    public var batchJob: String?
    /// What the request would have cost live, for a batch row: the saving is the difference.
    public var liveCostPicos: Int64?
    /// The answer this request was part of (`TurnID.answer`), for a vote's cost.
    public var answer: String?
    /// Through the gateway: the client's key name, and the request's `X-Request-ID`.
    public var client: String?
    public var requestID: String?

    public init(id: Int64? = nil, timestamp: Date, session: String, persona: String, provider: String, model: String,
                inputTokens: Int, cachedInputTokens: Int = 0, cacheWriteTokens: Int = 0, outputTokens: Int,
                reasoningTokens: Int = 0, costPicos: Int64?, cacheSavedPicos: Int64 = 0, estimated: Bool, usageNote: String? = nil,
                timeToFirstTokenMs: Int? = nil, durationMs: Int, status: Status, httpStatus: Int? = nil, errorKind: String? = nil,
                batchJob: String? = nil, liveCostPicos: Int64? = nil, answer: String? = nil, client: String? = nil,
                requestID: String? = nil) {
        self.client = client
        self.requestID = requestID
        self.batchJob = batchJob
        self.answer = answer
        self.liveCostPicos = liveCostPicos
        self.id = id
        self.timestamp = timestamp
        self.session = session
        self.persona = persona
        self.provider = provider
        self.model = model
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
        self.costPicos = costPicos
        self.cacheSavedPicos = cacheSavedPicos
        self.estimated = estimated
        self.usageNote = usageNote
        self.timeToFirstTokenMs = timeToFirstTokenMs
        self.durationMs = durationMs
        self.status = status
        self.httpStatus = httpStatus
        self.errorKind = errorKind
    }
}

/// Totals over a group of ledger rows.
public struct CostTotals: Sendable, Equatable {
    /// The cost of the rows whose price is known, in picodollars.
    public var picos: Int64 = 0
    public var requests = 0
    public var inputTokens = 0
    public var outputTokens = 0
    /// Rows whose price is unknown; their cost is not in `picos`.
    public var unpriced = 0
    /// Rows priced from estimated counts (no usage reported, or none believed); their cost is in `picos`.
    public var estimated = 0
    /// What cache reads saved, in picodollars.
    public var cacheSavedPicos: Int64 = 0

    public init(picos: Int64 = 0, requests: Int = 0, inputTokens: Int = 0, outputTokens: Int = 0, unpriced: Int = 0,
                estimated: Int = 0, cacheSavedPicos: Int64 = 0) {
        self.picos = picos
        self.requests = requests
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.unpriced = unpriced
        self.estimated = estimated
        self.cacheSavedPicos = cacheSavedPicos
    }

    /// Adds `other`; false, leaving these unchanged, when a sum would leave Int64.
    public mutating func add(_ other: CostTotals) -> Bool {
        var sum = self
        var overflow = false
        func add<T: FixedWidthInteger>(_ value: inout T, _ more: T) {
            let (result, over) = value.addingReportingOverflow(more)
            value = result
            overflow = overflow || over
        }
        add(&sum.picos, other.picos)
        add(&sum.cacheSavedPicos, other.cacheSavedPicos)
        add(&sum.requests, other.requests)
        add(&sum.inputTokens, other.inputTokens)
        add(&sum.outputTokens, other.outputTokens)
        add(&sum.unpriced, other.unpriced)
        add(&sum.estimated, other.estimated)
        if !overflow { self = sum }
        return !overflow
    }
}

/// The cost ledger: one SQLite row per request in `persona.db`. Requests in flight hold a
/// reservation there (see `Ledger+Reservations`), and a row replaces it in the same transaction
/// when the request ends, so that a crash loses nothing already recorded and every process
/// sharing the home sees every other's spending.
public final class Ledger: Sendable {
    public let database: PersonaDatabase
    var pool: DatabasePool { database.pool }
    /// When a reservation last released those of processes that are gone.
    let lastReclaim = Mutex<Date?>(nil)
    public var path: String { database.path }

    public convenience init(path: String) throws {
        try self.init(database: PersonaDatabase(path: path))
    }

    /// This process's requests in flight and providers' health, published for `persona monitor`.
    public let live: LiveProgress

    public init(database: PersonaDatabase) {
        self.database = database
        live = LiveProgress(database: database)
    }

    static let insertSQL = """
        INSERT INTO requests (timestamp_ms, session, persona, provider, model, input_tokens, cached_input_tokens,
            cache_write_tokens, output_tokens, reasoning_tokens, cost_picos, cache_saved_picos, estimated, usage_note, ttft_ms,
            duration_ms, status, http_status, error_kind, reservation_id, batch_job, live_cost_picos, answer, client, request_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func arguments(_ entry: LedgerEntry, reservation: Int64? = nil) -> StatementArguments {
        [milliseconds(entry.timestamp), entry.session, entry.persona, entry.provider, entry.model,
         entry.inputTokens, entry.cachedInputTokens, entry.cacheWriteTokens, entry.outputTokens, entry.reasoningTokens,
         entry.costPicos, entry.cacheSavedPicos, entry.estimated, entry.usageNote, entry.timeToFirstTokenMs, entry.durationMs,
         entry.status.rawValue, entry.httpStatus, entry.errorKind, reservation, entry.batchJob, entry.liveCostPicos, entry.answer, entry.client,
         entry.requestID]
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// Records one request in its own transaction, and returns its id.
    @discardableResult
    public func record(_ entry: LedgerEntry) throws -> Int64 {
        try database.guarded {
            try pool.write { db in
                try db.execute(sql: Self.insertSQL, arguments: Self.arguments(entry))
                return db.lastInsertedRowID
            }
        }
    }

    /// Records many requests in one transaction.
    public func record(batch: [LedgerEntry]) throws {
        try database.guarded {
            try pool.write { db in
                let statement = try db.makeStatement(sql: Self.insertSQL)
                for entry in batch { try statement.execute(arguments: Self.arguments(entry)) }
            }
        }
    }

    // MARK: Reports

    /// A half-open time range; nil ends are open.
    public struct Period: Sendable, Equatable {
        public var start: Date?
        public var end: Date?

        public init(start: Date? = nil, end: Date? = nil) {
            self.start = start
            self.end = end
        }

        /// The local calendar day that holds `date`, as the daily budget and `costs daily` count it.
        public static func day(of date: Date = Date(), calendar: Calendar = .current) -> Period {
            let start = calendar.startOfDay(for: date)
            return Period(start: start, end: calendar.date(byAdding: .day, value: 1, to: start))
        }

        var sql: (String, StatementArguments) {
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let start {
                clauses.append("timestamp_ms >= ?")
                arguments += [Ledger.milliseconds(start)]
            }
            if let end {
                clauses.append("timestamp_ms < ?")
                arguments += [Ledger.milliseconds(end)]
            }
            return (clauses.isEmpty ? "1" : clauses.joined(separator: " AND "), arguments)
        }
    }

    /// The sums every total is made of. SQLite sums integers exactly and fails, rather than wraps,
    /// past Int64, so a sum is right or an error; costs are never negative, and rows are capped at
    /// `Money.requestCeiling`, so only a ledger of over $9 million fails.
    static let totalsColumns = """
        COALESCE(SUM(cost_picos), 0), COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
        COUNT(*) - COUNT(cost_picos), COALESCE(SUM(estimated), 0), COALESCE(SUM(cache_saved_picos), 0)
        """

    static func totals(_ row: Row, offset: Int = 0) -> CostTotals {
        CostTotals(picos: row[offset], requests: row[offset + 1], inputTokens: row[offset + 2], outputTokens: row[offset + 3],
                   unpriced: row[offset + 4], estimated: row[offset + 5], cacheSavedPicos: row[offset + 6])
    }

    /// The one query behind every total a view shows: the header, F3, the sessions list, the
    /// summaries of `ask` and `debate`, and `persona costs`.
    public func totals(in period: Period = Period(), session: String? = nil) throws -> CostTotals {
        var (condition, arguments) = period.sql
        if let session {
            condition += " AND session = ?"
            arguments += [session]
        }
        let sql = "SELECT \(Self.totalsColumns) FROM requests WHERE \(condition)"
        return try database.guarded {
            try pool.read { db in try Row.fetchOne(db, sql: sql, arguments: arguments) }.map { Self.totals($0) } ?? CostTotals()
        }
    }

    /// Totals of the sessions whose ids sort in `[first, end)`: a batch job's, whose sessions
    /// share its id as a prefix.
    public func totals(sessionsFrom first: String, before end: String) throws -> CostTotals {
        let sql = "SELECT \(Self.totalsColumns) FROM requests WHERE session >= ? AND session < ?"
        return try database.guarded {
            try pool.read { db in try Row.fetchOne(db, sql: sql, arguments: [first, end]) }.map { Self.totals($0) } ?? CostTotals()
        }
    }

    /// Totals of each of `sessions` (those with no rows are left out).
    public func totals(sessions: [String]) throws -> [String: CostTotals] {
        guard !sessions.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: sessions.count).joined(separator: ", ")
        let sql = "SELECT session, \(Self.totalsColumns) FROM requests WHERE session IN (\(marks)) GROUP BY session"
        return try database.guarded {
            var result: [String: CostTotals] = [:]
            for row in try pool.read({ db in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(sessions)) }) {
                result[row[0]] = Self.totals(row, offset: 1)
            }
            return result
        }
    }

    /// A session's totals per persona (the moderator's and the judge's included), largest cost
    /// first: the session's total, split by who spent it.
    public func totalsByPersona(session: String) throws -> [(persona: String, totals: CostTotals)] {
        let sql = "SELECT persona, \(Self.totalsColumns) FROM requests WHERE session = ? GROUP BY persona ORDER BY 2 DESC, 1"
        return try database.guarded {
            try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: [session]) }.map { row in
                (persona: row[0] as String, totals: Self.totals(row, offset: 1))
            }
        }
    }

    /// Totals grouped by `provider` or by `provider:model`, largest cost first.
    public func breakdown(byModel: Bool, in period: Period = Period()) throws -> [(key: String, totals: CostTotals)] {
        let summary = try summary(in: period)
        return byModel ? summary.byModel : summary.byProvider
    }

    /// Totals per `provider:model`, and from them per provider and overall, in one scan.
    public func summary(in period: Period = Period()) throws
        -> (totals: CostTotals, byProvider: [(key: String, totals: CostTotals)], byModel: [(key: String, totals: CostTotals)])
    {
        let (condition, arguments) = period.sql
        return try database.guarded {
            let models = try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT provider, model, \(Self.totalsColumns) FROM requests WHERE \(condition) GROUP BY provider, model",
                                 arguments: arguments)
            }.map { row in (provider: row[0] as String, model: row[1] as String, totals: Self.totals(row, offset: 2)) }
            var overall = CostTotals()
            var providers: [String: CostTotals] = [:]
            var byModel: [(key: String, totals: CostTotals)] = []
            for (provider, model, totals) in models {
                byModel.append(("\(provider):\(model)", totals))
                guard providers[provider, default: CostTotals()].add(totals), overall.add(totals) else {
                    throw LedgerError(path: path, reason: "its costs add up to more than Persona can keep exactly")
                }
            }
            func ranked(_ list: [(key: String, totals: CostTotals)]) -> [(key: String, totals: CostTotals)] {
                list.sorted { ($0.totals.picos, $1.key) > ($1.totals.picos, $0.key) }
            }
            return (overall, ranked(providers.map { ($0.key, $0.value) }), ranked(byModel))
        }
    }

    /// Each of the last `days` local days: its cost, whether some of it was priced from estimated
    /// counts, and whether a row of it has no price.
    public func daily(days: Int, now: Date = Date(), calendar: Calendar = .current) throws
        -> [(day: String, totals: CostTotals)]
    {
        let count = max(1, days)
        let today = calendar.startOfDay(for: now)
        guard let first = calendar.date(byAdding: .day, value: -(count - 1), to: today) else { return [] }
        let starts = (0...count).compactMap { calendar.date(byAdding: .day, value: $0, to: first) }
        let formatter = DateFormatter()
        formatter.calendar = calendar
        formatter.timeZone = calendar.timeZone
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        return try zip(starts, starts.dropFirst()).map { start, end in
            (formatter.string(from: start), try totals(in: Period(start: start, end: end)))
        }
    }

    /// The latest rows, newest first.
    public func entries(limit: Int, in period: Period = Period()) throws -> [LedgerEntry] {
        let (condition, arguments) = period.sql
        return try database.guarded {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM requests WHERE \(condition) ORDER BY id DESC LIMIT ?",
                                 arguments: arguments + [limit]).map(Self.entry)
            }
        }
    }

    /// Models in the ledger with requests of unknown price, most requests first.
    public func unpricedModels() throws -> [(model: ModelRef, requests: Int)] {
        try database.guarded {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT provider, model, COUNT(*) FROM requests WHERE cost_picos IS NULL AND status != 'budget'
                    GROUP BY provider, model ORDER BY 3 DESC, 1, 2
                    """).map { row in (ModelRef(provider: row[0], model: row[1]), row[2]) }
            }
        }
    }

    static func entry(_ row: Row) -> LedgerEntry {
        LedgerEntry(id: row["id"], timestamp: Date(timeIntervalSince1970: Double(row["timestamp_ms"] as Int64) / 1000),
                    session: row["session"], persona: row["persona"], provider: row["provider"], model: row["model"],
                    inputTokens: row["input_tokens"], cachedInputTokens: row["cached_input_tokens"],
                    cacheWriteTokens: row["cache_write_tokens"], outputTokens: row["output_tokens"],
                    reasoningTokens: row["reasoning_tokens"], costPicos: row["cost_picos"], cacheSavedPicos: row["cache_saved_picos"],
                    estimated: row["estimated"], usageNote: row["usage_note"], timeToFirstTokenMs: row["ttft_ms"],
                    durationMs: row["duration_ms"], status: LedgerEntry.Status(rawValue: row["status"]) ?? .failed,
                    httpStatus: row["http_status"], errorKind: row["error_kind"], batchJob: row["batch_job"],
                    liveCostPicos: row["live_cost_picos"], answer: row["answer"], client: row["client"], requestID: row["request_id"])
    }

    /// Spend at batch prices in `period`, and what the same results would have cost live.
    public struct BatchTotals: Sendable, Equatable {
        public var picos: Int64 = 0
        public var livePicos: Int64 = 0
        public var requests = 0

        public init(picos: Int64 = 0, livePicos: Int64 = 0, requests: Int = 0) {
            self.picos = picos
            self.livePicos = livePicos
            self.requests = requests
        }

        /// What batch prices saved against live ones.
        public var savedPicos: Int64 { max(0, livePicos - picos) }
    }

    public func batchTotals(in period: Period = Period()) throws -> BatchTotals {
        let (condition, arguments) = period.sql
        return try database.guarded {
            try pool.read { db in
                try Row.fetchOne(db, sql: """
                    SELECT COALESCE(SUM(cost_picos), 0), COALESCE(SUM(COALESCE(live_cost_picos, cost_picos)), 0), COUNT(*)
                    FROM requests WHERE batch_job IS NOT NULL AND \(condition)
                    """, arguments: arguments)
            }.map { BatchTotals(picos: $0[0], livePicos: $0[1], requests: $0[2]) } ?? BatchTotals()
        }
    }
}
