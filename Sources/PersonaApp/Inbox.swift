import Foundation
import PersonaKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the chat screen's events go from other threads: the inbox of the run loop, or a
/// recorder in tests.
public protocol AppEventSink: Sendable {
    func post(_ event: AppEvent)
    /// Posts events that must reach the screen in the same frame.
    func post(_ events: [AppEvent])
}

/// Events from other threads to the UI thread: a locked queue, and one byte down a pipe to wake
/// the UI thread from `select`.
///
/// The byte is written only while the UI thread sleeps with the pipe watched. Between frames it
/// sleeps until its next frame whatever arrives, and a byte per reading pass would be two system
/// calls, a write here and a read there, for nothing.
final class Inbox: AppEventSink, Sendable {
    let readFD: Int32
    let writeFD: Int32
    private struct State {
        var queue: [AppEvent] = []
        var watched = false
    }

    private let state = Mutex(State())

    init() {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        readFD = fds[0]
        writeFD = fds[1]
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    func post(_ event: AppEvent) {
        let wake = state.withLock { state in
            state.queue.append(event)
            return state.queue.count == 1 && state.watched
        }
        // One wake-up per batch: a UI thread that is already awake will drain the rest.
        if wake { Inbox.wake(writeFD, Inbox.eventByte) }
    }

    /// Posts events that must reach the screen in the same frame.
    func post(_ events: [AppEvent]) {
        let wake = state.withLock { state in
            let wasEmpty = state.queue.isEmpty
            state.queue.append(contentsOf: events)
            return wasEmpty && !events.isEmpty && state.watched
        }
        if wake { Inbox.wake(writeFD, Inbox.eventByte) }
    }

    /// Wakes the UI thread if it sleeps with the pipe watched.
    func wakeIfWatched() {
        if state.withLock({ $0.watched }) { Inbox.wake(writeFD, Inbox.eventByte) }
    }

    /// The UI thread is about to sleep with the pipe watched, or has woken (`false`). Returns
    /// whether events wait: they were posted while it was not watched, and wrote no byte.
    func watch(_ watching: Bool) -> Bool {
        state.withLock { state in
            state.watched = watching
            return !state.queue.isEmpty
        }
    }

    func drain() -> [AppEvent] {
        state.withLock { state in
            defer { state.queue.removeAll(keepingCapacity: true) }
            return state.queue
        }
    }

    var isEmpty: Bool { state.withLock { $0.queue.isEmpty } }

    static let eventByte: UInt8 = 0x65
    static let resizeByte: UInt8 = 0x72
    /// Signals that end the screen write their own number, which no other byte is.
    static let quitSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Reads what is waiting in the wake pipe: whether the terminal was resized, and the first
    /// signal that ends the screen, if one came.
    func takeSignals() -> (resized: Bool, quit: Int32?) {
        var bytes = [UInt8](repeating: 0, count: 256)
        var taken: (resized: Bool, quit: Int32?) = (false, nil)
        while true {
            let count = read(readFD, &bytes, bytes.count)
            guard count > 0 else { return taken }
            taken.resized = taken.resized || bytes[0..<count].contains(Inbox.resizeByte)
            taken.quit = taken.quit ?? Inbox.quitSignals.first { bytes[0..<count].contains(UInt8($0)) }
        }
    }

    static func wake(_ fd: Int32, _ byte: UInt8) {
        var value = byte
        _ = write(fd, &value, 1)
    }
}

/// The write end of the wake pipe, for signal handlers, which may only make async-signal-safe calls.
nonisolated(unsafe) private var signalWakeFD: Int32 = -1

private let onSignal: @convention(c) (Int32) -> Void = { signal in
    var byte = signal == SIGWINCH ? Inbox.resizeByte : UInt8(truncatingIfNeeded: signal)
    _ = write(signalWakeFD, &byte, 1)
}

extension Inbox {
    /// Turns each of `signals` into a byte down the wake pipe: a resize byte for SIGWINCH, the
    /// signal's own number for the others.
    func catchSignals(_ signals: [Int32]) {
        signalWakeFD = writeFD
        for number in signals { signal(number, onSignal) }
    }
}
