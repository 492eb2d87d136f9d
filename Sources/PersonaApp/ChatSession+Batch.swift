import Foundation
import PersonaKit

/// `/batch` and `/jobs`: the chat screen's way into `persona batch`, on the same store and runner.
extension ChatSession {
    /// The jobs, as `persona batch list` shows them.
    func jobsReport() -> AppEvent {
        do {
            let store = try BatchSetup.store(workspace: workspace)
            let jobs = try store.jobs().map { ($0, try store.progress(job: $0.id)) }
            let table = BatchReport.list(jobs).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            return .reportLoaded(["Batch jobs (persona batch status|wait|results JOB)", ""] + table)
        } catch {
            return .notice("/jobs: \(error)")
        }
    }

    /// Sends `prompt` to every pane's persona as a batch job at batch prices, under the daily
    /// cap, then follows it in the background and says when its answers are in.
    func submitBatch(_ prompt: String, state: AppState) -> [AppEvent] {
        guard let accounting = engine.accounting, accounting.ledger != nil else { return [.notice("/batch: no cost ledger is open.")] }
        let runner: BatchRunner
        let plan: BatchPlan
        do {
            runner = try BatchRunner(store: BatchSetup.store(workspace: workspace), providers: workspace.providers,
                                     catalog: accounting.catalog, planner: TurnPlanner(workspace: workspace), engine: engine)
            plan = try BatchPlanner(planner: runner.planner, catalog: accounting.catalog)
                .plan([BatchPrompt(id: "1", text: prompt, line: 1)], participants: try currentParticipants(state), options: BatchOptions())
            var caps = accounting.budget.caps
            caps.session = nil
            _ = try runner.store.create(plan.job, parts: plan.parts, requests: plan.requests, sessions: plan.sessions, claim: plan.claim,
                                        caps: caps)
        } catch let refusal as BudgetRefusal {
            return [.notice("/batch: " + BatchSetup.refusalText(refusal, jobBudget: false))]
        } catch {
            return [.notice("/batch: \(error)")]
        }
        let sink = self.sink
        let job = plan.job
        Task.detached {
            let waiter = BatchWaiter(runner: runner, interval: 5, json: false, terminal: false, output: { _ in }, notice: { _ in })
            do {
                _ = try await waiter.wait(job.id)
                let progress = try runner.store.progress(job: job.id)
                sink.post(.notice("Batch job \(job.id) is done: \(progress.succeeded) answers, \(progress.failed) failed, "
                    + "\(BatchReport.cost(progress)); persona batch results \(job.id)"))
            } catch {
                sink.post(.notice("Batch job \(job.id): \(error); persona batch wait \(job.id) carries it on"))
            }
        }
        return [.notice("Batch job \(job.id): \(plan.requests.count) requests, up to "
            + (job.estimatePicos.map { Money.format(picos: $0) } ?? "an unknown price") + " at batch prices; /jobs follows it")]
    }
}
