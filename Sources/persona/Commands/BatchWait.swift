import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct BatchWait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Follow a job to its end: poll, download and record results, run later rounds.")

    @Option(help: "Seconds between polls at first; waits grow to a minute while nothing moves.")
    var interval = 5.0

    @Flag(help: "Print JSON `progress` events.")
    var json = false

    @OptionGroup var options: BatchJobOptions

    func validate() throws {
        guard interval > 0, interval <= 3600 else { throw ValidationError("--interval must be between 0 and 3600 seconds") }
    }

    func run() async throws {
        ProcessRole.set("batch")
        let (workspace, accounting, job) = try options.open()
        let runner = try options.runner(workspace, accounting, job)
        let waiter = BatchWaiter(runner: runner, interval: interval, json: json, terminal: isatty(STDERR_FILENO) == 1, output: Output.write,
                                 notice: Output.notice)
        let code = try await exitingOnFailure { try await waiter.wait(job.id) }
        if code != 0 { throw ExitCode(code) }
    }
}
