import Foundation
import PersonaKit

/// Builds what a command needs to price, cap and record its requests.
public enum AccountingSetup {
    /// The catalog (bundled, the fetched update, `--prices` or `prices_file`, then `prices:`),
    /// the ledger in the Persona home, and the caps from `--budget` and the config. Catalog
    /// problems come back as warnings: they make costs unknown, they do not stop the command.
    /// A ledger that cannot be opened does: nothing may be sent that it could not record.
    /// `onLedgerFailure` hears, once, that the ledger stopped taking rows; by default `warn` does.
    public static func make(workspace: Workspace, budget: Decimal?, pricesFile: String?, warn: @escaping @Sendable (String) -> Void,
                            onLedgerFailure: (@Sendable (String) -> Void)? = nil) throws -> Accounting {
        let (catalog, issues) = PriceCatalog.load(config: workspace.config, pricesFile: pricesFile, home: workspace.paths.home)
        for issue in issues { warn("prices: \(issue)") }
        let ledger = try Ledger(path: workspace.paths.database)
        // Requests a crashed process left in flight count as spent before anything new is reserved.
        try ledger.reclaimAbandoned()
        return Accounting(catalog: catalog, budget: BudgetGuard(caps: try caps(workspace.config.budget, sessionOverride: budget)),
                          ledger: ledger, onLedgerFailure: onLedgerFailure ?? warn)
    }

    /// The caps `--budget` and `budget:` set, in picodollars.
    public static func caps(_ settings: BudgetSettings, sessionOverride: Decimal? = nil) throws -> BudgetCaps {
        func cap(_ dollars: Decimal?, _ name: String) throws -> Int64? {
            guard let dollars else { return nil }
            switch Money.cap(dollars: dollars) {
            case .success(let picos): return picos
            case .failure(let problem): throw UsageError("\(name): \(dollars) \(problem)")
            }
        }
        return BudgetCaps(session: try cap(sessionOverride ?? settings.sessionUSD, sessionOverride == nil ? "budget.session_usd" : "--budget"),
                          daily: try cap(settings.dailyUSD, "budget.daily_usd"))
    }
}

/// The engine every command runs turns with: the config's timeouts, retry policy, rate limits
/// and circuit breakers, and the accounting.
public enum EngineSetup {
    /// An engine with the config's timeouts, retries and tools; `health` and `toolBox` are given
    /// when engines share them (the gateway's clients), else made for this one.
    public static func make(workspace: Workspace, accounting: Accounting?, health: ProviderHealth? = nil,
                            toolBox: ToolBox? = nil) -> ConversationEngine {
        ConversationEngine(runner: TurnRunner(timeouts: workspace.config.timeouts.transport,
                                              limits: StreamLimits(eventMiB: workspace.config.eventMiB)), accounting: accounting,
                           health: health ?? ProviderHealth(config: workspace.config), retryPolicy: RetryPolicy(workspace.config.retry),
                           toolBox: toolBox ?? Self.toolBox(workspace), toolSettings: workspace.config.tools)
    }

    /// The built-in tools and the config's MCP servers; their logs go to `<home>/logs`.
    public static func toolBox(_ workspace: Workspace) -> ToolBox {
        ToolBox(servers: workspace.config.mcpServers, logsDirectory: workspace.paths.home + "/logs",
                knowledge: KnowledgeBase(path: workspace.paths.database))
    }
}
