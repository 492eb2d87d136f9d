import Foundation

/// One response on its way from the transfer thread to its reader.
///
/// The transfer thread adds what arrives and wakes the reader once per reading pass (`publish`),
/// and the reader takes every byte that waits as one chunk. A pass that brought ten chunks of one
/// response (a chunked body gives one callback per chunk) thus costs its reader one wake-up, not ten.
///
/// Past the high-water mark the transfer pauses (libcurl keeps the bytes and the socket backs up)
/// until the reader has taken what waits. Without this, a reader slower than the network would
/// buffer a whole response in memory. The reader takes everything at once, so a low mark costs
/// no throughput, and it keeps what is in flight of each stream to about two such buffers.
final class ResponseChannel: @unchecked Sendable {
    static let highWater = 32 * 1024

    private let lock = NSLock()
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var finished = false
    private var failure: TransportError?
    /// Set once the reader has seen the end, or stopped reading.
    private var closed = false
    private var paused = false
    private var waiter: UnsafeContinuation<HTTPStreamPart?, Error>?
    /// True from a pass that brought the reader something until it has dealt with all of it.
    private var owesReader = false
    private let backlog: ReadingBacklog?
    private let cancelTransfer: @Sendable () -> Void
    private let resumeTransfer: @Sendable () -> Void

    init(backlog: ReadingBacklog? = nil, cancel: @escaping @Sendable () -> Void, resume: @escaping @Sendable () -> Void) {
        self.backlog = backlog
        cancelTransfer = cancel
        resumeTransfer = resume
    }

    var isPaused: Bool { lock.withLock { paused } }

    // MARK: The transfer thread's side

    func receive(head received: HTTPResponseHead) {
        lock.withLock { head = received }
    }

    /// How many more body bytes the reader's buffer takes before the transfer should pause.
    var room: Int { lock.withLock { Self.highWater - body.count } }

    /// The transfer paused because the reader is behind; taking the waiting bytes resumes it.
    func pauseForReader() {
        lock.withLock { paused = true }
    }

    /// Keeps a reading pass's body bytes for the reader, taking them from `bytes`, which is left
    /// empty with room for the next pass.
    func receive(body bytes: inout [UInt8]) {
        lock.withLock {
            if body.isEmpty { swap(&body, &bytes) } else { body.append(contentsOf: bytes) }
        }
        bytes.removeAll(keepingCapacity: true)
    }

    /// Ends the response, after whatever still waits for the reader.
    func finish(error: TransportError?) {
        lock.withLock {
            finished = true
            failure = error
        }
        publish()
    }

    /// Wakes a waiting reader if there is something for it; true if there was.
    @discardableResult
    func publish() -> Bool {
        lock.lock()
        let brought = !closed && (head != nil || !body.isEmpty || finished)
        if !owesReader, brought {
            owesReader = true
            backlog?.add()
        }
        guard let reader = waiter, let next = takeLocked() else {
            lock.unlock()
            return brought
        }
        waiter = nil
        lock.unlock()
        deliver(next, to: reader)
        return brought
    }

    // MARK: The reader's side

    func next() async throws -> HTTPStreamPart? {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<HTTPStreamPart?, Error>) in
                lock.lock()
                let next = takeLocked()
                if next == nil { waiter = continuation }
                // Back for more with nothing left, or at the end: the reader has dealt with all it was brought.
                let caughtUp = owesReader && (next == nil || closed)
                if caughtUp { owesReader = false }
                lock.unlock()
                if let next { deliver(next, to: continuation) }
                if caughtUp { backlog?.remove() }
            }
        } onCancel: {
            stopReading()
        }
    }

    /// The reader is gone or its task was cancelled: the transfer stops and its connection closes.
    func stopReading() {
        let (reader, wasOpen, owed) = lock.withLock {
            defer {
                waiter = nil
                closed = true
                owesReader = false
            }
            return (waiter, !closed && !finished, owesReader)
        }
        reader?.resume(returning: nil)
        if owed { backlog?.remove() }
        if wasOpen { cancelTransfer() }
    }

    private enum Next {
        case part(HTTPStreamPart, unpaused: Bool)
        case end(TransportError?)
    }

    /// What the reader gets next, if anything: the head, then the waiting bytes, then the end.
    private func takeLocked() -> Next? {
        if closed { return .end(nil) }
        if let pending = head {
            head = nil
            return .part(.head(pending), unpaused: false)
        }
        if !body.isEmpty {
            var bytes: [UInt8] = []
            swap(&bytes, &body)
            // The next pass likely brings as much: one allocation instead of a series of doublings.
            body.reserveCapacity(min(bytes.count, Self.highWater))
            defer { paused = false }
            return .part(.body(bytes), unpaused: paused)
        }
        guard finished else { return nil }
        closed = true
        return .end(failure)
    }

    private func deliver(_ next: Next, to reader: UnsafeContinuation<HTTPStreamPart?, Error>) {
        switch next {
        case .part(let part, let unpaused):
            reader.resume(returning: part)
            if unpaused { resumeTransfer() }
        case .end(nil):
            reader.resume(returning: nil)
        case .end(let error?):
            reader.resume(throwing: error)
        }
    }
}

/// How many responses have something their reader has not dealt with yet, counting the transfer
/// thread's reading pass itself while it runs.
///
/// It reaches zero when everything a pass brought has been decoded and handed on, which is when
/// the chat screen draws: a frame then shows the tokens of every stream read in the pass, however
/// the readers' tasks were scheduled.
public final class ReadingBacklog: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var broughtSomething = false
    private var caughtUp: (@Sendable () -> Void)?

    public init() {}

    public var isEmpty: Bool { lock.withLock { count == 0 } }

    /// Called, from a reader's task, each time the backlog empties after a pass brought something.
    public func onCaughtUp(_ hook: (@Sendable () -> Void)?) { lock.withLock { caughtUp = hook } }

    func beginPass() { lock.withLock { count += 1 } }

    func endPass() { remove(passed: true) }

    func add() {
        lock.withLock {
            count += 1
            broughtSomething = true
        }
    }

    func remove() { remove(passed: false) }

    private func remove(passed: Bool) {
        let hook: (@Sendable () -> Void)? = lock.withLock {
            count -= 1
            guard count == 0, broughtSomething else { return nil }
            broughtSomething = false
            return caughtUp
        }
        hook?()
    }
}

/// A streaming response: `.head` first, then `.body` chunks, with flow control toward the socket.
///
/// Dropping the stream before its end, or cancelling the task that reads it, cancels the transfer.
public struct HTTPResponseStream: AsyncSequence, Sendable {
    public typealias Element = HTTPStreamPart

    let channel: ResponseChannel
    private let lifetime: ReaderLifetime

    init(channel: ResponseChannel) {
        self.channel = channel
        lifetime = ReaderLifetime(channel)
    }

    public func makeAsyncIterator() -> Iterator { Iterator(channel: channel, lifetime: lifetime) }

    public struct Iterator: AsyncIteratorProtocol {
        let channel: ResponseChannel
        let lifetime: ReaderLifetime

        public mutating func next() async throws -> HTTPStreamPart? { try await channel.next() }
    }

    /// Lives as long as the stream or an iterator of it does.
    final class ReaderLifetime: Sendable {
        let channel: ResponseChannel
        init(_ channel: ResponseChannel) { self.channel = channel }
        deinit { channel.stopReading() }
    }
}
