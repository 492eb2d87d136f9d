import Foundation
import Synchronization
import PersonaKit

/// The chat screen's conversation, without the screen: it turns the effects of `ChatReducer`
/// into plans and engine calls, and relays what the engine reports as app events through `sink`.
/// It handles planning, `/add`, `/judge`, `/model`, `/clear` and `/reload`; it never touches the
/// terminal, so tests drive it headless.
public final class ChatSession {
    let engine: ConversationEngine
    private var planner: TurnPlanner
    private(set) var personas: [String: Persona]
    let store: SessionStore?
    let sink: any AppEventSink
    /// `--budget`, which `/reload` keeps over the config's session cap.
    private let budgetOverride: Decimal?
    /// `--max-tokens`, over each persona's own.
    private let maxTokens: Int?
    /// The saved conversation so far, as the personas' prompts are built from it.
    public private(set) var transcript: [TranscriptMessage]
    private var conversation: Task<Void, Never>?
    /// Every conversation started: quitting waits for their stopped turns to record what they cost.
    private var conversations: [Task<Void, Never>] = []
    private var control = DebateControl()

    public init(engine: ConversationEngine, planner: TurnPlanner, personas: [Persona], store: SessionStore?,
                transcript: [TranscriptMessage] = [], budgetOverride: Decimal? = nil, maxTokens: Int? = nil, sink: any AppEventSink) {
        self.engine = engine
        self.planner = planner
        self.personas = Dictionary(personas.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.store = store
        self.transcript = transcript
        self.budgetOverride = budgetOverride
        self.maxTokens = maxTokens
        self.sink = sink
    }

    public var workspace: Workspace { planner.workspace }
    public var hasLedger: Bool { engine.accounting?.ledger != nil }
    /// How the engine's streams arrive, for pacing frames by them.
    public var delivery: any StreamDelivery { engine.runner.transport }

    /// Keeps what the run loop's events say of the conversation: each saved message.
    public func note(_ event: AppEvent) {
        if case .saved(let message) = event { transcript.append(message) }
    }

    /// Carries out an effect of `ChatReducer.reduce`, given the state it left, and returns the
    /// events that follow at once; later ones come through the sink.
    public func perform(_ effect: AppEffect, state: AppState) -> [AppEvent] {
        switch effect {
        case .converse(let message):
            return converse(message, regenerating: nil, state: state)
        case .regenerate(let personaID):
            return converse(nil, regenerating: personaID, state: state)
        case .interject(let message):
            control.interject(message)
        case .cancelTurn(let personaID):
            control.stop(personaID)
        case .stopConversation:
            conversation?.cancel()
        case .changeModel(let personaID, let model):
            do {
                let endpoint = try workspace.providers.endpoint(for: model.provider)
                return [.modelChanged(personaID: personaID, model: model, price: engine.accounting?.catalog.price(for: model),
                                      providerType: endpoint.type)]
            } catch {
                return [.notice("/model: \(error)")]
            }
        case .addPersona(let name):
            do { return [.paneAdded(try joiningPane(name, asJudge: false, state: state))] } catch { return [.notice("/add: \(error)")] }
        case .setJudge(let name):
            guard let name else { return [.judgeSet(nil)] }
            do { return [.judgeSet(try joiningPane(name, asJudge: true, state: state))] } catch { return [.notice("/judge: \(error)")] }
        case .newSession:
            conversation?.cancel()
            transcript = []
            let id = SessionID.make()
            refreshLedgerFigures(session: id)
            return [.sessionStarted(id)]
        case .showCosts:
            guard let ledger = engine.accounting?.ledger else { return [.notice("No cost ledger is open.")] }
            do {
                let names = Dictionary(personas.values.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
                return [.reportLoaded(try CostsReport.overlayLines(ledger, session: state.session, names: names))]
            } catch {
                return [.notice("The cost ledger could not be read: \(error)")]
            }
        case .showProviders:
            let choice = workspace.defaultChoice.map { ["Default model: \($0.model), because \($0.reason).", ""] } ?? []
            let sink = self.sink
            let (health, tools) = (engine.health, engine.toolBox)
            Task.detached {
                let providers = DoctorReport.overlay(await health?.status() ?? [])
                sink.post(.reportLoaded(choice + providers + DoctorReport.servers(await tools?.status() ?? [])))
            }
        case .showWelcome:
            return [.welcomeLoaded(FirstRun.welcome(workspace, roster: state.panes.map(\.name)))]
        case .reload:
            return reload()
        case .export(let format, let path):
            return [export(format: format, to: path, session: state.session)]
        case .showTranscript:
            return [.transcriptLoaded(transcriptLines(width: OverlayView.textWidth(screenWidth: state.width)))]
        case .showJobs:
            return [jobsReport()]
        case .submitBatch(let prompt):
            return submitBatch(prompt, state: state)
        case .recordVote(let vote):
            guard let store else { return [.notice("No database is open, so the vote was not stored.")] }
            do { try VoteStore(database: store.database).record(vote) } catch {
                return [.notice("The vote could not be stored: \(error)")]
            }
        case .withdrawVote:
            guard let store else { return [.notice("No database is open: there are no votes to withdraw.")] }
            do {
                guard let vote = try VoteStore(database: store.database).withdrawLast(session: state.session) else {
                    return [.notice("No vote of yours in this session to withdraw.")]
                }
                return [.notice("Withdrew your vote \(vote.orderText); you may vote on the last answers again.")]
            } catch {
                return [.notice("The vote could not be withdrawn: \(error)")]
            }
        case .showLeaderboard:
            guard let store else { return [.notice("No database is open, so there are no votes.")] }
            // The bootstrap fits 500 times: off the screen's thread.
            let (votes, sink) = (VoteStore(database: store.database), self.sink)
            Task.detached {
                do {
                    let filter = VoteStore.Filter()
                    let board = try votes.leaderboard(filter)
                    sink.post(.reportLoaded(LeaderboardReport.lines(board, scope: .init(grouping: .model, filter: filter))
                        + ["", "`persona leaderboard --by persona`, `--source council` or `--include-sighted` show more."]))
                } catch {
                    sink.post(.notice("The votes could not be read: \(error)"))
                }
            }
        case .quit, .copy, .setMouseReports, .editPersona:
            // The run loop carries these out on the terminal.
            break
        }
        return []
    }

    /// Reads the session's and today's totals off the caller's thread; they arrive as an event.
    public func refreshLedgerFigures(session: String) {
        guard let ledger = engine.accounting?.ledger else { return }
        let sink = self.sink
        Task.detached {
            if let totals = LedgerFigures.read(ledger, session: session) { sink.post(totals) }
        }
    }

    /// Records the session's setup as the screen leaves it (roster, models, mode, rounds, judge),
    /// so that a resume brings it back; returns the shortest way to name the session, or nil
    /// when nothing of it was saved.
    public func recordSetup(_ state: AppState) -> String? {
        guard let store, !transcript.isEmpty else { return nil }
        let members = state.memberPanes.map {
            SessionInfo.Member(persona: $0.personaID, name: $0.name, model: $0.model)
        }
        let info = SessionInfo(id: state.session, mode: state.mode, topic: "", roster: members, rounds: state.debateRounds,
                               judge: state.judgeID)
        do {
            try store.updateSetup(info)
            return try store.shortReference(state.session)
        } catch {
            return state.session
        }
    }

    /// Stops every conversation; each stopped turn still records what it cost and streamed.
    public func stopAll() {
        for started in conversations { started.cancel() }
    }

    /// Waits, at most `settleSeconds`, for the stopped turns to record what they cost and what
    /// they streamed.
    /// Waits for the stopped turns to settle, then shuts the MCP servers down.
    public func settle() async {
        await Self.settle(conversations, within: Self.settleSeconds)
        await engine.toolBox?.shutdown()
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
                try? await Task.sleep(nanoseconds: MonotonicClock.nanoseconds(seconds))
                once.resume()
            }
        }
    }

