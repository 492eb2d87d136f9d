import Foundation
import PersonaKit
import TerminalUI

/// The monitor's run loop: it reads a snapshot four times a second (unless paused), draws it,
/// and sleeps in `select` on the terminal and the signal pipe in between.
public final class MonitorLoop {
    public static let refreshSeconds = 0.25

    private var state: MonitorState
    private let screen: Screen
    private let source: MonitorSource
    private let input: Int32
    private let wake = Inbox()
    private var decoder = KeyDecoder()
    /// The signal (SIGINT, SIGTERM or SIGHUP) that ended the monitor, if one did.
    public private(set) var endedBySignal: Int32?

    public init(screen: Screen, source: MonitorSource, input: Int32 = STDIN_FILENO) {
        self.screen = screen
        self.source = source
        self.input = input
        state = MonitorState(width: screen.width, height: screen.height)
    }

    public var currentState: MonitorState { state }

    /// Runs until `q`, Ctrl-C or a signal.
    public func run() {
        wake.catchSignals([SIGWINCH] + Inbox.quitSignals)
        defer { for number in [SIGWINCH] + Inbox.quitSignals { signal(number, SIG_DFL) } }
        let size = screen.refreshSize()
        (state.width, state.height) = (size.width, size.height)
        var nextRead = Date.distantPast
        while !state.quit {
            if !state.paused, Date() >= nextRead {
                refresh()
                nextRead = Date().addingTimeInterval(Self.refreshSeconds)
            }
            screen.present(MonitorView.render(state), cursor: nil)
            let timeout = state.paused ? nil : max(0, nextRead.timeIntervalSinceNow)
            let readable = Readiness.wait(for: [input, wake.readFD], timeout: timeout)
            if readable.contains(input) { readKeys() }
            if readable.contains(wake.readFD) { readWakeBytes() }
        }
    }

    private func refresh() {
        switch source.read() {
        case .success(let snapshot):
            state.snapshot = snapshot
            state.problem = nil
        case .failure(let problem):
            state.problem = problem.description
        }
    }

    private func readKeys() {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = read(input, &buffer, buffer.count)
        guard count > 0 else {
            state.quit = true
            return
        }
        var keys = decoder.feed(Array(buffer[0..<count]))
        // A lone Escape is a key here: nothing follows it that could make it a sequence.
        if decoder.hasPendingEscape { keys += decoder.flushPendingEscape() }
        for key in keys { _ = state.press(key) }
    }

    private func readWakeBytes() {
        var bytes = [UInt8](repeating: 0, count: 256)
        while true {
            let count = read(wake.readFD, &bytes, bytes.count)
            guard count > 0 else { break }
            if bytes[0..<count].contains(Inbox.resizeByte) {
                let size = screen.refreshSize()
                (state.width, state.height) = (size.width, size.height)
            }
            if let number = Inbox.quitSignals.first(where: { bytes[0..<count].contains(UInt8($0)) }) {
                endedBySignal = endedBySignal ?? number
                state.quit = true
            }
        }
    }
}
