import Foundation
import PersonaKit

/// Builds what a command needs to price, cap and record its requests.
public enum AccountingSetup {
    /// The catalog (bundled, `--prices` or `prices_file`, then `prices:`), the ledger in the
    /// Persona home, and a budget guard when `--budget` or the config sets a cap. Catalog
    /// problems come back as warnings: they make costs unknown, they do not stop the command.
    public static func make(workspace: Workspace, session: String, budget: Decimal?, pricesFile: String?,
                            warn: @escaping @Sendable (String) -> Void) throws -> Accounting {
        let (catalog, issues) = PriceCatalog.load(config: workspace.config, pricesFile: pricesFile)
        for issue in issues { warn("prices: \(issue)") }
        let ledger: Ledger
        do { ledger = try Ledger(path: workspace.paths.database) } catch {
            throw UsageError("the cost ledger \(workspace.paths.database) cannot be opened: \(error)")
        }
        let sessionCap = budget ?? workspace.config.budget.sessionUSD
        let dailyCap = workspace.config.budget.dailyUSD
        var guardian: BudgetGuard?
        if sessionCap != nil || dailyCap != nil {
            let spentToday = try ledger.totals(in: Ledger.Period(start: Calendar.current.startOfDay(for: Date()))).micros
            guardian = BudgetGuard(sessionCapUSD: sessionCap, dailyCapUSD: dailyCap, spentTodayBefore: spentToday)
        }
        return Accounting(catalog: catalog, budget: guardian, ledger: ledger, session: session, onLedgerFailure: warn)
    }
}

/// The engine every command runs turns with: the config's timeouts, retry policy, rate limits
/// and circuit breakers, and the accounting.
public enum EngineSetup {
    public static func make(workspace: Workspace, accounting: Accounting?, health: ProviderHealth? = nil) -> ConversationEngine {
        ConversationEngine(runner: TurnRunner(timeouts: workspace.config.timeouts.transport), accounting: accounting,
                           health: health ?? ProviderHealth(config: workspace.config), retryPolicy: RetryPolicy(workspace.config.retry))
    }
}
