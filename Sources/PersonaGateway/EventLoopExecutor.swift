import NIOCore

/// Runs a task's jobs on a connection's event loop. A streamed reply's body runs there: the
/// tokens a reading pass hands it wake that one thread, which encodes and writes them to the
/// socket at once, where a worker of the global pool would wake and then hand each write to the
/// loop, waking it too.
final class EventLoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
