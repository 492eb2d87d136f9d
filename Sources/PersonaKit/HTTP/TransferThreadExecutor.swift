import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs the tasks that read responses on the transfer thread itself, between its reading passes.
///
/// A reader woken on Swift's global executor costs a thread wake-up per pass, and on a virtual
/// machine a wake-up after a few milliseconds of sleep costs more CPU than decoding the tokens it
/// brought. Here the pass that brought the bytes also runs their readers: decoding the events and
/// handing them on costs no wake-up at all. Readers must not block; anything slow (the ledger, the
/// transcript) runs after the reading loop, back on the global executor.
final class TransferThreadExecutor: TaskExecutor, Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var thread: pthread_t?
        /// Wakes the transfer thread when a job arrives from elsewhere.
        var wake: @Sendable () -> Void = {}
    }

    private let state = Mutex(State())

    /// Marks the calling thread as the one that runs the jobs, and `wake` as how other threads rouse it.
    func adopt(currentThreadWakingWith wake: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.thread = pthread_self()
            state.wake = wake
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let wakeUp: (@Sendable () -> Void)? = state.withLock { state in
            state.jobs.append(unowned)
            let onTransferThread = state.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
            // A job enqueued by the transfer thread runs before it next sleeps; one from another
            // thread needs it awake.
            return !onTransferThread && state.jobs.count == 1 ? state.wake : nil
        }
        wakeUp?()
    }

    /// Runs the jobs that wait, and those they enqueue in turn, until none is left. A job that
    /// keeps re-enqueueing itself (`Task.yield` in a loop) is left for the next pass after a few rounds.
    func runJobs() {
        for _ in 0..<8 {
            var batch: [UnownedJob] = []
            state.withLock { swap(&batch, &$0.jobs) }
            if batch.isEmpty { return }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }

    var hasJobs: Bool { state.withLock { !$0.jobs.isEmpty } }
}
