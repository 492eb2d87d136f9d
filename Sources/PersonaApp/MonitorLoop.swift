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
    private var dirty = true
    /// The signal (SIGINT, SIGTERM or SIGHUP) that ended the monitor, if one did.
    public private(set) var endedBySignal: Int32?

    public init(screen: Screen, source: MonitorSource, input: Int32 = STDIN_FILENO) {
        self.screen = screen
        self.source = source
        self.input = input
        state = MonitorState(width: screen.width, height: screen.height)
    }

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
            if dirty { screen.present(MonitorView.render(state), cursor: nil) }
            dirty = false
            let timeout = state.paused ? nil : max(0, nextRead.timeIntervalSinceNow)
            let readable = Readiness.wait(for: [input, wake.readFD], timeout: timeout)
            if readable.contains(input) { readKeys() }
            if readable.contains(wake.readFD) { readWakeBytes() }
        }
    }

    private func refresh() {
        dirty = true
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
        for key in keys where state.press(key) { dirty = true }
    }

    private func readWakeBytes() {
        let signals = wake.takeSignals()
        if signals.resized {
            let size = screen.refreshSize()
            (state.width, state.height) = (size.width, size.height)
            dirty = true
        }
        if let number = signals.quit {
            endedBySignal = endedBySignal ?? number
            state.quit = true
        }
    }
}
