import Foundation
import GRDB

/// The monitor's queries: one read transaction over the ledger, the reservations, the batch
/// jobs and the providers' published health. A read in WAL mode takes no lock that a writer
/// waits for, so watching never slows the processes that spend.
extension Ledger {
    /// How many top spenders each table keeps.
    public static let monitorSpenders = 20
    /// The window of the time-to-first-token percentiles.
    public static let monitorLatencyWindow: TimeInterval = 15 * 60

    public func monitorSnapshot(budgets: MonitorBudgets, now: Date = Date(), calendar: Calendar = .current) throws -> MonitorSnapshot {
        let day = Period.day(of: now, calendar: calendar)
        return try database.guarded {
            try pool.read { db in
                let today = try totals(db, Period(start: day.start, end: day.end))
                let hourStart = now.addingTimeInterval(-3600)
                var perMinute = [Int64](repeating: 0, count: 60)
                for row in try Row.fetchAll(db, sql: """
                    SELECT (timestamp_ms - ?) / 60000, COALESCE(SUM(cost_picos), 0) FROM requests
                    WHERE timestamp_ms >= ? AND timestamp_ms < ? GROUP BY 1
                    """, arguments: [Self.milliseconds(hourStart), Self.milliseconds(hourStart), Self.milliseconds(now)]) {
                    let minute: Int = row[0]
                    if perMinute.indices.contains(minute) { perMinute[minute] = row[1] }
                }
                let inFlight = try Self.inFlight(db)
                let held = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(amount_picos), 0) FROM reservations") ?? 0
                var spenders: [SpenderKind: [Spender]] = [:]
                for kind in SpenderKind.allCases { spenders[kind] = try Self.spenders(kind, db, day) }
                let clientSpend = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
                    SELECT client, COALESCE(SUM(cost_picos), 0) FROM requests
                    WHERE client IS NOT NULL AND timestamp_ms >= ? AND timestamp_ms < ? GROUP BY client
                    """, arguments: [Self.milliseconds(day.start!), Self.milliseconds(day.end!)]).map { ($0[0] as String, $0[1] as Int64) })
                return MonitorSnapshot(
                    taken: now, today: today, heldPicos: held,
                    lastMinute: try totals(db, Period(start: now.addingTimeInterval(-60), end: now)),
                    lastHour: try totals(db, Period(start: hourStart, end: now)), perMinute: perMinute, inFlight: inFlight,
                    providers: try Self.providers(db, day: day, now: now), spenders: spenders,
                    warnings: Self.warnings(budgets, today: Money.sum(today.picos, held) ?? .max, clients: clientSpend),
                    budgets: budgets)
            }
        }
    }

    /// The one query behind every total (`totals(in:)`), inside the snapshot's transaction.
    private func totals(_ db: Database, _ period: Period) throws -> CostTotals {
        let (condition, arguments) = period.sql
        return try Row.fetchOne(db, sql: "SELECT \(Self.totalsColumns) FROM requests WHERE \(condition)", arguments: arguments)
            .map { Self.totals($0) } ?? CostTotals()
    }

    private static func inFlight(_ db: Database) throws -> [InFlightRequest] {
        var running: [String: Bool] = [:]
        func isRunning(_ pid: Int32, _ start: String) -> Bool {
            let key = "\(pid)/\(start)"
            if let known = running[key] { return known }
            let alive = ProcessIdentity.isRunning(pid: pid, start: start)
            running[key] = alive
            return alive
        }
        // A batch job's results so far, from its requests' rows.
        let jobs = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
            SELECT j.id, COALESCE(j.name, j.id), COALESCE(SUM(r.output_tokens), 0), SUM(r.cost_picos), COUNT(r.cost_picos)
            FROM batch_jobs j JOIN reservations v ON v.owner_start = 'batch:' || j.id LEFT JOIN batch_requests r ON r.job = j.id
            GROUP BY j.id
            """).map { row in (row[0] as String, (name: row[1] as String, output: row[2] as Int, picos: row[3] as Int64?, settled: row[4] as Int)) })
        return try Row.fetchAll(db, sql: "SELECT * FROM reservations ORDER BY created_ms, id").map { row in
            let owner: String = row["owner_start"]
            let job = owner.hasPrefix("batch:") ? String(owner.dropFirst(6)) : nil
            let progress = job.flatMap { jobs[$0] }
            return InFlightRequest(
                reservation: row["id"], source: row["source"], client: progress?.name ?? row["client"], session: row["session"],
                persona: row["persona"], provider: row["provider"], model: row["model"],
                started: Date(timeIntervalSince1970: Double(row["created_ms"] as Int64) / 1000),
                outputTokens: progress?.output ?? row["output_so_far"], outputExact: job != nil || row["output_exact"] as Bool,
                picosSoFar: job == nil ? row["picos_so_far"] : progress.map { $0.settled == 0 ? 0 : $0.picos ?? 0 },
                reservedPicos: row["amount_picos"], stale: job == nil && !isRunning(row["owner_pid"], owner), batchJob: job)
        }
    }

    private static func spenders(_ kind: SpenderKind, _ db: Database, _ day: Period) throws -> [Spender] {
        let key: String
        switch kind {
        case .session: key = "session"
        case .persona: key = "persona"
        case .model: key = "provider || ':' || model"
        case .client: key = "COALESCE(client, '')"
        }
        let (condition, arguments) = day.sql
        return try Row.fetchAll(db, sql: """
            SELECT \(key), \(totalsColumns) FROM requests WHERE \(condition) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT \(monitorSpenders)
            """, arguments: arguments).map { Spender(key: $0[0], totals: totals($0, offset: 1)) }
    }

    private static func providers(_ db: Database, day: Period, now: Date) throws -> [ProviderActivity] {
        let (condition, arguments) = day.sql
        var providers: [String: ProviderActivity] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT provider, \(totalsColumns), COALESCE(SUM(status = 'failed'), 0), COALESCE(SUM(status IN ('ok', 'failed')), 0)
            FROM requests WHERE \(condition) GROUP BY provider
            """, arguments: arguments) {
            let name: String = row[0]
            providers[name] = ProviderActivity(provider: name, today: totals(row, offset: 1), failed: row[8], attempted: row[9])
        }
        var latencies: [String: [Int]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT provider, ttft_ms FROM requests WHERE timestamp_ms >= ? AND ttft_ms IS NOT NULL AND status = 'ok'
            """, arguments: [milliseconds(now.addingTimeInterval(-monitorLatencyWindow))]) {
            latencies[row[0], default: []].append(row[1])
        }
        for (name, values) in latencies {
            let sorted = values.sorted()
            func percentile(_ p: Double) -> Int { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            providers[name, default: ProviderActivity(provider: name, today: CostTotals(), failed: 0, attempted: 0)].ttftP50 = percentile(0.5)
            providers[name]?.ttftP95 = percentile(0.95)
        }
        let severity = ["closed": 0, "half-open": 1, "open": 2]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM provider_status WHERE updated_ms >= ?",
                                    arguments: [milliseconds(now.addingTimeInterval(-86400))])
        where ProcessIdentity.isRunning(pid: row["owner_pid"], start: row["owner_start"]) {
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
            if let blocked = row["blocked_until_ms"] as Int64?, blocked > milliseconds(now) {
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
            guard spent >= cap || Double(spent) * 1000 >= Double(cap) * Double(budgets.warnAtPermille) else { return nil }
            return BudgetWarning(budget: name, spentPicos: spent, capPicos: cap, exhausted: spent >= cap)
        }
        var warnings = [budgets.daily.flatMap { warning("the daily budget", spent: today, cap: $0) }].compactMap { $0 }
        for (client, cap) in budgets.clients.sorted(by: { $0.key < $1.key }) {
            if let found = warning("client \(client)'s daily budget", spent: clients[client] ?? 0, cap: cap) { warnings.append(found) }
        }
        return warnings
    }
}
