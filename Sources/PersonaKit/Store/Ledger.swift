import Foundation
import GRDB

/// One request as the ledger keeps it.
public struct LedgerEntry: Sendable, Equatable {
    public enum Status: String, Sendable {
        case ok
        case failed
        case cancelled
        /// Refused by the budget guard; nothing was sent.
        case budget
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
    /// Nil when the model's price is unknown.
    public var costMicros: Int64?
    public var estimated: Bool
    public var timeToFirstTokenMs: Int?
    public var durationMs: Int
    public var status: Status
    public var httpStatus: Int?
    public var errorKind: String?

    public init(id: Int64? = nil, timestamp: Date, session: String, persona: String, provider: String, model: String,
                inputTokens: Int, cachedInputTokens: Int = 0, cacheWriteTokens: Int = 0, outputTokens: Int,
                reasoningTokens: Int = 0, costMicros: Int64?, estimated: Bool, timeToFirstTokenMs: Int? = nil,
                durationMs: Int, status: Status, httpStatus: Int? = nil, errorKind: String? = nil) {
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
        self.costMicros = costMicros
        self.estimated = estimated
        self.timeToFirstTokenMs = timeToFirstTokenMs
        self.durationMs = durationMs
        self.status = status
        self.httpStatus = httpStatus
        self.errorKind = errorKind
    }
}

/// Totals over a group of ledger rows.
public struct CostTotals: Sendable, Equatable {
    /// The cost of the rows whose price is known, in micro-dollars.
    public var micros: Int64 = 0
    public var requests = 0
    public var inputTokens = 0
    public var outputTokens = 0
    /// Rows whose price is unknown; their cost is not in `micros`.
    public var unpriced = 0
    /// Rows priced from estimated counts (the provider reported no usage); their cost is in `micros`.
    public var estimated = 0

    public init(micros: Int64 = 0, requests: Int = 0, inputTokens: Int = 0, outputTokens: Int = 0, unpriced: Int = 0,
                estimated: Int = 0) {
        self.micros = micros
        self.requests = requests
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.unpriced = unpriced
        self.estimated = estimated
    }

    mutating func add(_ other: CostTotals) {
        micros += other.micros
        requests += other.requests
        inputTokens += other.inputTokens
        outputTokens += other.outputTokens
        unpriced += other.unpriced
        estimated += other.estimated
    }
}

/// The cost ledger: one SQLite row per request in `persona.db`, in WAL mode, each written in its
/// own transaction so that a crash loses nothing already recorded.
public final class Ledger: Sendable {
    private let pool: DatabasePool

    public convenience init(path: String) throws {
        try self.init(database: PersonaDatabase(path: path))
    }

    public init(database: PersonaDatabase) {
        pool = database.pool
    }

