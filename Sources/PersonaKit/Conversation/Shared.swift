import Synchronization

/// A value that tasks and threads share, behind a `Mutex`: for state an escaping closure must
/// capture, which a `Mutex` itself, being non-copyable, cannot be. Everything else holds its
/// `Mutex` directly.
public final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    public func withLock<Result, Failure: Error>(_ body: (inout sending Value) throws(Failure) -> sending Result) throws(Failure)
        -> sending Result {
        try mutex.withLock(body)
    }

    public var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
