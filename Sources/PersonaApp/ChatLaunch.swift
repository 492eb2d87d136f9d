import Foundation
import PersonaKit
import TerminalUI

/// What `persona chat` resolves before its screen opens: who takes part (a resumed session's
/// roster), the judge, the accounting and the saved session.
public struct ChatLaunch {
    public struct Options: Sendable {
        public var personas: [String]
        public var model: String?
        public var mode: ConversationMode
        public var rounds: Int
        public var judge: String?
        /// `--max-tokens`: every answer's limit, over each persona's own.
        public var maxTokens: Int?
        public var resume: String?
        /// `--budget`, which `/reload` keeps over the config's session cap.
        public var budget: Decimal?
        public var pricesFile: String?
        /// `--blind`, over the config's `blind:`.
        public var blind: Bool?

        public init(personas: [String] = [], model: String? = nil, mode: ConversationMode = .parallel, rounds: Int = 3,
                    judge: String? = nil, maxTokens: Int? = nil, resume: String? = nil, budget: Decimal? = nil,
                    pricesFile: String? = nil, blind: Bool? = nil) {
            self.blind = blind
            self.personas = personas
            self.model = model
            self.mode = mode
            self.rounds = rounds
            self.judge = judge
            self.maxTokens = maxTokens
            self.resume = resume
            self.budget = budget
            self.pricesFile = pricesFile
        }
    }

    public let options: Options
    public let workspace: Workspace
    public let planner: TurnPlanner
    public let roster: [Participant]
    public let judge: Participant?
    public let accounting: Accounting
    public let database: PersonaDatabase
    public let resumed: (info: SessionInfo, messages: [TranscriptMessage])?

    /// Throws `UsageError` for a bad option or config, `LedgerError` when `persona.db` cannot be used.
    public init(_ options: Options, workspace: Workspace, warn: @escaping @Sendable (String) -> Void) throws {
        self.options = options
        self.workspace = workspace
        database = try PersonaDatabase(path: workspace.paths.database)
        let planner = try TurnPlanner(workspace: workspace, model: options.model)
        self.planner = planner
        var resumed: (info: SessionInfo, messages: [TranscriptMessage])?
        if let reference = options.resume {
            let store = SessionStore(database: database)
            let id = try store.find(reference)
            guard let saved = try store.load(id) else { throw UsageError("session \(id) was removed while Persona started") }
            resumed = saved
            roster = try planner.participants(resuming: saved.info)
        } else {
            roster = try planner.participants(named: options.personas)
        }
        self.resumed = resumed
        let firstModel = roster.first?.model
        judge = try (options.judge ?? resumed?.info.judge).map { try planner.supporting($0, firstModel: firstModel) }
        // The screen shows a ledger failure itself (`AppEvent.ledgerFailed`); a line on stderr would tear it.
        accounting = try AccountingSetup.make(workspace: workspace, budget: options.budget, pricesFile: options.pricesFile, warn: warn,
                                              onLedgerFailure: { _ in })
    }

    static let demoNotice = "Demo model: Gemma 3 270M runs offline here. It is tiny, fluent and often off the point; "
        + "set an API key or start Ollama for answers worth reading."

    /// The screen's run loop: a resumed session's panes refilled, or a new session.
    public func runLoop(screen: Screen, input: Int32 = STDIN_FILENO) -> ChatRunLoop {
        let members = roster + [judge].compactMap { $0 }
        var state = ChatSetup.state(for: roster, session: resumed?.info.id ?? SessionID.make(), accounting: accounting, workspace: workspace,
                                    width: screen.width, height: screen.height,
                                    mode: resumed?.info.mode ?? options.mode,
                                    rounds: resumed?.info.rounds ?? options.rounds, judge: judge, resumed: resumed?.messages ?? [])
        if options.blind ?? workspace.config.blind {
            if state.mode == .parallel {
                ChatReducer.enterBlind(&state)
            } else {
                state.notice = "Blind mode needs parallel mode; this session is \(state.mode.rawValue), so names show."
            }
        }
        let retired = RetiredModels.warnings(members.map { ($0.persona.id, $0.model) }, catalog: accounting.catalog)
        if !retired.isEmpty { state.notice = retired.joined(separator: " ") }
        if members.contains(where: { $0.model.provider == "local" }) {
            state.demoModel = true
            state.notice = Self.demoNotice
        }
        return ChatRunLoop(state: state, screen: screen, engine: EngineSetup.make(workspace: workspace, accounting: accounting),
                           planner: planner, personas: members.map(\.persona), store: SessionStore(database: database),
                           transcript: resumed?.messages ?? [], budgetOverride: options.budget, maxTokens: options.maxTokens,
                           input: input)
    }
}
