import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Many prompts × personas through the providers' batch APIs, at about half the live price, as resumable jobs.",
        subcommands: [BatchSubmit.self, BatchList.self, BatchStatus.self, BatchWait.self, BatchResultsCommand.self, BatchCancel.self,
                      BatchRetry.self])
}

/// What the commands that follow a job share: the job it names, and a runner for it.
struct BatchJobOptions: ParsableArguments {
    @Argument(help: "The job: its id (or a unique start of it) or its name.")
    var job: String

    @OptionGroup var global: GlobalOptions

    /// The workspace, the accounting and the job; a job that is not there exits 2.
    func open() throws -> (Workspace, Accounting, BatchJob) {
        let workspace = global.workspace()
        do {
            let accounting = try AccountingSetup.make(workspace: workspace, budget: nil, pricesFile: nil, warn: { Output.error($0) })
            guard let found = try BatchSetup.store(workspace: workspace).find(job) else {
                throw failure("no batch job '\(job)'; `persona batch list` shows them", .usageOrConfig)
            }
            return (workspace, accounting, found)
        } catch let error as LedgerError {
            throw failure("\(error)", .turnFailed)
        } catch let error as UsageError {
            throw failure("\(error)", .usageOrConfig)
        }
    }

    func runner(_ workspace: Workspace, _ accounting: Accounting, _ job: BatchJob) throws -> BatchRunner {
        do {
            return try BatchSetup.runner(workspace: workspace, accounting: accounting, model: job.model, notice: Output.notice)
        } catch {
            throw failure("\(error)", .usageOrConfig)
        }
    }
}

extension BatchReport.Format: ExpressibleByArgument {}
