import Foundation

/// Bounds how many received bytes wait for the reader of one response.
///
/// Past the high-water mark the transfer pauses (libcurl keeps the bytes and the socket backs up),
/// and it resumes once the reader has drained below the low-water mark. Without this, a reader
/// slower than the network would buffer a whole response in memory.
final class FlowControl: @unchecked Sendable {
    static let highWater = 64 * 1024
    static let lowWater = 16 * 1024

    private let lock = NSLock()
    private var buffered = 0
    private var paused = false

    var isPaused: Bool { lock.withLock { paused } }

    /// Called by the transfer thread; false means "pause instead of delivering".
    func admit(_ count: Int) -> Bool {
        lock.withLock {
            if buffered >= Self.highWater {
                paused = true
                return false
            }
            buffered += count
            return true
        }
    }

    /// Called by the reader; true means "resume the transfer now".
    func consumed(_ count: Int) -> Bool {
        lock.withLock {
            buffered -= count
            guard paused, buffered <= Self.lowWater else { return false }
            paused = false
            return true
        }
    }
}

/// A streaming response: `.head` first, then `.body` chunks, with flow control toward the socket.
public struct HTTPResponseStream: AsyncSequence, Sendable {
    public typealias Element = HTTPStreamPart

    let parts: AsyncThrowingStream<HTTPStreamPart, Error>
    let flow: FlowControl
    let resume: @Sendable () -> Void

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: parts.makeAsyncIterator(), flow: flow, resume: resume)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<HTTPStreamPart, Error>.AsyncIterator
        let flow: FlowControl
        let resume: @Sendable () -> Void

        public mutating func next() async throws -> HTTPStreamPart? {
            let part = try await base.next()
            if case .body(let bytes) = part, flow.consumed(bytes.count) { resume() }
            return part
        }
    }
}
