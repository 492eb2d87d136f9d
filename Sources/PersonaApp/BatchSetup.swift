import Foundation
import PersonaKit

/// Builds what every `persona batch` command works with: the job store in `persona.db`, and the
/// runner with the same catalog, caps, ledger and engine as `ask`.
public enum BatchSetup {
    public static func store(workspace: Workspace) throws -> BatchStore {
        BatchStore(database: try PersonaDatabase(path: workspace.paths.database))
    }

    /// `model` is the job's `--model`, so that later rounds and live requests plan as the first did.
    public static func runner(workspace: Workspace, accounting: Accounting, model: String?,
                              notice: @escaping @Sendable (String) -> Void) throws -> BatchRunner {
        BatchRunner(store: try store(workspace: workspace), providers: workspace.providers, catalog: accounting.catalog,
                    planner: try TurnPlanner(workspace: workspace, model: model), engine: EngineSetup.make(workspace: workspace, accounting: accounting),
                    notice: notice)
    }

    /// Why a job was refused by the budget, with its estimate and what is left.
    public static func refusalText(_ refusal: BudgetRefusal, jobBudget: Bool) -> String {
        let which = refusal.daily ? "daily budget (budget.daily_usd)" : jobBudget ? "job's --budget" : "budget"
        let cost = refusal.needed.map { "the job could cost up to \(Money.format(picos: $0)) at batch prices" }
            ?? "a model of the job has no known price, so the budget cannot cap it"
        return "\(cost), and \(Money.format(picos: refusal.left)) of the \(Money.format(picos: refusal.cap)) \(which) is left; nothing was sent"
    }
}
