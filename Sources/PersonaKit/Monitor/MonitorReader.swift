import Foundation
import GRDB

/// The monitor's reads of `persona.db`, one read transaction a snapshot. A read in WAL mode
/// takes no lock that a writer waits for, so watching never slows the processes that spend.
///
/// Four times a second over a busy day's ledger, summing every row of the day again would cost
/// a quarter of a core. The day's sums are kept instead, and each snapshot adds the rows written
/// since the last: the same sums as `Ledger.totals` (`Ledger.totalsColumns`), over the new rows
/// alone. Rows are only ever added, but for the rare row a late settle replaces; the ledger
/// counts such deletions, and one means summing the day afresh, as a new day does.
public final class MonitorReader {
    public let ledger: Ledger
    private var day: LedgerTally?
    private var batchProgress: (read: Date, jobs: [String: BatchProgress])?

    /// How many top spenders each table keeps.
    public static let spenderCount = 20
    /// The window of the time-to-first-token percentiles.
    public static let latencyWindow: TimeInterval = 15 * 60
    /// How long batch jobs' progress is reused: summing a large job's results takes a scan of them.
    static let batchProgressSeconds: TimeInterval = 2

    public init(ledger: Ledger) {
        self.ledger = ledger
    }

    public func snapshot(budgets: MonitorBudgets, now: Date = Date(), calendar: Calendar = .current) throws -> MonitorSnapshot {
        let period = Ledger.Period.day(of: now, calendar: calendar)
        let refreshBatches = batchProgress.map { now.timeIntervalSince($0.read) >= Self.batchProgressSeconds || now < $0.read } ?? true
        let previous = day
        let keptJobs = batchProgress?.jobs ?? [:]
        let (snapshot, tally, jobs) = try ledger.database.guarded {
            try ledger.pool.read { db -> (MonitorSnapshot, LedgerTally, [String: BatchProgress]?) in
                let tally = try LedgerTally.updated(previous, period: period, now: now, db)
                let jobs = refreshBatches ? try Self.batchProgress(db) : nil
                let held = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(amount_picos), 0) FROM reservations") ?? 0
                var spenders: [SpenderKind: [Spender]] = [:]
                for kind in SpenderKind.allCases {
                    spenders[kind] = (tally.spenders[kind] ?? [:]).map { Spender(key: $0.key, totals: $0.value) }
                        .sorted { ($0.totals.picos, $1.key) > ($1.totals.picos, $0.key) }.prefix(Self.spenderCount).map { $0 }
                }
                let clientSpend = (tally.spenders[.client] ?? [:]).mapValues(\.picos)
                var owners = Owners()
                let snapshot = MonitorSnapshot(
                    taken: now, today: tally.totals, heldPicos: held,
                    lastMinute: tally.recentTotals(since: now.addingTimeInterval(-60), until: now),
                    lastHour: tally.recentTotals(since: now.addingTimeInterval(-3600), until: now), perMinute: tally.perMinute(until: now),
                    inFlight: try Self.inFlight(db, jobs: jobs ?? keptJobs, owners: &owners),
                    providers: try Self.providers(db, tally: tally, now: now, owners: &owners),
                    spenders: spenders,
                    warnings: Self.warnings(budgets, today: Money.sum(tally.totals.picos, held) ?? .max, clients: clientSpend),
                    budgets: budgets)
                return (snapshot, tally, jobs)
            }
        }
        day = tally
        if let jobs { batchProgress = (now, jobs) }
        return snapshot
    }

    struct BatchProgress {
        var name: String
        var outputTokens: Int
        var picos: Int64
    }

    /// Each batch job that holds a reservation: its name, and its results so far.
    private static func batchProgress(_ db: Database) throws -> [String: BatchProgress] {
        Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
            SELECT j.id, COALESCE(j.name, j.id), COALESCE(SUM(r.output_tokens), 0), COALESCE(SUM(r.cost_picos), 0)
            FROM batch_jobs j JOIN reservations v ON v.owner_start = 'batch:' || j.id LEFT JOIN batch_requests r ON r.job = j.id
            GROUP BY j.id
            """).map { row in (row[0] as String, BatchProgress(name: row[1], outputTokens: row[2], picos: row[3])) })
    }

    /// Which processes still run, each asked of `/proc` once a snapshot: reservations and
    /// published provider health name the same few.
    struct Owners {
        private var known: [String: Bool] = [:]

        mutating func areRunning(_ pid: Int32, _ start: String) -> Bool {
            let key = "\(pid)/\(start)"
            if let alive = known[key] { return alive }
            let alive = ProcessIdentity.isRunning(pid: pid, start: start)
            known[key] = alive
            return alive
        }
    }

    private static func inFlight(_ db: Database, jobs: [String: BatchProgress], owners: inout Owners) throws -> [InFlightRequest] {
        try Row.fetchAll(db, sql: "SELECT * FROM reservations ORDER BY created_ms, id").map { row in
            let owner: String = row["owner_start"]
            let job = owner.hasPrefix("batch:") ? String(owner.dropFirst(6)) : nil
            let progress = job.flatMap { jobs[$0] }
            return InFlightRequest(
                reservation: row["id"], source: row["source"], client: job.map { progress?.name ?? $0 } ?? row["client"],
                session: row["session"], persona: row["persona"], provider: row["provider"], model: row["model"],
                started: Date(timeIntervalSince1970: Double(row["created_ms"] as Int64) / 1000),
                outputTokens: progress?.outputTokens ?? row["output_so_far"], outputExact: job != nil || row["output_exact"] as Bool,
                picosSoFar: job == nil ? row["picos_so_far"] as Int64? : progress?.picos ?? 0, reservedPicos: row["amount_picos"],
                stale: job == nil && !owners.areRunning(row["owner_pid"], owner), batchJob: job)
        }
    }

    /// Today's figures per provider from the tally, time to first token over the last 15
    /// minutes, and the health that live processes published.
    private static func providers(_ db: Database, tally: LedgerTally, now: Date, owners: inout Owners) throws -> [ProviderActivity] {
        var providers = tally.providers
        let since = Ledger.milliseconds(now.addingTimeInterval(-latencyWindow))
        var latencies: [String: [Int]] = [:]
        for row in tally.recent where row.timestampMs >= since && row.answered { latencies[row.provider, default: []].append(row.ttftMs!) }
        for (name, values) in latencies {
            let sorted = values.sorted()
            func percentile(_ p: Double) -> Int { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            providers[name, default: ProviderActivity(provider: name, today: CostTotals(), failed: 0, attempted: 0)].ttftP50 = percentile(0.5)
            providers[name]?.ttftP95 = percentile(0.95)
        }
        let severity = ["closed": 0, "half-open": 1, "open": 2]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM provider_status WHERE updated_ms >= ?",
                                    arguments: [Ledger.milliseconds(now.addingTimeInterval(-86400))])
        where owners.areRunning(row["owner_pid"], row["owner_start"]) {
            let name: String = row["provider"]
            var activity = providers[name] ?? ProviderActivity(provider: name, today: CostTotals(), failed: 0, attempted: 0)
            let breaker: String = row["breaker"]
            if severity[breaker, default: 0] >= severity[activity.breaker ?? "closed", default: 0] { activity.breaker = breaker }
            func smaller(_ a: Int?, _ b: Int?) -> Int? { [a, b].compactMap { $0 }.min() }
            func larger(_ a: Int?, _ b: Int?) -> Int? { [a, b].compactMap { $0 }.max() }
            activity.remainingRequests = smaller(activity.remainingRequests, row["remaining_requests"])
            activity.remainingTokens = smaller(activity.remainingTokens, row["remaining_tokens"])
            activity.limitRequests = larger(activity.limitRequests, row["limit_requests"])
            activity.limitTokens = larger(activity.limitTokens, row["limit_tokens"])
            if let blocked = row["blocked_until_ms"] as Int64?, blocked > Ledger.milliseconds(now) {
                let until = Date(timeIntervalSince1970: Double(blocked) / 1000)
                activity.blockedUntil = max(activity.blockedUntil ?? until, until)
            }
            providers[name] = activity
        }
        return providers.values.sorted { ($0.today.picos, $1.provider) > ($1.today.picos, $0.provider) }
    }

    /// The daily cap against the ledger and the reservations, as the budget guard counts it,
    /// and each gateway client's cap against its rows.
    static func warnings(_ budgets: MonitorBudgets, today: Int64, clients: [String: Int64]) -> [BudgetWarning] {
        func warning(_ name: String, spent: Int64, cap: Int64) -> BudgetWarning? {
            // Exactly, in 128 bits: spent / cap ≥ permille / 1000.
            let past = spent.multipliedFullWidth(by: 1000) >= cap.multipliedFullWidth(by: Int64(budgets.warnAtPermille))
            guard spent >= cap || past else { return nil }
            return BudgetWarning(budget: name, spentPicos: spent, capPicos: cap, exhausted: spent >= cap)
        }
        var warnings = [budgets.daily.flatMap { warning("the daily budget", spent: today, cap: $0) }].compactMap { $0 }
        for (client, cap) in budgets.clients.sorted(by: { $0.key < $1.key }) {
            if let found = warning("client \(client)'s daily budget", spent: clients[client] ?? 0, cap: cap) { warnings.append(found) }
        }
        return warnings
    }
}

/// The ledger as the monitor keeps it between snapshots, up to date with the rows written
/// since: the day's sums (in all, per provider with its failures, and per session, persona,
/// model and client), and the rows of the last hour one by one, for the last minute's and
/// hour's sums, the sparkline and the latencies.
struct LedgerTally {
    var period: Ledger.Period
    /// The last row taken in, and the ledger's count of deletions when the sums began.
    var lastID: Int64
    var deletions: Int64
    var totals = CostTotals()
    var providers: [String: ProviderActivity] = [:]
    var spenders: [SpenderKind: [String: CostTotals]] = [:]
    var recent: [RecentRow] = []
    /// The time from which `recent` holds every row; a clock set back needs older ones.
    var recentFrom: Int64 = 0

    struct RecentRow {
        var timestampMs: Int64
        var provider: String
        var totals: CostTotals
        /// Time to first token of an answer that succeeded.
        var ttftMs: Int?
        var answered: Bool { ttftMs != nil }
    }

    static let recentSeconds: TimeInterval = 3600

    /// `previous` with the rows written since, or all summed afresh when it is another day, a
    /// row has been deleted since, or the clock went back.
    static func updated(_ previous: LedgerTally?, period: Ledger.Period, now: Date, _ db: Database) throws -> LedgerTally {
        let deletions = try Int64.fetchOne(db, sql: "SELECT count FROM ledger_deletions") ?? 0
        let last = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM requests") ?? 0
        let recentStart = Ledger.milliseconds(now.addingTimeInterval(-recentSeconds))
        guard var tally = previous, tally.period == period, tally.deletions == deletions, last >= tally.lastID,
              recentStart >= tally.recentFrom else {
            var fresh = LedgerTally(period: period, lastID: last, deletions: deletions, recentFrom: recentStart)
            try fresh.sumTheDay(db, through: last)
            fresh.recent = try rows(db, "id <= ? AND timestamp_ms >= ?", [last, recentStart]).map(\.recent)
            return fresh
        }
        tally.recent.removeAll { $0.timestampMs < recentStart }
        tally.recentFrom = recentStart
        if last > tally.lastID {
            for row in try rows(db, "id > ? AND id <= ?", [tally.lastID, last]) {
                if tally.period.contains(row.timestampMs) { try tally.add(row) }
                if row.timestampMs >= recentStart { tally.recent.append(row.recent) }
            }
            tally.lastID = last
        }
        return tally
    }

    /// A ledger row with what the tables group it by.
    struct LedgerRow {
        var timestampMs: Int64
        var keys: [SpenderKind: String]
        var provider: String
        var status: String
        var totals: CostTotals
        var ttftMs: Int?

        var recent: RecentRow {
            RecentRow(timestampMs: timestampMs, provider: provider, totals: totals, ttftMs: status == "ok" ? ttftMs : nil)
        }
    }

    /// Rows one by one, each summed as `Ledger.totalsColumns` sums a group of them.
    private static func rows(_ db: Database, _ condition: String, _ arguments: StatementArguments) throws -> [LedgerRow] {
        try Row.fetchAll(db, sql: """
            SELECT timestamp_ms, session, persona, provider, model, COALESCE(client, ''), status, cost_picos, input_tokens,
                output_tokens, estimated, cache_saved_picos, ttft_ms
            FROM requests WHERE \(condition)
            """, arguments: arguments).map { row in
            let provider: String = row[3]
            let cost: Int64? = row[7]
            return LedgerRow(timestampMs: row[0], keys: [.session: row[1], .persona: row[2], .model: provider + ":" + (row[4] as String),
                                                          .client: row[5]],
                             provider: provider, status: row[6],
                             totals: CostTotals(picos: cost ?? 0, requests: 1, inputTokens: row[8], outputTokens: row[9],
                                                unpriced: cost == nil ? 1 : 0, estimated: row[10], cacheSavedPicos: row[11]),
                             ttftMs: row[12])
        }
    }

    /// The day's rows through `last`, in groups fine enough for every table.
    private mutating func sumTheDay(_ db: Database, through last: Int64) throws {
        let (condition, arguments) = period.sql
        for row in try Row.fetchAll(db, sql: """
            SELECT session, persona, provider, model, COALESCE(client, ''), status, \(Ledger.totalsColumns)
            FROM requests WHERE id <= ? AND \(condition) GROUP BY 1, 2, 3, 4, 5, 6
            """, arguments: [last] + arguments) {
            let provider: String = row[2]
            try add(LedgerRow(timestampMs: 0, keys: [.session: row[0], .persona: row[1], .model: provider + ":" + (row[3] as String),
                                                     .client: row[4]],
                              provider: provider, status: row[5], totals: Ledger.totals(row, offset: 6)))
        }
    }

    private mutating func add(_ row: LedgerRow) throws {
        guard totals.add(row.totals) else { throw LedgerError(path: "", reason: "its costs add up to more than Persona can keep exactly") }
        for (kind, key) in row.keys { _ = spenders[kind, default: [:]][key, default: CostTotals()].add(row.totals) }
        var activity = providers[row.provider] ?? ProviderActivity(provider: row.provider, today: CostTotals(), failed: 0, attempted: 0)
        _ = activity.today.add(row.totals)
        if row.status == "failed" { activity.failed += row.totals.requests }
        if row.status == "ok" || row.status == "failed" { activity.attempted += row.totals.requests }
        providers[row.provider] = activity
    }

    /// The sums of the recent rows in [`since`, `until`).
    func recentTotals(since: Date, until: Date) -> CostTotals {
        let (start, end) = (Ledger.milliseconds(since), Ledger.milliseconds(until))
        var sum = CostTotals()
        for row in recent where row.timestampMs >= start && row.timestampMs < end { _ = sum.add(row.totals) }
        return sum
    }

    /// Dollars per minute over the hour before `until`, oldest first, in picodollars.
    func perMinute(until: Date) -> [Int64] {
        let end = Ledger.milliseconds(until)
        let start = end - Int64(Self.recentSeconds * 1000)
        var minutes = [Int64](repeating: 0, count: 60)
        for row in recent where row.timestampMs >= start && row.timestampMs < end {
            let minute = Int((row.timestampMs - start) / 60_000)
            minutes[minute] = Money.sum(minutes[minute], row.totals.picos) ?? .max
        }
        return minutes
    }
}

extension Ledger.Period {
    func contains(_ milliseconds: Int64) -> Bool {
        (start.map { milliseconds >= Ledger.milliseconds($0) } ?? true) && (end.map { milliseconds < Ledger.milliseconds($0) } ?? true)
    }
}