    // MARK: Conversations

    /// Runs the conversation for a new message in the current mode, or answers the last message
    /// again with one persona. Its events come back through the sink.
    private func converse(_ message: String?, regenerating: String?, state: AppState) -> [AppEvent] {
        let plan: DebatePlan
        do {
            plan = try currentPlan(only: regenerating, state: state)
        } catch {
            return [.notice("\(error)"), .conversationEnded(.cancelled)]
        }
        if let chairman = plan.council?.chairman {
            sink.post(.chairSet(ChatSetup.chairPane(ChatSetup.pane(for: chairman, index: state.panes.count, catalog: engine.accounting?.catalog))))
        }
        control = DebateControl()
        let runner = DebateRunner(engine: engine, store: store)
        let relay = ConversationRelay(sink: sink, ledger: engine.accounting?.ledger, session: plan.session.id)
        var history = transcript
        if let regenerating, let last = history.lastIndex(where: { $0.speaker == regenerating && $0.role == .persona }) {
            history.remove(at: last)
        }
        let started = message.map { runner.start(plan, message: $0, history: history, control: control, emit: relay.relay) }
            ?? runner.startRerun(plan, personaID: regenerating ?? "", history: history, control: control, emit: relay.relay)
        conversation = started
        conversations.append(started)
        return []
    }

