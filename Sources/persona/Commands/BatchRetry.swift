import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct BatchRetry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", abstract: "Send again, as a new part, only the requests that errored, expired or were canceled.")

    @OptionGroup var options: BatchJobOptions

    func run() async throws {
        ProcessRole.set("batch")
        let (workspace, accounting, job) = try options.open()
        let runner = try options.runner(workspace, accounting, job)
        var caps = accounting.budget.caps
        caps.session = job.budgetPicos
        let sent: (requests: Int, parts: [BatchPart])
        do {
            sent = try runner.retry(job.id, caps: caps)
        } catch let refusal as BudgetRefusal {
            throw failure(BatchSetup.refusalText(refusal, jobBudget: job.budgetPicos != nil), .budget)
        } catch {
            throw failure("\(error); nothing was sent", .turnFailed)
        }
        guard sent.requests > 0 else {
            Output.write("job \(job.id) has no request that errored, expired or was canceled\n")
            return
        }
        let stuck = try await exitingOnFailure { try await runner.advance(job.id, interval: 5, runLive: false) }
        Output.write("job \(job.id): \(sent.requests) requests sent again in \(sent.parts.count) parts; "
            + "follow it with `persona batch wait \(job.id)`\n")
        for part in stuck { Output.error(part.description) }
        if !stuck.isEmpty { throw ExitCode.turnFailed }
    }
}
