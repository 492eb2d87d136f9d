import Foundation
import PersonaKit
import TerminalUI

#if canImport(Glibc)
import Glibc
#endif

/// Events from other threads to the UI thread: a locked queue, and one byte down a pipe to wake
/// the UI thread from `poll`.
final class Inbox: @unchecked Sendable {
    struct Posted {
        var event: AppEvent
        /// When it was posted, on the app's clock; frame latency is measured from here.
        var at: Double
    }

    let readFD: Int32
    let writeFD: Int32
    private let lock = NSLock()
    private var queue: [Posted] = []
    private let clock: @Sendable () -> Double

    init(clock: @escaping @Sendable () -> Double) {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        readFD = fds[0]
        writeFD = fds[1]
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        self.clock = clock
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    func post(_ event: AppEvent) {
        let wasEmpty = lock.withLock {
            queue.append(Posted(event: event, at: clock()))
            return queue.count == 1
        }
        // One wake-up per batch: a UI thread that is already awake will drain the rest.
        if wasEmpty { Inbox.wake(writeFD, Inbox.eventByte) }
    }

    func drain() -> [Posted] {
        lock.withLock {
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }

    static let eventByte: UInt8 = 0x65
    static let resizeByte: UInt8 = 0x72
    static let quitByte: UInt8 = 0x71

    static func wake(_ fd: Int32, _ byte: UInt8) {
        var value = byte
        _ = write(fd, &value, 1)
    }
}

/// The write end of the wake pipe, for signal handlers, which may only make async-signal-safe calls.
nonisolated(unsafe) private var signalWakeFD: Int32 = -1

private let onSignal: @convention(c) (Int32) -> Void = { signal in
    var byte = signal == SIGWINCH ? Inbox.resizeByte : Inbox.quitByte
    _ = write(signalWakeFD, &byte, 1)
}

/// Figures about one presented frame, for the benchmark.
public struct FrameReport: Sendable {
    /// When the frame was flushed, on the app's clock.
    public var presentedAt: Double
    /// Arrival times of the streamed tokens this frame is the first to show.
    public var tokenArrivals: [Double]
    /// Seconds spent drawing the state into a frame, and handing the changes to the screen.
    public var renderSeconds: Double
    public var presentSeconds: Double
}

/// Runs the chat screen: reads keys, receives engine events, reduces, and draws at most 60
/// frames a second, only when something changed. It sleeps in `poll` when idle.
public final class ChatController {
    public static let frameInterval = 1.0 / 60

    private var state: AppState
    private let screen: Screen
    private let engine: ConversationEngine
    private let workspace: Workspace
    private var personas: [String: Persona]
    private let inbox: Inbox
    private var decoder = KeyDecoder()
    private var turns: [String: Task<Void, Never>] = [:]
    private let clock: @Sendable () -> Double
    private var dirty = true
    private var lastFrame = -Double.infinity
    private var lastTick = 0.0
    private var escapeSince: Double?
    private var pendingArrivals: [Double] = []
    private let input: Int32
    /// Called after each frame is flushed.
    public var onFrame: ((FrameReport) -> Void)?

    public init(state: AppState, personas: [Persona], workspace: Workspace, screen: Screen,
                engine: ConversationEngine, input: Int32 = STDIN_FILENO) {
        let start = DispatchTime.now().uptimeNanoseconds
        let clock: @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000_000 }
        self.clock = clock
        self.state = state
        self.screen = screen
        self.engine = engine
        self.workspace = workspace
        self.personas = Dictionary(personas.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.input = input
        inbox = Inbox(clock: clock)
    }

    /// The state now; for tests and the benchmark.
    public var currentState: AppState { state }

    /// Posts events from any thread, as the engine does.
    public var poster: @Sendable (AppEvent) -> Void {
        let inbox = self.inbox
        return { inbox.post($0) }
    }

    /// Runs until the user quits. Returns when the screen may be restored.
    public func run(firstMessage: String? = nil) {
        signalWakeFD = inbox.writeFD
        for signalNumber in [SIGWINCH, SIGTERM, SIGHUP] { signal(signalNumber, onSignal) }
        defer {
            for signalNumber in [SIGWINCH, SIGTERM, SIGHUP] { signal(signalNumber, SIG_DFL) }
            for task in turns.values { task.cancel() }
        }
        let size = screen.refreshSize()
        dispatch(.resize(width: size.width, height: size.height))
        if let firstMessage, !firstMessage.isEmpty {
            dispatch(.key(.paste(firstMessage)))
            dispatch(.key(.enter))
        }
        while !state.shouldQuit {
            if clock() - lastFrame >= Self.frameInterval {
                drainInbox()
                drawIfDirty()
            }
            waitForInput()
        }
    }

    private func drawIfDirty() {
        guard dirty else { return }
        let started = clock()
        let (frame, cursor) = ChatView.render(state)
        let rendered = clock()
        screen.present(frame, cursor: cursor)
        lastFrame = clock()
        dirty = false
        if let onFrame {
            onFrame(FrameReport(presentedAt: lastFrame, tokenArrivals: pendingArrivals, renderSeconds: rendered - started,
                                presentSeconds: lastFrame - rendered))
        }
        pendingArrivals.removeAll(keepingCapacity: true)
    }

    /// Sleeps until input, the next frame, a pending Escape, or a counter tick is due.
    ///
    /// Engine events wake the loop only once a frame may be drawn: between frames they gather in
    /// the inbox behind a single wake-up, so thousands of tokens a second cost sixty wake-ups,
    /// not thousands.
    private func waitForInput() {
        let now = clock()
        let frameDue = lastFrame + Self.frameInterval
        let watchInbox = now >= frameDue
        var deadline = watchInbox ? Double.infinity : frameDue
        if let escapeSince { deadline = min(deadline, escapeSince + 0.025) }
        if state.isStreaming { deadline = min(deadline, lastTick + 0.25) }
        let timeout: Int32 = deadline.isInfinite ? -1 : Int32(max(0, ((deadline - now) * 1000).rounded(.up)))

        var fds = [pollfd(fd: input, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: watchInbox ? inbox.readFD : -1, events: Int16(POLLIN), revents: 0)]
        guard poll(&fds, 2, timeout) >= 0 else { return }
        if fds[0].revents & Int16(POLLIN | POLLHUP) != 0 { readKeys() }

        let after = clock()
        if let since = escapeSince, after - since >= 0.025 {
            escapeSince = nil
            for key in decoder.flushPendingEscape() { dispatch(.key(key)) }
        }
        if state.isStreaming, after - lastTick >= 0.25 {
            lastTick = after
            dispatch(.tick)
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
        var bytes = [UInt8](repeating: 0, count: 256)
        while true {
            let count = read(inbox.readFD, &bytes, bytes.count)
            guard count > 0 else { break }
            if bytes[0..<count].contains(Inbox.resizeByte) {
                let size = screen.refreshSize()
                dispatch(.resize(width: size.width, height: size.height))
            }
            if bytes[0..<count].contains(Inbox.quitByte) {
                for effect in ChatReducer.stopPanes(state.panes.indices, state: &state) { perform(effect) }
                state.shouldQuit = true
            }
        }
        for posted in inbox.drain() {
            if case .turn(_, _, .delta) = posted.event { pendingArrivals.append(posted.at) }
            dispatch(posted.event)
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
        case .runTurn(let personaID, let serial):
            startTurn(personaID, serial: serial)
        case .cancelTurn(let personaID):
            turns[personaID]?.cancel()
        case .changeModel(let personaID, let model):
            do {
                let endpoint = try workspace.providers.endpoint(for: model.provider)
                dispatch(.modelChanged(personaID: personaID, model: model, price: engine.accounting?.catalog.price(for: model),
                                       providerType: endpoint.type))
            } catch {
                dispatch(.notice("/model: \(error)"))
            }
        case .addPersona(let name):
            addPersona(name)
        case .showCosts:
            guard let ledger = engine.accounting?.ledger else { return dispatch(.notice("No cost ledger is open.")) }
            do {
                dispatch(.costsLoaded(try CostsReport.summaryLines(ledger, period: Ledger.Period())))
            } catch {
                dispatch(.notice("The cost ledger could not be read: \(error)"))
            }
        case .quit:
            state.shouldQuit = true
        }
    }

    private func startTurn(_ personaID: String, serial: Int) {
        guard let pane = state.panes.first(where: { $0.personaID == personaID }), let persona = personas[personaID] else { return }
        let endpoint: ProviderEndpoint
        do {
            endpoint = try workspace.providers.endpoint(for: pane.model.provider)
        } catch {
            let failure = ProviderError(kind: .auth, message: "\(error)")
            let unsent = ChatRequest(model: pane.model.model, system: persona.systemPrompt, messages: Self.messages(for: pane))
            dispatch(.turn(personaID: personaID, serial: serial, .failed(failure, .notSent(unsent))))
            return
        }
        let request = ChatRequest(model: pane.model.model, system: persona.systemPrompt, messages: Self.messages(for: pane),
                                  maxTokens: persona.maxTokens, temperature: persona.temperature)
        dispatch(.turn(personaID: personaID, serial: serial, .sent(estimatedInputTokens: TokenEstimator.estimate(request))))
        let turn = PlannedTurn(persona: persona, endpoint: endpoint, request: request, round: state.round)
        let inbox = self.inbox
        let engine = self.engine
        turns[personaID]?.cancel()
        turns[personaID] = Task.detached {
            await engine.run(turn) { event in
                let update: TurnUpdate
                switch event {
                case .request: return
                case .delta(_, let text): update = .delta(text)
                case .usage(_, let usage): update = .usage(usage)
                case .done(_, let report): update = .done(report)
                case .failed(_, let error, let report): update = .failed(error, report)
                }
                inbox.post(.turn(personaID: personaID, serial: serial, update))
            }
        }
    }

    /// What a persona sees in parallel mode: the user's messages and its own replies. The empty
    /// entry being streamed into and failed attempts are left out; stopped answers stay, since
    /// the user read them.
    static func messages(for pane: PaneState) -> [ChatMessage] {
        pane.entries.dropLast().compactMap { entry in
            switch (entry.role, entry.status) {
            case (.user, _): return ChatMessage(role: .user, content: entry.text)
            case (.assistant, .failed), (.assistant, .streaming): return nil
            case (.assistant, _): return entry.text.isEmpty ? nil : ChatMessage(role: .assistant, content: entry.text)
            }
        }
    }

    private func addPersona(_ name: String) {
        do {
            let member = try Roster.roster([try Roster.find(name, in: workspace)], override: nil, workspace: workspace)[0]
            personas[member.persona.id] = member.persona
            dispatch(.paneAdded(ChatSetup.pane(for: member, index: state.panes.count, catalog: engine.accounting?.catalog)))
        } catch {
            dispatch(.notice("/add: \(error)"))
        }
    }
}

/// Builds the chat screen's starting state.
public enum ChatSetup {
    public static func pane(for member: Roster.RosterMember, index: Int, catalog: PriceCatalog?) -> PaneState {
        PaneState(personaID: member.persona.id, name: member.persona.name,
                  color: Theme.personaColor(member.persona.color, index: index), model: member.model,
                  price: catalog?.price(for: member.model), providerType: member.endpoint.type)
    }

    /// The screen's first state: the roster's panes, the session's budget, and what the ledger
    /// holds for today.
    public static func state(for roster: [Roster.RosterMember], accounting: Accounting, workspace: Workspace,
                             width: Int, height: Int) async -> AppState {
        var state = AppState(session: accounting.session,
                             panes: roster.enumerated().map { pane(for: $1, index: $0, catalog: accounting.catalog) },
                             width: width, height: height)
        if let budget = accounting.budget {
            state.budgetUSD = await budget.sessionCap.map(Money.dollars)
        }
        state.warnAt = workspace.config.budget.warnAt
        let today = Ledger.Period(start: Calendar.current.startOfDay(for: Date()))
        state.spentTodayBeforeUSD = (try? accounting.ledger?.totals(in: today).micros).flatMap { $0 }.map(Money.dollars)
        return state
    }
}
