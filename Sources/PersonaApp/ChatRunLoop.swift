import Foundation
import PersonaKit
import TerminalUI

/// The chat screen's run loop: it sleeps in `select` on the terminal and the inbox's wake pipe,
/// takes keys, signals and engine events, reduces them, hands the effects to the session, and
/// draws at most 60 frames a second, only when something changed.
public final class ChatRunLoop {
    public static let frameInterval = 1.0 / 60
    /// Frames start at most once per tick, on the ticks the transfer thread reads on.
    static let frames = Cadence(seconds: frameInterval)
    /// How long after a reading pass a frame slot opens: about the time its tokens take to be
    /// decoded, so that most frames need one wake-up.
    static let slotOffset = 0.001
    /// How long a frame waits past its slot for the readers of the last pass: a reader whose task
    /// started late would otherwise leave its tokens for the next frame, 17 ms later.
    static let readingPatience = 0.0025
    /// How often the header re-reads the ledger while nothing of this screen's is recorded:
    /// other windows, scripts and processes spend today too.
    static let ledgerRefreshSeconds = 5.0

    private var state: AppState
    let screen: Screen
    let session: ChatSession
    private let inbox: Inbox
    private let delivery: any StreamDelivery
    private let renderer = ChatRenderer()
    private var decoder = KeyDecoder()
    private let input: Int32
    /// The uptime at which the loop's clock reads zero.
    private let clockStart = MonotonicClock.now
    private var dirty = true
    /// The last frame drawn, which the screen keeps to diff the next one against, and the one
    /// before it, whose buffer the next frame is drawn into.
    private var shownFrame: CellBuffer?
    private var spareFrame: CellBuffer?
    private var frameDue = 0.0
    private var lastTick = 0.0
    private var escapeSince: Double?
    /// When the header's ledger figures were last read; other processes spend too.
    private var ledgerReadAt = 0.0
    /// Called after each frame is flushed.
    public var onFrame: ((FrameReport) -> Void)?
    /// The signal (SIGINT, SIGTERM or SIGHUP) that ended the screen, if one did: the command then
    /// exits with 128 plus its number.
    public private(set) var endedBySignal: Int32?

    /// A loop for `state` on `screen`, whose conversation runs on `engine` as `planner` plans it.
    public init(state: AppState, screen: Screen, engine: ConversationEngine, planner: TurnPlanner, personas: [Persona],
                store: SessionStore? = nil, transcript: [TranscriptMessage] = [], budgetOverride: Decimal? = nil,
                maxTokens: Int? = nil, input: Int32 = STDIN_FILENO) {
        inbox = Inbox()
        session = ChatSession(engine: engine, planner: planner, personas: personas, store: store, transcript: transcript,
                              budgetOverride: budgetOverride, maxTokens: maxTokens, sink: inbox)
        self.state = state
        self.screen = screen
        self.input = input
        delivery = session.delivery
    }

    /// The state now; for tests and the benchmark.
    public var currentState: AppState { state }

    /// Posts events from any thread, as the engine does.
    public var poster: @Sendable (AppEvent) -> Void { { [inbox] in inbox.post($0) } }

    private func clock() -> Double { MonotonicClock.seconds(from: clockStart) }

