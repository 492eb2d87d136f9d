import Foundation
import Synchronization

/// One response on its way from the transfer thread to its reader.
///
/// The transfer thread adds what arrives and wakes the reader once per reading pass (`publish`),
/// and the reader takes every byte that waits as one chunk. A pass that brought ten chunks of one
/// response (a chunked body gives one callback per chunk) thus costs its reader one wake-up, not ten.
///
/// Past the high-water mark the transfer pauses (libcurl keeps the bytes and the socket backs up)
/// until the reader has taken what waits. Without this, a reader slower than the network would
/// buffer a whole response in memory. The reader takes everything at once, so a low mark costs
/// no throughput, and it keeps what is in flight of each stream to about two such buffers: the
/// stream benchmark's peak memory above start-up is 10 MB with 8 streams at this mark.
final class ResponseChannel: Sendable {
    static let highWater = 32 * 1024

    private struct State {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        var finished = false
        var failure: TransportError?
        /// Set once the reader has seen the end, or stopped reading.
        var closed = false
        var paused = false
        var waiter: UnsafeContinuation<HTTPStreamPart?, Error>?
        /// True from a pass that brought the reader something until it has dealt with all of it.
        var owesReader = false

        /// What the reader gets next, if anything: the head, then the waiting bytes, then the end.
        mutating func take() -> Next? {
            if closed { return .end(nil) }
            if let pending = head {
                head = nil
                return .part(.head(pending), unpaused: false)
            }
            if !body.isEmpty {
                var bytes: [UInt8] = []
                swap(&bytes, &body)
                // The next pass likely brings as much: one allocation instead of a series of doublings.
                // A finished response brings nothing more.
                if !finished { body.reserveCapacity(min(bytes.count, ResponseChannel.highWater)) }
                defer { paused = false }
                return .part(.body(bytes), unpaused: paused)
            }
            guard finished else { return nil }
            closed = true
            return .end(failure)
        }
    }

    private enum Next {
        case part(HTTPStreamPart, unpaused: Bool)
        case end(TransportError?)
    }

    private let state = Mutex(State())
    /// Until the reader has its first token, the transfer thread may read at a shorter cadence
    /// (`CurlTransport.firstTokenCadence`).
    private let waitingForFirstToken = Atomic<Bool>(true)
    private let backlog: ReadingBacklog?
    private let cancelTransfer: @Sendable () -> Void
    private let resumeTransfer: @Sendable () -> Void

    init(backlog: ReadingBacklog? = nil, cancel: @escaping @Sendable () -> Void, resume: @escaping @Sendable () -> Void) {
        self.backlog = backlog
        cancelTransfer = cancel
        resumeTransfer = resume
    }

    var isPaused: Bool { state.withLock { $0.paused } }

    var awaitsFirstToken: Bool { waitingForFirstToken.load(ordering: .relaxed) }

    func markFirstToken() { waitingForFirstToken.store(false, ordering: .relaxed) }

    // MARK: The transfer thread's side

    func receive(head received: HTTPResponseHead) {
        state.withLock { $0.head = received }
    }

    /// How many more body bytes the reader's buffer takes before the transfer should pause.
    var room: Int { state.withLock { Self.highWater - $0.body.count } }

    /// The transfer paused because the reader is behind; taking the waiting bytes resumes it.
    func pauseForReader() {
        state.withLock { $0.paused = true }
    }

    /// Keeps a reading pass's body bytes for the reader, taking them from `bytes`, which is left
    /// empty with room for the next pass.
    func receive(body bytes: inout [UInt8]) {
        state.withLock { state in
            if state.body.isEmpty { swap(&state.body, &bytes) } else { state.body.append(contentsOf: bytes) }
        }
        bytes.removeAll(keepingCapacity: true)
    }

    /// Ends the response, after whatever still waits for the reader.
    func finish(error: TransportError?) {
        state.withLock { state in
            state.finished = true
            state.failure = error
        }
        publish()
    }

    /// Wakes a waiting reader if there is something for it; true if there was.
    @discardableResult
    func publish() -> Bool {
        let backlog = self.backlog
        let (brought, delivery) = state.withLock { state -> (Bool, (Next, UnsafeContinuation<HTTPStreamPart?, Error>)?) in
            let brought = !state.closed && (state.head != nil || !state.body.isEmpty || state.finished)
            if !state.owesReader, brought {
                // Counted before the reader can see it, so that its catching up never comes first.
                state.owesReader = true
                backlog?.add()
            }
            guard let reader = state.waiter, let next = state.take() else { return (brought, nil) }
            state.waiter = nil
            return (brought, (next, reader))
        }
        if let (next, reader) = delivery { deliver(next, to: reader) }
        return brought
    }

    // MARK: The reader's side

    func next() async throws -> HTTPStreamPart? {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<HTTPStreamPart?, Error>) in
                let (next, caughtUp) = state.withLock { state in
                    let next = state.take()
                    if next == nil { state.waiter = continuation }
                    // Back for more with nothing left, or at the end: the reader has dealt with all it was brought.
                    let caughtUp = state.owesReader && (next == nil || state.closed)
                    if caughtUp { state.owesReader = false }
                    return (next, caughtUp)
                }
                if let next { deliver(next, to: continuation) }
                if caughtUp { backlog?.remove() }
            }
        } onCancel: {
            stopReading()
        }
    }

    /// The reader is gone or its task was cancelled: the transfer stops and its connection closes.
    func stopReading() {
        let (reader, wasOpen, owed) = state.withLock { state in
            defer {
                state.waiter = nil
                state.closed = true
                state.owesReader = false
            }
            return (state.waiter, !state.closed && !state.finished, state.owesReader)
        }
        reader?.resume(returning: nil)
        if owed { backlog?.remove() }
        if wasOpen { cancelTransfer() }
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
/// the readers' tasks were scheduled. Waiting for it rather than a fixed slot took the `ui`
/// benchmark's p99 from write to flush from 19–27 ms to 18 ms: a late reader's tokens no longer
/// miss a frame.
public final class ReadingBacklog: Sendable {
    private struct State {
        var count = 0
        var broughtSomething = false
        var caughtUp: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    public var isEmpty: Bool { state.withLock { $0.count == 0 } }

    /// Called, from a reader's task, each time the backlog empties after a pass brought something.
    public func onCaughtUp(_ hook: (@Sendable () -> Void)?) { state.withLock { $0.caughtUp = hook } }

    func beginPass() { state.withLock { $0.count += 1 } }

    func endPass() { remove() }

    func add() {
        state.withLock { state in
            state.count += 1
            state.broughtSomething = true
        }
    }

    func remove() {
        let hook: (@Sendable () -> Void)? = state.withLock { state in
            state.count -= 1
            guard state.count == 0, state.broughtSomething else { return nil }
            state.broughtSomething = false
            return state.caughtUp
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

    /// The reader has its first token: from now on this response is read at the transfer
    /// thread's `cadence`, not its `firstTokenCadence`.
    public func markFirstToken() { channel.markFirstToken() }

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