    private static let insertSQL = """
        INSERT INTO requests (timestamp_ms, session, persona, provider, model, input_tokens, cached_input_tokens,
            cache_write_tokens, output_tokens, reasoning_tokens, cost_micros, estimated, ttft_ms, duration_ms, status,
            http_status, error_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    private static func arguments(_ entry: LedgerEntry) -> StatementArguments {
        [Int64((entry.timestamp.timeIntervalSince1970 * 1000).rounded()), entry.session, entry.persona, entry.provider, entry.model,
         entry.inputTokens, entry.cachedInputTokens, entry.cacheWriteTokens, entry.outputTokens, entry.reasoningTokens,
         entry.costMicros, entry.estimated, entry.timeToFirstTokenMs, entry.durationMs, entry.status.rawValue, entry.httpStatus,
         entry.errorKind]
    }

    /// Records one request in its own transaction, and returns its id.
    @discardableResult
    public func record(_ entry: LedgerEntry) throws -> Int64 {
        try pool.write { db in
            try db.execute(sql: Self.insertSQL, arguments: Self.arguments(entry))
            return db.lastInsertedRowID
        }
    }

    /// Records many requests in one transaction.
    public func record(batch: [LedgerEntry]) throws {
        try pool.write { db in
            let statement = try db.makeStatement(sql: Self.insertSQL)
            for entry in batch { try statement.execute(arguments: Self.arguments(entry)) }
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

        var sql: (String, StatementArguments) {
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let start {
                clauses.append("timestamp_ms >= ?")
                arguments += [Int64((start.timeIntervalSince1970 * 1000).rounded())]
            }
            if let end {
                clauses.append("timestamp_ms < ?")
                arguments += [Int64((end.timeIntervalSince1970 * 1000).rounded())]
            }
            return (clauses.isEmpty ? "1" : clauses.joined(separator: " AND "), arguments)
        }
    }

    private static let totalsColumns = """
        COALESCE(SUM(cost_micros), 0), COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
        COALESCE(SUM(cost_micros IS NULL), 0), COALESCE(SUM(estimated), 0)
        """

    private static func totals(_ row: Row, offset: Int = 0) -> CostTotals {
        CostTotals(micros: row[offset], requests: row[offset + 1], inputTokens: row[offset + 2], outputTokens: row[offset + 3],
                   unpriced: row[offset + 4], estimated: row[offset + 5])
    }

    public func totals(in period: Period = Period(), session: String? = nil) throws -> CostTotals {
        var (condition, arguments) = period.sql
        if let session {
            condition += " AND session = ?"
            arguments += [session]
        }
        let sql = "SELECT \(Self.totalsColumns) FROM requests WHERE \(condition)"
        return try pool.read { db in
            try Row.fetchOne(db, sql: sql, arguments: arguments).map { Self.totals($0) } ?? CostTotals()
        }
    }

    /// Totals grouped by `provider` or by `provider:model`, largest cost first.
    public func breakdown(byModel: Bool, in period: Period = Period()) throws -> [(key: String, totals: CostTotals)] {
        let (condition, arguments) = period.sql
        let key = byModel ? "provider || ':' || model" : "provider"
        let sql = "SELECT \(key), \(Self.totalsColumns) FROM requests WHERE \(condition) GROUP BY 1 ORDER BY 2 DESC, 1"
        return try pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in (row[0] as String, Self.totals(row, offset: 1)) }
        }
    }

    /// Totals per `provider:model`, and from them per provider and overall, in one scan.
    public func summary(in period: Period = Period()) throws
        -> (totals: CostTotals, byProvider: [(key: String, totals: CostTotals)], byModel: [(key: String, totals: CostTotals)])
    {
        let (condition, arguments) = period.sql
        let sql = "SELECT provider, model, \(Self.totalsColumns) FROM requests WHERE \(condition) GROUP BY provider, model"
        let rows = try pool.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
        var overall = CostTotals()
        var providers: [String: CostTotals] = [:]
        var models: [(key: String, totals: CostTotals)] = []
        for row in rows {
            let totals = Self.totals(row, offset: 2)
            let provider: String = row[0]
            models.append(("\(provider):\(row[1] as String)", totals))
            providers[provider, default: CostTotals()].add(totals)
            overall.add(totals)
        }
        func ranked(_ list: [(key: String, totals: CostTotals)]) -> [(key: String, totals: CostTotals)] {
            list.sorted { ($0.totals.micros, $1.key) > ($1.totals.micros, $0.key) }
        }
        return (overall, ranked(providers.map { ($0.key, $0.value) }), ranked(models))
    }

    /// Cost per local calendar day, for every day of the period (days without requests are zero).
    /// Each of the last `days` days' cost, and whether some of it was priced from estimated counts.
    public func daily(days: Int, now: Date = Date(), calendar: Calendar = .current) throws
        -> [(day: String, micros: Int64, estimated: Bool)]
    {
        let today = calendar.startOfDay(for: now)
        guard let first = calendar.date(byAdding: .day, value: -(max(1, days) - 1), to: today) else { return [] }
        let (condition, arguments) = Period(start: first).sql
        let rows = try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT timestamp_ms, cost_micros, estimated FROM requests WHERE \(condition) AND cost_micros IS NOT NULL
                """, arguments: arguments)
        }
        let formatter = DateFormatter()
        formatter.calendar = calendar
        formatter.timeZone = calendar.timeZone
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        var sums: [String: Int64] = [:]
        var estimatedDays: Set<String> = []
        for row in rows {
            let day = formatter.string(from: Date(timeIntervalSince1970: Double(row[0] as Int64) / 1000))
            sums[day, default: 0] += row[1] as Int64
            if row[2] as Bool { estimatedDays.insert(day) }
        }
        return (0..<max(1, days)).compactMap { offset in
            calendar.date(byAdding: .day, value: offset, to: first).map { formatter.string(from: $0) }
        }.map { ($0, sums[$0] ?? 0, estimatedDays.contains($0)) }
    }

    /// The latest rows, newest first.
    public func entries(limit: Int, in period: Period = Period()) throws -> [LedgerEntry] {
        let (condition, arguments) = period.sql
        return try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM requests WHERE \(condition) ORDER BY id DESC LIMIT ?",
                             arguments: arguments + [limit]).map(Self.entry)
        }
    }

    private static func entry(_ row: Row) -> LedgerEntry {
        LedgerEntry(id: row["id"], timestamp: Date(timeIntervalSince1970: Double(row["timestamp_ms"] as Int64) / 1000),
                    session: row["session"], persona: row["persona"], provider: row["provider"], model: row["model"],
                    inputTokens: row["input_tokens"], cachedInputTokens: row["cached_input_tokens"],
                    cacheWriteTokens: row["cache_write_tokens"], outputTokens: row["output_tokens"],
                    reasoningTokens: row["reasoning_tokens"], costMicros: row["cost_micros"], estimated: row["estimated"],
                    timeToFirstTokenMs: row["ttft_ms"], durationMs: row["duration_ms"],
                    status: LedgerEntry.Status(rawValue: row["status"]) ?? .failed, httpStatus: row["http_status"],
                    errorKind: row["error_kind"])
    }
}
