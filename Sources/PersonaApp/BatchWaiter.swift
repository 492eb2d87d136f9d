import Foundation
import PersonaKit

/// `persona batch wait`: passes over a job until it ends, polling at `interval` and backing off
/// to a minute while nothing moves, with a progress bar on a terminal or `progress` events.
public struct BatchWaiter: Sendable {
    public var runner: BatchRunner
    public var interval: TimeInterval
    public var json: Bool
    /// Whether stderr is a terminal, where the bar is redrawn in place.
    public var terminal: Bool
    public var output: @Sendable (String) -> Void
    public var notice: @Sendable (String) -> Void

    public init(runner: BatchRunner, interval: TimeInterval, json: Bool, terminal: Bool, output: @escaping @Sendable (String) -> Void,
                notice: @escaping @Sendable (String) -> Void) {
        self.runner = runner
        self.interval = interval
        self.json = json
        self.terminal = terminal
        self.output = output
        self.notice = notice
    }

    /// Waits for the job; returns the exit code: 0 when every request succeeded, 1 when some
    /// failed or a part cannot go on.
    public func wait(_ jobID: String) async throws -> Int32 {
        let started = Date()
        var lastShown: BatchProgress?
        var stuck: [BatchRunner.Stuck] = []
        var first = true
        while true {
            stuck = try await runner.advance(jobID, interval: interval, pollNow: first)
            first = false
            guard let job = try runner.store.job(jobID) else { return ExitCode.usageOrConfig }
            let progress = try runner.store.progress(job: jobID)
            let elapsed = Date().timeIntervalSince(started)
            if json {
                if progress != lastShown || !job.state.isActive { output(BatchReport.progressEvent(job, progress, elapsed: elapsed)) }
            } else if terminal {
                notice("\r\u{1B}[2K" + BatchReport.progressBar(progress, elapsed: elapsed))
            } else if progress != lastShown {
                notice(BatchReport.progressBar(progress, elapsed: elapsed) + "\n")
            }
            lastShown = progress
            if !job.state.isActive || !stuck.isEmpty {
                if terminal, !json { notice("\n") }
                for part in stuck { notice("persona: \(part.description)\n") }
                if !json {
                    output("job \(job.id) \(job.state.rawValue): \(progress.succeeded) succeeded, \(progress.failed) failed of \(progress.total); "
                        + "cost \(BatchReport.cost(progress))\n")
                }
                return stuck.isEmpty && progress.failed == 0 ? ExitCode.success : ExitCode.turnFailed
            }
            let due = try runner.nextPoll(jobID) ?? Date().addingTimeInterval(interval)
            let pause = min(BatchRunner.maxPollInterval, max(0.01, due.timeIntervalSinceNow))
            try await Task.sleep(nanoseconds: UInt64(pause * 1e9))
        }
    }
}
