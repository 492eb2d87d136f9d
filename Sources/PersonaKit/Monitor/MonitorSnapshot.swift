import Foundation

/// Everything `persona monitor` shows at one moment, read from `persona.db` in one read
/// transaction, so that its figures agree with each other and with `persona costs`.
public struct MonitorSnapshot: Sendable, Equatable {
    public var taken: Date
    /// Today's ledger rows (the local day), by the query every costs view reads.
    public var today: CostTotals
    /// What the open reservations hold: requests in flight at their worst case, and batch jobs'
    /// estimates still unsettled. The daily cap counts it as spent.
    public var heldPicos: Int64
    public var lastMinute: CostTotals
    public var lastHour: CostTotals
    /// Dollars per minute over the last hour, oldest first: 60 sums in picodollars.
    public var perMinute: [Int64]
    public var inFlight: [InFlightRequest]
    public var providers: [ProviderActivity]
    /// Today's largest spenders, by each way of grouping them.
    public var spenders: [SpenderKind: [Spender]]
    public var warnings: [BudgetWarning]
    public var budgets: MonitorBudgets

    public init(taken: Date, today: CostTotals, heldPicos: Int64, lastMinute: CostTotals, lastHour: CostTotals, perMinute: [Int64],
                inFlight: [InFlightRequest], providers: [ProviderActivity], spenders: [SpenderKind: [Spender]],
                warnings: [BudgetWarning], budgets: MonitorBudgets) {
        self.taken = taken
        self.today = today
        self.heldPicos = heldPicos
        self.lastMinute = lastMinute
        self.lastHour = lastHour
        self.perMinute = perMinute
        self.inFlight = inFlight
        self.providers = providers
        self.spenders = spenders
        self.warnings = warnings
        self.budgets = budgets
    }
}

/// The caps the monitor measures spending against, from the config.
public struct MonitorBudgets: Sendable, Equatable {
    public var daily: Int64?
    /// Each gateway key's own daily cap, by the key's name.
    public var clients: [String: Int64]
    /// Where a budget's warning starts, in thousandths of the cap.
    public var warnAtPermille: Int

    public init(daily: Int64? = nil, clients: [String: Int64] = [:], warnAtPermille: Int = 800) {
        self.daily = daily
        self.clients = clients
        self.warnAtPermille = warnAtPermille
    }
}

/// One request in flight, as its reservation and its process's progress describe it; or a
/// batch job, whose reservation stands until its results are settled.
public struct InFlightRequest: Sendable, Equatable {
    public var reservation: Int64
    /// The command that sent it (`chat`, `ask`, `debate`, `batch`, `serve`), nil for a process
    /// older than the monitor.
    public var source: String?
    /// Through the gateway, the client's key name; for a batch job, the job's name or id.
    public var client: String?
    public var session: String
    public var persona: String
    public var provider: String
    public var model: String
    public var started: Date
    public var outputTokens: Int
    /// Whether `outputTokens` is the provider's count rather than an estimate from the text.
    public var outputExact: Bool
    /// What it has cost so far at its model's prices; nil while unknown.
    public var picosSoFar: Int64?
    /// Its worst case, which the budget holds for it.
    public var reservedPicos: Int64?
    /// Its process is gone; the next request of any process releases it into the ledger.
    public var stale: Bool
    /// A batch job's reservation: its results so far are in `outputTokens` and `picosSoFar`.
    public var batchJob: String?

    public init(reservation: Int64, source: String?, client: String?, session: String, persona: String, provider: String,
                model: String, started: Date, outputTokens: Int, outputExact: Bool, picosSoFar: Int64?, reservedPicos: Int64?,
                stale: Bool, batchJob: String?) {
        self.reservation = reservation
        self.source = source
        self.client = client
        self.session = session
        self.persona = persona
        self.provider = provider
        self.model = model
        self.started = started
        self.outputTokens = outputTokens
        self.outputExact = outputExact
        self.picosSoFar = picosSoFar
        self.reservedPicos = reservedPicos
        self.stale = stale
        self.batchJob = batchJob
    }
}

/// One provider's day, and its health as the processes using it last published it.
public struct ProviderActivity: Sendable, Equatable {
    public var provider: String
    public var today: CostTotals
    /// Of today's requests that were answered or failed (not refused by a budget, not stopped).
    public var failed: Int
    public var attempted: Int
    /// Time to first token over the last 15 minutes, in milliseconds.
    public var ttftP50: Int?
    public var ttftP95: Int?
    /// The worst breaker among live processes: `closed`, `half-open` or `open`; nil when no
    /// live process has published one.
    public var breaker: String?
    public var remainingRequests: Int?
    public var limitRequests: Int?
    public var remainingTokens: Int?
    public var limitTokens: Int?
    public var blockedUntil: Date?

    /// Failed requests per thousand attempted today.
    public var errorPermille: Int? { attempted > 0 ? failed * 1000 / attempted : nil }

    public init(provider: String, today: CostTotals, failed: Int, attempted: Int, ttftP50: Int? = nil, ttftP95: Int? = nil,
                breaker: String? = nil, remainingRequests: Int? = nil, limitRequests: Int? = nil, remainingTokens: Int? = nil,
                limitTokens: Int? = nil, blockedUntil: Date? = nil) {
        self.provider = provider
        self.today = today
        self.failed = failed
        self.attempted = attempted
        self.ttftP50 = ttftP50
        self.ttftP95 = ttftP95
        self.breaker = breaker
        self.remainingRequests = remainingRequests
        self.limitRequests = limitRequests
        self.remainingTokens = remainingTokens
        self.limitTokens = limitTokens
        self.blockedUntil = blockedUntil
    }
}

/// How the top spenders are grouped; `Tab` on the monitor moves through them in this order.
public enum SpenderKind: String, Sendable, CaseIterable {
    case session, persona, model, client

    public var next: SpenderKind {
        let all = Self.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }
}

public struct Spender: Sendable, Equatable {
    public var key: String
    public var totals: CostTotals

    public init(key: String, totals: CostTotals) {
        self.key = key
        self.totals = totals
    }
}

/// A budget past its warning level, or exhausted.
public struct BudgetWarning: Sendable, Equatable {
    /// `the daily budget`, `client ci's daily budget`.
    public var budget: String
    public var spentPicos: Int64
    public var capPicos: Int64
    public var exhausted: Bool

    public init(budget: String, spentPicos: Int64, capPicos: Int64, exhausted: Bool) {
        self.budget = budget
        self.spentPicos = spentPicos
        self.capPicos = capPicos
        self.exhausted = exhausted
    }
}
