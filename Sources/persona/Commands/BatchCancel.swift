import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct BatchCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a job at its providers, keeping the results already done.")

    @OptionGroup var options: BatchJobOptions

    func run() async throws {
        let (workspace, accounting, job) = try options.open()
        let runner = try options.runner(workspace, accounting, job)
        let stuck = try await exitingOnFailure { try await runner.cancel(job.id) }
        for part in stuck { Output.error(part.description) }
        // A provider takes a moment to end a cancelled batch; what it finished is collected meanwhile.
        let deadline = Date().addingTimeInterval(30)
        while try !runner.isFinished(job.id), Date() < deadline {
            _ = try await exitingOnFailure { try await runner.advance(job.id, interval: 1, pollNow: true) }
            if try runner.isFinished(job.id) { break }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        let progress = try await exitingOnFailure { try runner.store.progress(job: job.id) }
        let state = try await exitingOnFailure { try runner.store.job(job.id)?.state ?? .cancelled }
        Output.write("job \(job.id) \(state.rawValue): \(progress.succeeded) results kept, \(progress.counts[.canceled] ?? 0) canceled\n")
        if state == .cancelling { Output.write("the providers are still ending it; `persona batch wait \(job.id)` collects what they finished\n") }
        if !stuck.isEmpty { throw ExitCode.turnFailed }
    }
}