    /// The panes' personas on their models, as the screen stands (the judge left out).
    func currentParticipants(_ state: AppState) throws -> [Participant] {
        let models = Dictionary(state.panes.map { ($0.personaID, $0.model) }, uniquingKeysWith: { first, _ in first })
        return try planner.participants(try state.memberPanes.map { pane in
            guard let persona = personas[pane.personaID] else { throw UsageError("persona \(pane.personaID) is not loaded") }
            return persona
        }, models: models)
    }

    /// The conversation as the screen stands: its panes' personas on their models, mode, rounds
    /// and judge, through the planner every command shares.
    private func currentPlan(only personaID: String?, state: AppState) throws -> DebatePlan {
        let panes = state.memberPanes.filter { pane in (personaID ?? state.soloID).map { $0 == pane.personaID } ?? true }
        let models = Dictionary(state.panes.map { ($0.personaID, $0.model) }, uniquingKeysWith: { first, _ in first })
        func persona(_ id: String) throws -> Persona {
            guard let persona = personas[id] else { throw UsageError("persona \(id) is not loaded") }
            return persona
        }
        let participants = try planner.participants(try panes.map { try persona($0.personaID) }, models: models)
        var judge: Participant?
        if let judgeID = state.judgeID, state.mode != .parallel, state.mode != .council {
            judge = try planner.participants([try persona(judgeID)], models: models).first
        }
        let topic = transcript.first(where: { $0.role == .user })?.text ?? state.input.history.last ?? ""
        return try planner.conversation(id: state.session, topic: topic, mode: state.mode,
                                        rounds: state.mode == .parallel ? nil : state.debateRounds, participants: participants,
                                        judge: judge, maxTokens: maxTokens)
    }

    /// A persona joining mid-session, as a participant (`/add`) or the judge (`/judge`), on the
    /// model the planner gives it: known to the engine from now on.
    private func joiningPane(_ name: String, asJudge: Bool, state: AppState) throws -> PaneState {
        let persona = try planner.find(name)
        let firstModel = state.memberPanes.first?.model
        let member = asJudge ? try planner.supporting(persona.id, firstModel: firstModel) : try planner.participants([persona])[0]
        personas[member.persona.id] = member.persona
        return ChatSetup.pane(for: member, index: state.panes.count, catalog: engine.accounting?.catalog)
    }

