import Synchronization

/// Lets whoever consumes a turn's events slow its reading down: while held, the turn stops
/// taking bytes from its response, the transfer pauses once its buffer is full, and the
/// provider's sends wait on TCP. The gateway holds it while a client reads slower than the
/// model writes, so that nothing piles up in between.
public final class ReadPace: Sendable {
    private struct State {
        var held = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isHeld: Bool { state.withLock { $0.held } }

    public func hold() {
        state.withLock { $0.held = true }
    }

    public func release() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.held || !state.waiters.isEmpty else { return [] }
            state.held = false
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once released, or at once when not held or when the task is cancelled.
    public func wait() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waiting = state.withLock { state in
                    guard state.held, !Task.isCancelled else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
