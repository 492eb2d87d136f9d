import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP for a headless run: the first stops the streams as Ctrl-C Ctrl-C
/// stops the chat screen, so every turn is recorded as cancelled with its text and the summary
/// is printed; the run then exits with 128 plus the signal's number. A second SIGINT or SIGTERM
/// exits at once.
public final class Interruption: Sendable {
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private struct State {
        var received: Int32?
        var handlers: [@Sendable () -> Void] = []
        var sources: [DispatchSourceSignal] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Takes the signals over from their default action, which would end the process at once.
    public func install() {
        state.withLock { state in
            for number in Self.signals {
                Glibc.signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [weak self] in self?.deliver(number) }
                source.resume()
                state.sources.append(source)
            }
        }
    }

    /// The signal that stopped the run, if one did.
    public var signal: Int32? { state.withLock { $0.received } }

    /// 128 plus the signal's number (130, 143, 129), as a shell reports a signalled command.
    public var exitCode: Int32? { signal.map { 128 + $0 } }

    /// Calls `body` when the first signal comes, or at once if it has come.
    public func onSignal(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if state.received == nil { state.handlers.append(body) }
            return state.received != nil
        }
        if now { body() }
    }

    func deliver(_ number: Int32) {
        let first = state.withLock { state in
            defer { if state.received == nil { state.received = number } }
            return state.received == nil ? state.handlers : nil
        }
        guard let first else {
            // A closing terminal sends its hangup twice (kernel and emulator); that is no one
            // asking twice, so only a second SIGINT or SIGTERM cuts the shutdown short.
            if number != SIGHUP { exit(128 + number) }
            return
        }
        for handler in first { handler() }
    }
}