    /// Re-reads the config and persona files, and applies a changed budget at once. An invalid
    /// file leaves everything as it was.
    private func reload() -> [AppEvent] {
        var fresh = Workspace.load(paths: workspace.paths, environment: workspace.environment)
        if let problem = fresh.issues.first(where: { $0.severity == .error }) {
            return [.notice("Not reloaded, the running config stays: \(problem)")]
        }
        let caps: BudgetCaps
        do { caps = try AccountingSetup.caps(fresh.config.budget, sessionOverride: budgetOverride) } catch {
            return [.notice("Not reloaded, the running config stays: \(error)")]
        }
        if fresh.config.defaultModel == nil { fresh.config.defaultModel = workspace.config.defaultModel }
        fresh.defaultChoice = workspace.defaultChoice
        planner = TurnPlanner(workspace: fresh, model: planner.model, schema: planner.schema)
        for id in personas.keys {
            if let persona = fresh.persona(named: id) { personas[id] = persona }
        }
        engine.accounting?.budget.caps = caps
        return [.budgetChanged(caps, warnAtPermille: ChatSetup.permille(fresh.config.budget.warnAt)),
                .notice("Reloaded \(fresh.paths.configFile) and \(fresh.personas.count) personas; the session goes on."
                    + (caps.isEmpty ? "" : " Budget: " + ChatSetup.describe(caps) + "."))]
    }
}

/// The header's ledger figures: the session's and today's totals, read together.
enum LedgerFigures {
    static func read(_ ledger: Ledger, session: String) -> AppEvent? {
        guard let sessionTotals = try? ledger.totals(session: session), let today = try? ledger.totals(in: .day()) else { return nil }
        return .ledgerTotals(session: session, sessionTotals: sessionTotals, today: today)
    }
}

/// Hands a conversation's events to the sink as app events, from the turns' own tasks.
private final class ConversationRelay: Sendable {
    let sink: any AppEventSink
    private let ledger: Ledger?
    private let session: String

    init(sink: any AppEventSink, ledger: Ledger?, session: String) {
        self.sink = sink
        self.ledger = ledger
        self.session = session
    }

    func relay(_ event: DebateEvent) {
        switch event {
        case .saved(let saved):
            sink.post(.saved(saved))
        case .round(let current, let total):
            sink.post(.roundStarted(current, of: total))
        case .turn(let turnEvent) where turnEvent.endsAnAttempt:
            // The ledger's fresh totals come in the same frame as the event that follows a
            // recorded request: the running turn's estimate leaves the header as its row joins it.
            var events = ledger.flatMap { LedgerFigures.read($0, session: session) }.map { [$0] } ?? []
            if case .failed(let error, _) = turnEvent.kind, error.kind == .ledger { events.append(.ledgerFailed(error.message)) }
            sink.post(events + [.turn(turnEvent)])
        case .turn(let turnEvent):
            // Deltas come thousands of times a second: one event, no array.
            sink.post(.turn(turnEvent))
        case .moderatorChose(_, let persona, _, let fallback):
            sink.post(.notice(fallback ? "The moderator named nobody; \(persona) speaks next."
                : "The moderator gives the floor to \(persona)."))
        case .consensus:
            break
        case .stage(let stage, let name, let spent):
            sink.post(.councilStage(stage, name: name, spentPicos: spent?.picos ?? 0))
        case .council(let outcome):
            let first = outcome.result.rows.first.map { "\(outcome.names[$0.author] ?? $0.author) ranks first" } ?? "no answer was ranked"
            sink.post([.councilRanked(outcome.table.components(separatedBy: "\n")), .notice("The reviews are in: \(first); F8 shows the ranking.")])
        case .finished(let end):
            sink.post(.conversationEnded(end))
        }
    }
}

/// Resumes a continuation the first time it is asked to, whichever of several tasks asks first.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Void, Never>?>

    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = Mutex(continuation) }

    func resume() {
        continuation.withLock { pending in
            defer { pending = nil }
            return pending
        }?.resume()
    }
}
