import Foundation
import PersonaKit
import TerminalUI

#if canImport(Glibc)
import Glibc
#endif

/// Events from other threads to the UI thread: a locked queue, and one byte down a pipe to wake
/// the UI thread from `select`.
///
/// The byte is written only while the UI thread sleeps with the pipe watched. Between frames it
/// sleeps until its next frame whatever arrives, and a byte per reading pass would be two system
/// calls, a write here and a read there, for nothing.
final class Inbox: @unchecked Sendable {
    let readFD: Int32
    let writeFD: Int32
    private let lock = NSLock()
    private var queue: [AppEvent] = []
    private var watched = false

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
        let wake = lock.withLock {
            queue.append(event)
            return queue.count == 1 && watched
        }
        // One wake-up per batch: a UI thread that is already awake will drain the rest.
        if wake { Inbox.wake(writeFD, Inbox.eventByte) }
    }

    /// Posts events that must reach the screen in the same frame.
    func post(_ events: [AppEvent]) {
        let wake = lock.withLock {
            let wasEmpty = queue.isEmpty
            queue.append(contentsOf: events)
            return wasEmpty && !events.isEmpty && watched
        }
        if wake { Inbox.wake(writeFD, Inbox.eventByte) }
    }

    /// Wakes the UI thread if it sleeps with the pipe watched.
    func wakeIfWatched() {
        if lock.withLock({ watched }) { Inbox.wake(writeFD, Inbox.eventByte) }
    }

    /// The UI thread is about to sleep with the pipe watched, or has woken (`false`). Returns
    /// whether events wait: they were posted while it was not watched, and wrote no byte.
    func watch(_ watching: Bool) -> Bool {
        lock.withLock {
            watched = watching
            return !queue.isEmpty
        }
    }

    func drain() -> [AppEvent] {
        lock.withLock {
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }

    var isEmpty: Bool { lock.withLock { queue.isEmpty } }

    static let eventByte: UInt8 = 0x65
    static let resizeByte: UInt8 = 0x72
    /// Signals that end the screen write their own number, which no other byte is.
    static let quitSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

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

/// Figures about one presented frame, for the benchmark, and the state it showed, for tests.
public struct FrameReport: Sendable {
    /// Seconds spent drawing the state into a frame, and handing the changes to the screen.
    public var renderSeconds: Double
    public var presentSeconds: Double
    public var state: AppState
}

/// Runs the chat screen: reads keys, receives engine events, reduces, and draws at most 60
/// frames a second, only when something changed. It sleeps in `select` when idle.
public final class ChatController {
    public static let frameInterval = 1.0 / 60
    /// Frames start at most once per tick, on the ticks the transfer thread reads on.
    static let frames = Cadence(seconds: frameInterval)

    private var state: AppState
    private let screen: Screen
    private let engine: ConversationEngine
    private var planner: TurnPlanner
    private var workspace: Workspace { planner.workspace }
    private var personas: [String: Persona]
    private let inbox: Inbox
    private var decoder = KeyDecoder()
    private let store: SessionStore?
    /// The saved conversation so far, as the personas' prompts are built from it.
    private var transcript: [TranscriptMessage]
    private var conversation: Task<Void, Never>?
    /// Every conversation started: quitting waits for their stopped turns to record what they cost.
    private var conversations: [Task<Void, Never>] = []
    private var control = DebateControl()
    private let clock: @Sendable () -> Double
    /// The uptime at which `clock` reads zero.
    private let clockStart: UInt64
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
    /// `--budget`, which `/reload` keeps over the config's session cap.
    private let budgetOverride: Decimal?
    private let input: Int32
    /// Called after each frame is flushed.
    public var onFrame: ((FrameReport) -> Void)?

    public init(state: AppState, personas: [Persona], planner: TurnPlanner, screen: Screen,
                engine: ConversationEngine, store: SessionStore? = nil, transcript: [TranscriptMessage] = [],
                budgetOverride: Decimal? = nil, input: Int32 = STDIN_FILENO) {
        self.store = store
        self.budgetOverride = budgetOverride
        self.transcript = transcript
        let start = DispatchTime.now().uptimeNanoseconds
        let clock: @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000_000 }
        self.clock = clock
        clockStart = start
        self.state = state
        self.screen = screen
        self.engine = engine
        self.planner = planner
        self.personas = Dictionary(personas.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.input = input
        inbox = Inbox()
    }

    /// The state now; for tests and the benchmark.
    public var currentState: AppState { state }

    /// Posts events from any thread, as the engine does.
    public var poster: @Sendable (AppEvent) -> Void {
        let inbox = self.inbox
        return { inbox.post($0) }
    }

    /// The signal (SIGINT, SIGTERM or SIGHUP) that ended the screen, if one did: the command then
    /// exits with 128 plus its number.
    public private(set) var endedBySignal: Int32?

    /// Runs the screen on a thread of its own until the user quits; returns when the screen may be
    /// restored, and `settle` then waits for the stopped turns. The loop blocks in `select`, and a
    /// cooperative thread blocked for a whole session would leave the engine's tasks one thread fewer.
    public func runOnOwnThread(firstMessage: String? = nil, welcome: Bool = false) async {
        let controller = UncheckedBox(self)
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                controller.value.run(firstMessage: firstMessage, welcome: welcome)
                finished.resume()
            }
            thread.name = "persona-ui"
            thread.start()
        }
    }

    /// Waits, at most `settleSeconds`, for the turns quitting stopped to record what they cost and
    /// what they streamed.
    public func settle() async {
        await Self.settle(conversations, within: Self.settleSeconds)
    }

    /// How long quitting waits for stopped turns to write their costs to the ledger and their
    /// text to the transcript; they usually take milliseconds.
    static let settleSeconds = 3.0

    /// Waits until `tasks` have finished, or `seconds` have passed.
    static func settle(_ tasks: [Task<Void, Never>], within seconds: Double) async {
        guard !tasks.isEmpty else { return }
        await withCheckedContinuation { (settled: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(settled)
            Task {
                for task in tasks { await task.value }
                once.resume()
            }
            Task {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                once.resume()
            }
        }
    }

    /// Runs the screen on the calling thread until quit. The first message goes out before the
    /// welcome opens, so the overlay's any-key-closes cannot swallow it and the answers stream behind it.
    private func run(firstMessage: String?, welcome: Bool) {
        try? "persona-ui".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        signalWakeFD = inbox.writeFD
        for signalNumber in [SIGWINCH] + Inbox.quitSignals { signal(signalNumber, onSignal) }
        // Tokens cannot show before the next frame, so the transfer thread reads once a frame:
        // each pass then carries every stream's tokens to the screen together.
        let transport = CurlTransport.shared
        let printerPace = transport.cadence
        transport.cadence = Self.frames
        let inbox = self.inbox
        transport.backlog.onCaughtUp { inbox.wakeIfWatched() }
        defer {
            // A second SIGINT or SIGTERM while the stopped turns settle ends the process at once. A
            // hangup comes twice when a terminal closes (from the kernel and from the emulator), and
            // there is nobody left to be impatient, so it never cuts the settling short.
            for signalNumber in [SIGWINCH, SIGINT, SIGTERM] { signal(signalNumber, SIG_DFL) }
            signal(SIGHUP, SIG_IGN)
            for started in conversations { started.cancel() }
            transport.backlog.onCaughtUp(nil)
            transport.cadence = printerPace
        }
        let size = screen.refreshSize()
        dispatch(.resize(width: size.width, height: size.height))
        if let firstMessage, !firstMessage.isEmpty {
            dispatch(.key(.paste(firstMessage)))
            dispatch(.key(.enter))
        }
        if welcome { dispatch(.reportLoaded(FirstRun.welcome(workspace, roster: state.panes.map(\.name)))) }
        while !state.shouldQuit {
            let now = clock()
            if now >= frameDue, readingCaughtUp(now) {
                drainInbox()
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
        let cursor = ChatView.render(state, into: &frame)
        let rendered = clock()
        screen.present(frame, cursor: cursor)
        spareFrame = shownFrame
        shownFrame = frame
        // One frame per slot. A slot opens a little after the transfer thread's reading pass, when
        // the pass's tokens have usually reached the inbox.
        let offset = UInt64(Self.slotOffset * 1e9)
        let nextSlot = Self.frames.tick(after: clockStart + UInt64(started * 1e9) - offset) + offset
        frameDue = Double(nextSlot - clockStart) / 1e9
        let presented = clock()
        dirty = false
        if let onFrame {
            onFrame(FrameReport(renderSeconds: rendered - started, presentSeconds: presented - rendered, state: state))
        }
    }

    /// How long after a reading pass a frame slot opens: about the time its tokens take to be
    /// decoded, so that most frames need one wake-up.
    static let slotOffset = 0.001
    /// How long a frame waits past its slot for the readers of the last pass: a reader whose task
    /// started late would otherwise leave its tokens for the next frame, 17 ms later.
    static let readingPatience = 0.0025

    /// Whether the frame may be drawn: every stream of the last pass has been decoded and its
    /// events posted, or the frame has waited long enough.
    private func readingCaughtUp(_ now: Double) -> Bool {
        inbox.isEmpty || CurlTransport.shared.backlog.isEmpty || now >= frameDue + Self.readingPatience
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
        if watchInbox, eventsWait, CurlTransport.shared.backlog.isEmpty { deadline = now }
        if let escapeSince { deadline = min(deadline, escapeSince + 0.025) }
        if state.isStreaming { deadline = min(deadline, lastTick + 0.25) }
        if engine.accounting?.ledger != nil { deadline = min(deadline, ledgerReadAt + Self.ledgerRefreshSeconds) }

        let readable = Self.waitReadable([input, inbox.readFD],
                                         timeout: deadline.isInfinite ? nil : max(0, deadline - now))
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
        if after - ledgerReadAt >= Self.ledgerRefreshSeconds { readLedgerFigures() }
    }

    /// How often the header re-reads the ledger while nothing of this screen's is recorded:
    /// other windows, scripts and processes spend today too.
    static let ledgerRefreshSeconds = 5.0

    /// Reads the session's and today's totals off the UI thread; they arrive as an event.
    private func readLedgerFigures() {
        ledgerReadAt = clock()
        guard let ledger = engine.accounting?.ledger else { return }
        let (inbox, session) = (self.inbox, state.session)
        Task.detached {
            if let totals = LedgerFigures.read(ledger, session: session) { inbox.post(totals) }
        }
    }

    /// Waits until one of `descriptors` can be read or `timeout` seconds pass, and returns those
    /// that can. It is `select`, because `poll` counts whole milliseconds, and a frame rounded
    /// up a millisecond is a millisecond of latency; `poll` remains for descriptors past select's limit.
    private static func waitReadable(_ descriptors: [Int32], timeout: Double?) -> [Int32] {
        guard descriptors.allSatisfy({ $0 < FD_SETSIZE }) else {
            var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let millis = timeout.map { Int32(($0 * 1000).rounded(.up)) } ?? -1
            guard poll(&fds, nfds_t(fds.count), millis) > 0 else { return [] }
            return fds.filter { $0.revents & Int16(POLLIN | POLLHUP) != 0 }.map(\.fd)
        }
        var set = fd_set()
        withUnsafeMutableBytes(of: &set) { raw in
            let words = raw.bindMemory(to: Int.self)
            for fd in descriptors { words[Int(fd) / Int.bitWidth] |= 1 << (Int(fd) % Int.bitWidth) }
        }
        let micros = Int(((timeout ?? 0) * 1e6).rounded(.up))
        var limit = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        let count = timeout == nil ? select(descriptors.max()! + 1, &set, nil, nil, nil)
            : select(descriptors.max()! + 1, &set, nil, nil, &limit)
        guard count > 0 else { return [] }
        return withUnsafeBytes(of: &set) { raw in
            let words = raw.bindMemory(to: Int.self)
            return descriptors.filter { words[Int($0) / Int.bitWidth] & (1 << (Int($0) % Int.bitWidth)) != 0 }
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

    private func drainInbox() {
        for event in inbox.drain() {
            if case .saved(let message) = event { transcript.append(message) }
            dispatch(event)
        }
    }

    /// Takes the wake-up pipe's bytes and acts on the signals among them (resize, quit).
    private func readWakeBytes() {
        var bytes = [UInt8](repeating: 0, count: 256)
        while true {
            let count = read(inbox.readFD, &bytes, bytes.count)
            guard count > 0 else { break }
            if bytes[0..<count].contains(Inbox.resizeByte) {
                let size = screen.refreshSize()
                dispatch(.resize(width: size.width, height: size.height))
            }
            if let number = Inbox.quitSignals.first(where: { bytes[0..<count].contains(UInt8($0)) }) {
                endedBySignal = endedBySignal ?? number
                for effect in ChatReducer.stopPanes(state.panes.indices, state: &state) { perform(effect) }
                state.shouldQuit = true
            }
        }
    }

    private func dispatch(_ event: AppEvent) {
        let effects = ChatReducer.reduce(&state, event, at: clock())
        dirty = true
        for effect in effects { perform(effect) }
    }

    // MARK: Effects

    private func perform(_ effect: AppEffect) {
        switch effect {
        case .converse(let message):
            converse(message, regenerating: nil)
        case .regenerate(let personaID):
            converse(nil, regenerating: personaID)
        case .interject(let message):
            control.interject(message)
        case .cancelTurn(let personaID):
            control.stop(personaID)
        case .stopConversation:
            conversation?.cancel()
        case .changeModel(let personaID, let model):
            do {
                let endpoint = try workspace.providers.endpoint(for: model.provider)
                dispatch(.modelChanged(personaID: personaID, model: model, price: engine.accounting?.catalog.price(for: model),
                                       providerType: endpoint.type))
            } catch {
                dispatch(.notice("/model: \(error)"))
            }
        case .addPersona(let name):
            do { dispatch(.paneAdded(try joiningPane(name, asJudge: false))) } catch { dispatch(.notice("/add: \(error)")) }
        case .setJudge(let name):
            guard let name else { return dispatch(.judgeSet(nil)) }
            do { dispatch(.judgeSet(try joiningPane(name, asJudge: true))) } catch { dispatch(.notice("/judge: \(error)")) }
        case .newSession:
            conversation?.cancel()
            transcript = []
            dispatch(.sessionStarted(SessionID.make()))
            readLedgerFigures()
        case .showCosts:
            guard let ledger = engine.accounting?.ledger else { return dispatch(.notice("No cost ledger is open.")) }
            do {
                dispatch(.reportLoaded(try CostsReport.overlayLines(ledger, session: state.session)))
            } catch {
                dispatch(.notice("The cost ledger could not be read: \(error)"))
            }
        case .showProviders:
            let choice = workspace.defaultChoice.map { ["Default model: \($0.model), because \($0.reason).", ""] } ?? []
            guard let health = engine.health else { return dispatch(.reportLoaded(choice + DoctorReport.overlay([]))) }
            let inbox = self.inbox
            Task.detached { inbox.post(.reportLoaded(choice + DoctorReport.overlay(await health.status()))) }
        case .showWelcome:
            dispatch(.reportLoaded(FirstRun.welcome(workspace, roster: state.panes.map(\.name))))
        case .reload:
            reload()
        case .quit:
            state.shouldQuit = true
        }
    }

    /// Runs the conversation for a new message in the current mode, or answers the last message
    /// again with one persona. Its events come back through the inbox.
    private func converse(_ message: String?, regenerating: String?) {
        let plan: DebatePlan
        do {
            plan = try currentPlan(only: regenerating)
        } catch {
            dispatch(.notice("\(error)"))
            dispatch(.conversationEnded(.cancelled))
            return
        }
        control = DebateControl()
        let control = self.control
        let runner = DebateRunner(engine: engine, store: store)
        let relay = ConversationRelay(inbox: inbox, ledger: engine.accounting?.ledger, session: plan.session.id)
        var history = transcript
        if let regenerating, let last = history.lastIndex(where: { $0.speaker == regenerating && $0.role == .persona }) {
            history.remove(at: last)
        }
        let started = message.map { runner.start(plan, message: $0, history: history, control: control, emit: relay.relay) }
            ?? runner.startRerun(plan, personaID: regenerating ?? "", history: history, control: control, emit: relay.relay)
        conversation = started
        conversations.append(started)
    }

    /// The conversation as the screen stands: its panes' personas on their models, mode, rounds
    /// and judge, through the planner every command shares.
    private func currentPlan(only personaID: String?) throws -> DebatePlan {
        let panes = state.panes.filter { $0.personaID != state.judgeID && (personaID == nil || $0.personaID == personaID) }
        let models = Dictionary(state.panes.map { ($0.personaID, $0.model) }, uniquingKeysWith: { first, _ in first })
        func persona(_ id: String) throws -> Persona {
            guard let persona = personas[id] else { throw UsageError("persona \(id) is not loaded") }
            return persona
        }
        let participants = try planner.participants(try panes.map { try persona($0.personaID) }, models: models)
        var judge: Participant?
        if let judgeID = state.judgeID, state.mode != .parallel {
            judge = try planner.participants([try persona(judgeID)], models: models).first
        }
        let topic = transcript.first(where: { $0.role == .user })?.text ?? state.input.history.last ?? ""
        return try planner.conversation(id: state.session, topic: topic, mode: state.mode,
                                        rounds: state.mode == .parallel ? nil : state.debateRounds, participants: participants,
                                        judge: judge)
    }

    /// Re-reads the config and persona files, and applies a changed budget at once. An invalid
    /// file leaves everything as it was.
    private func reload() {
        var fresh = Workspace.load(paths: workspace.paths, environment: workspace.environment)
        if let problem = fresh.issues.first(where: { $0.severity == .error }) {
            return dispatch(.notice("Not reloaded, the running config stays: \(problem)"))
        }
        let caps: BudgetCaps
        do { caps = try AccountingSetup.caps(fresh.config.budget, sessionOverride: budgetOverride) } catch {
            return dispatch(.notice("Not reloaded, the running config stays: \(error)"))
        }
        if fresh.config.defaultModel == nil { fresh.config.defaultModel = workspace.config.defaultModel }
        fresh.defaultChoice = workspace.defaultChoice
        planner = TurnPlanner(workspace: fresh, model: planner.model)
        for pane in state.panes {
            if let persona = fresh.persona(named: pane.personaID) { personas[pane.personaID] = persona }
        }
        engine.accounting?.budget.caps = caps
        dispatch(.budgetChanged(caps, warnAtPermille: ChatSetup.permille(fresh.config.budget.warnAt)))
        dispatch(.notice("Reloaded \(fresh.paths.configFile) and \(fresh.personas.count) personas; the session goes on."
            + (caps.isEmpty ? "" : " Budget: " + ChatSetup.describe(caps) + ".")))
    }

    /// A persona joining mid-session, as a participant (`/add`) or the judge (`/judge`), on the
    /// model the planner gives it: known to the engine from now on.
    private func joiningPane(_ name: String, asJudge: Bool) throws -> PaneState {
        let persona = try planner.find(name)
        let firstModel = state.panes.first { $0.personaID != state.judgeID }?.model
        let member = asJudge ? try planner.supporting(persona.id, firstModel: firstModel) : try planner.participants([persona])[0]
        personas[member.persona.id] = member.persona
        return ChatSetup.pane(for: member, index: state.panes.count, catalog: engine.accounting?.catalog)
    }
}

/// The header's ledger figures: the session's and today's totals, read together.
enum LedgerFigures {
    static func read(_ ledger: Ledger, session: String) -> AppEvent? {
        guard let sessionTotals = try? ledger.totals(session: session), let today = try? ledger.totals(in: .day()) else { return nil }
        return .ledgerTotals(session: session, sessionTotals: sessionTotals, today: today)
    }
}

/// Hands a conversation's events to the inbox as app events, from the turns' own tasks.
private final class ConversationRelay: Sendable {
    private let inbox: Inbox
    private let ledger: Ledger?
    private let session: String

    init(inbox: Inbox, ledger: Ledger?, session: String) {
        self.inbox = inbox
        self.ledger = ledger
        self.session = session
    }

    func relay(_ event: DebateEvent) {
        switch event {
        case .saved(let saved):
            inbox.post(.saved(saved))
        case .round(let current, let total):
            inbox.post(.roundStarted(current, of: total))
        case .turn(let turnEvent) where turnEvent.endsAnAttempt:
            // The ledger's fresh totals come in the same frame as the event that follows a
            // recorded request: the running turn's estimate leaves the header as its row joins it.
            var events = ledger.flatMap { LedgerFigures.read($0, session: session) }.map { [$0] } ?? []
            if case .failed(let error, _) = turnEvent.kind, error.kind == .ledger { events.append(.ledgerFailed(error.message)) }
            inbox.post(events + [.turn(turnEvent)])
        case .turn(let turnEvent):
            // Deltas come thousands of times a second: one event, no array.
            inbox.post(.turn(turnEvent))
        case .moderatorChose(_, let persona, _, let fallback):
            inbox.post(.notice(fallback ? "The moderator named nobody; \(persona) speaks next."
                : "The moderator gives the floor to \(persona)."))
        case .consensus:
            break
        case .finished(let end):
            inbox.post(.conversationEnded(end))
        }
    }
}

/// Resumes a continuation the first time it is asked to, whichever of several tasks asks first.
private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?

    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }

    func resume() {
        let pending = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        pending?.resume()
    }
}

/// Hands a value that is used by one thread at a time to another thread.
private final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Builds the chat screen's starting state.
public enum ChatSetup {
    public static func pane(for member: Participant, index: Int, catalog: PriceCatalog?) -> PaneState {
        PaneState(personaID: member.persona.id, name: member.persona.name,
                  color: Theme.personaColor(member.persona.color, index: index), model: member.model,
                  price: catalog?.price(for: member.model), providerType: member.endpoint.type)
    }

    /// The screen's first state: the roster's panes, the caps, and what the ledger holds for the
    /// session (a resumed one has spent already) and for today.
    public static func state(for roster: [Participant], session: String, accounting: Accounting, workspace: Workspace,
                             width: Int, height: Int, mode: ConversationMode = .parallel, rounds: Int = 3,
                             judge: Participant? = nil, resumed: [TranscriptMessage] = []) -> AppState {
        var panes = roster.enumerated().map { pane(for: $1, index: $0, catalog: accounting.catalog) }
        if let judge { panes.append(pane(for: judge, index: panes.count, catalog: accounting.catalog)) }
        var state = AppState(session: session, panes: panes, width: width, height: height)
        state.mode = mode
        state.debateRounds = rounds
        state.judgeID = judge?.persona.id
        refill(&state, from: resumed)
        state.caps = accounting.budget.caps
        state.warnAtPermille = permille(workspace.config.budget.warnAt)
        if let ledger = accounting.ledger, case .ledgerTotals(_, let sessionTotals, let today)? = LedgerFigures.read(ledger, session: session) {
            state.sessionSpent = sessionTotals
            state.todaySpent = today
        }
        return state
    }

    static func permille(_ fraction: Decimal) -> Int {
        NSDecimalNumber(decimal: fraction * 1000).intValue
    }

    /// `session $1.00, daily $10.00`.
    static func describe(_ caps: BudgetCaps) -> String {
        [caps.session.map { "session " + Money.format(picos: $0) }, caps.daily.map { "daily " + Money.format(picos: $0) }]
            .compactMap { $0 }.joined(separator: ", ")
    }

    /// Refills the panes from a saved session: the user's messages in every pane, and each answer
    /// in its persona's. What the session spent comes from the ledger.
    static func refill(_ state: inout AppState, from messages: [TranscriptMessage]) {
        for message in messages {
            switch message.role {
            case .user:
                ChatReducer.appendUserEntry(message.text, state: &state)
            case .persona, .judge:
                guard let index = state.panes.firstIndex(where: { $0.personaID == message.speaker }) else { continue }
                let status: TranscriptEntry.Status = message.status == .complete ? .complete
                    : message.status == .stopped ? .stopped : .failed(message.error ?? "failed")
                state.panes[index].entries.append(TranscriptEntry(id: state.nextEntryID, role: .assistant, text: message.text, status: status))
                state.nextEntryID += 1
            case .moderator:
                break
            }
            state.round = max(state.round, message.round)
        }
    }
}