    /// Runs the screen on a thread of its own until the user quits; returns when the screen may be
    /// restored, and `settle` then waits for the stopped turns. The loop blocks in `select`, and a
    /// cooperative thread blocked for a whole session would leave the engine's tasks one thread fewer.
    public func runOnOwnThread(firstMessage: String? = nil, welcome: Bool = false) async {
        let loop = UncheckedBox(self)
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                loop.value.run(firstMessage: firstMessage, welcome: welcome)
                finished.resume()
            }
            thread.name = "persona-ui"
            thread.start()
        }
    }

    /// Waits for the turns quitting stopped to record what they cost and streamed, then records
    /// the session's setup; returns how to name it to resume it (`ChatSession.recordSetup`).
    @discardableResult
    public func settle() async -> String? {
        await session.settle()
        return session.recordSetup(state)
    }

    /// Runs the screen on the calling thread until quit. With the welcome, the first message
    /// waits until it closes, so that nothing streams behind it.
    private func run(firstMessage: String?, welcome: Bool) {
        try? "persona-ui".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        inbox.catchSignals([SIGWINCH] + Inbox.quitSignals)
        // Tokens cannot show before the next frame, so the transfer thread reads once a frame:
        // each pass then carries every stream's tokens to the screen together.
        let printerPace = delivery.cadence
        delivery.cadence = Self.frames
        delivery.onCaughtUp { [inbox] in inbox.wakeIfWatched() }
        defer {
            // A second SIGINT or SIGTERM while the stopped turns settle ends the process at once. A
            // hangup comes twice when a terminal closes (from the kernel and from the emulator), and
            // there is nobody left to be impatient, so it never cuts the settling short.
            for signalNumber in [SIGWINCH, SIGINT, SIGTERM] { signal(signalNumber, SIG_DFL) }
            signal(SIGHUP, SIG_IGN)
            session.stopAll()
            delivery.onCaughtUp(nil)
            delivery.cadence = printerPace
        }
        let size = screen.refreshSize()
        dispatch(.resize(width: size.width, height: size.height))
        let topic = firstMessage.flatMap { $0.isEmpty ? nil : $0 }
        if welcome {
            state.pendingTopic = topic
            perform(.showWelcome)
        } else if let topic {
            dispatch(.key(.paste(topic)))
            dispatch(.key(.enter))
        }
        while !state.shouldQuit {
            if clock() >= frameDue, readingCaughtUp(clock()) {
                for event in inbox.drain() { dispatch(event) }
                drawIfDirty()
            }
            waitForInput()
        }
    }

    private func drawIfDirty() {
        guard dirty else { return }
        let started = clock()
        // The frame shown two draws ago is no longer the screen's to compare with: draw into it.
        var frame = spareFrame ?? CellBuffer(width: 0, height: 0)
        spareFrame = nil
        let cursor = renderer.render(state, into: &frame)
        let rendered = clock()
        screen.present(frame, cursor: cursor)
        spareFrame = shownFrame
        shownFrame = frame
        // One frame per slot. A slot opens a little after the transfer thread's reading pass, when
        // the pass's tokens have usually reached the inbox.
        let offset = MonotonicClock.nanoseconds(Self.slotOffset)
        let nextSlot = Self.frames.tick(after: clockStart + MonotonicClock.nanoseconds(started) - offset) + offset
        frameDue = MonotonicClock.seconds(from: clockStart, to: nextSlot)
        dirty = false
        onFrame?(FrameReport(renderSeconds: rendered - started, presentSeconds: clock() - rendered, state: state))
    }

    /// Whether the frame may be drawn: every stream of the last pass has been decoded and its
    /// events posted, or the frame has waited long enough.
    private func readingCaughtUp(_ now: Double) -> Bool {
        inbox.isEmpty || delivery.isCaughtUp || now >= frameDue + Self.readingPatience
    }

    /// Sleeps until input, the next frame, a pending Escape, or a counter tick is due.
    ///
    /// Engine events wake the loop only once a frame may be drawn: between frames they gather in
    /// the inbox behind a single wake-up, so thousands of tokens a second cost sixty wake-ups,
    /// not thousands.
    private func waitForInput() {
        let now = clock()
        // Before the slot the inbox is not watched: events gather behind one wake-up. After it, a
        // post or the readers catching up wakes the loop; with events waiting, only until the
        // frame's patience runs out. The pipe itself is always in the set, since signals write
        // to it whenever they come: a pipe with nothing in it costs no read each frame.
        let watchInbox = now >= frameDue
        let eventsWait = inbox.watch(watchInbox)
        var deadline = !watchInbox ? frameDue : !eventsWait ? Double.infinity : frameDue + Self.readingPatience
        // Readers that caught up before the pipe was watched wrote no byte: draw now.
        if watchInbox, eventsWait, delivery.isCaughtUp { deadline = now }
        if let escapeSince { deadline = min(deadline, escapeSince + 0.025) }
        if state.isStreaming { deadline = min(deadline, lastTick + 0.25) }
        if session.hasLedger { deadline = min(deadline, ledgerReadAt + Self.ledgerRefreshSeconds) }

        let readable = Readiness.wait(for: [input, inbox.readFD], timeout: deadline.isInfinite ? nil : max(0, deadline - now))
        _ = inbox.watch(false)
        if readable.contains(input) { readKeys() }
        if readable.contains(inbox.readFD) { readWakeBytes() }

        let after = clock()
        if let since = escapeSince, after - since >= 0.025 {
            escapeSince = nil
            for key in decoder.flushPendingEscape() { dispatch(.key(key)) }
        }
        if state.isStreaming, after - lastTick >= 0.25 {
            lastTick = after
            dispatch(.tick)
        }
        if after - ledgerReadAt >= Self.ledgerRefreshSeconds {
            ledgerReadAt = after
            session.refreshLedgerFigures(session: state.session)
        }
    }

    private func readKeys() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(input, &buffer, buffer.count)
        guard count > 0 else {
            // The terminal went away: quit rather than spin.
            state.shouldQuit = true
            return
        }
        for key in decoder.feed(Array(buffer[0..<count])) { dispatch(.key(key)) }
        escapeSince = decoder.hasPendingEscape ? clock() : nil
    }

    /// Takes the wake-up pipe's bytes and acts on the signals among them (resize, quit).
    private func readWakeBytes() {
        let signals = inbox.takeSignals()
        if signals.resized {
            let size = screen.refreshSize()
            dispatch(.resize(width: size.width, height: size.height))
        }
        if let number = signals.quit {
            endedBySignal = endedBySignal ?? number
            for effect in ChatReducer.stopPanes(state.panes.indices, state: &state) { perform(effect) }
            state.shouldQuit = true
        }
    }

    func dispatch(_ event: AppEvent) {
        session.note(event)
        let effects = ChatReducer.reduce(&state, event, at: clock())
        dirty = true
        for effect in effects { perform(effect) }
    }

    private func perform(_ effect: AppEffect) {
        if let events = performOnTerminal(effect) {
            for event in events { dispatch(event) }
            return
        }
        for event in session.perform(effect, state: state) { dispatch(event) }
    }
}

/// Hands a value that is used by one thread at a time to another thread.
private final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
