import Foundation
import PersonaKit
import TerminalUI

/// One message in a pane's transcript.
public struct TranscriptEntry: Equatable, Sendable {
    public enum Role: Equatable, Sendable {
        case user
        case assistant
    }

    public enum Status: Equatable, Sendable {
        case complete
        case streaming
        /// Stopped by the user; the text is what had streamed.
        case stopped
        /// Failed; the text is what had streamed before the failure.
        case failed(String)
        /// The model declined; the text is its content (often none), the refusal is what it said.
        case refused(String)
    }

    /// Unique within the state, so that wrapped lines can be cached per entry.
    public var id: Int
    public var role: Role
    public var text: String
    public var status: Status
    /// Counts the times `text` was replaced rather than added to (a retry, a failover, a final
    /// text unlike the streamed one): what was wrapped of an older text is then never shown.
    public var generation = 0
    /// A valid structured answer's two faces; `text` shows one of them (F6 switches).
    public var structured: StructuredFaces?
    /// The first way the answer broke its schema, shown under it.
    public var schemaProblem: String?

    public init(id: Int, role: Role, text: String, status: Status) {
        self.id = id
        self.role = role
        self.text = text
        self.status = status
    }
}

/// A structured answer as it streamed (JSON) and as its fields.
public struct StructuredFaces: Equatable, Sendable {
    public var raw: String
    public var fields: String

    public init(raw: String, value: JSON) {
        self.raw = raw
        fields = StructuredFields.markdown(value)
    }
}

/// Where a pane's turn stands, shown on its status line.
public enum TurnPhase: Equatable, Sendable {
    case idle
    case waiting
    /// Held back by the rate limiter until the given time.
    case queued(until: Double)
    /// Failed and will be tried again from the start at the given time.
    case retrying(attempt: Int, of: Int, until: Double)
    /// The answer broke its schema and was sent back to be fixed.
    case repairing(attempt: Int, of: Int)
    case streaming
    case done
    case failed(kind: String)
    case cancelled
    /// The model declined to answer.
    case refused
}

/// A turn's live figures. Each count is an estimate (shown with `~`) until the provider reports it.
public struct TurnCounters: Equatable, Sendable {
    public var inputTokens: Int?
    public var inputEstimated = true
    public var outputTokens = 0
    public var outputEstimated = true
    /// The streamed text's size in quarter-tokens, so the estimate grows without rescanning.
    var outputQuarters = 0
    public var startedAt: Double?
    /// When the request went out, after any wait for the budget, the rate limiter or the server.
    public var sentAt: Double?
    public var firstTokenAt: Double?
    public var finishedAt: Double?
    /// The finished turn's cost in picodollars, as its report gave it (nil: price unknown).
    var reportedCostPicos: Int64?
    /// Whether the turn's report came, so that `reportedCostPicos` is its cost.
    var reported = false

    /// Output tokens per second since the first token.
    public func tokensPerSecond(now: Double) -> Double? {
        guard let first = firstTokenAt else { return nil }
        let elapsed = (finishedAt ?? now) - first
        guard elapsed >= 0.05, outputTokens > 0 else { return nil }
        return Double(outputTokens) / elapsed
    }

    /// From the request's sending, not from the turn's start: a wait in a queue is not the model's.
    public var timeToFirstToken: Double? {
        guard let start = sentAt ?? startedAt, let first = firstTokenAt else { return nil }
        return first - start
    }
}

/// A persona's pane.
public struct PaneState: Equatable, Sendable {
    public var personaID: String
    public var name: String
    public var color: Color
    public var model: ModelRef
    public var entries: [TranscriptEntry] = []
    public var phase: TurnPhase = .idle
    public var counters = TurnCounters()
    /// The serial of the turn events belong to (`TurnID.serial`); events of an older turn are ignored.
    public var turnSerial = 0
    /// Turns left out of the running turn's prompt to fit the context window.
    public var droppedTurns = 0
    /// The fallback model a failover moved the current turn to.
    public var usingModel: ModelRef?
    /// The first visible line when scrolled up; nil follows the stream.
    public var scrollTop: Int?
    /// The error message of the last failed turn.
    public var lastError: String?
    /// The running turn's text up to its last tool results: what a step that starts over (a
    /// retry, a repair) goes back to.
    public var textBeforeStep = ""
    /// Whether the running turn called tools, whose lines are in its text.
    public var usedTools = false
    /// The model's price, for the live estimate; nil when unknown (cost shows as `$?`).
    public var price: ModelPrice?
    public var providerType: ProviderType
    /// The pane's label in the vote on the current answers (`A`, `B`, …); nil outside one.
    public var ballotLabel: String?
    /// In blind mode until the vote: the title shows only the label, the status no cost, and
    /// the pane only the entries from `shownFrom` on.
    public var hidden = false
    public var shownFrom = 0
    /// Whether the title shows the label: in blind mode, before the vote and after it.
    public var showsLabel = false
    /// The running or last turn's answer key (`TurnID.answer`), which a vote names.
    public var answerID: String?

    public init(personaID: String, name: String, color: Color, model: ModelRef, price: ModelPrice? = nil,
                providerType: ProviderType = .openai) {
        self.personaID = personaID
        self.name = name
        self.color = color
        self.model = model
        self.price = price
        self.providerType = providerType
    }

    public var isActive: Bool {
        switch phase {
        case .waiting, .streaming, .queued, .retrying, .repairing: return true
        case .idle, .done, .failed, .cancelled, .refused: return false
        }
    }

    /// The model answering the current turn, which a failover may have changed.
    public var displayedModel: ModelRef { usingModel ?? model }

    /// The turn's cost in picodollars: the report's once it came, else the estimate from the
    /// counts so far, priced when a frame asks rather than on every delta; nil when unknown.
    public var costPicos: Int64? {
        if counters.reported { return counters.reportedCostPicos }
        guard let price, let input = counters.inputTokens else { return nil }
        return CostCalculator.picos(Usage(inputTokens: input, outputTokens: counters.outputTokens), price: price, type: providerType)
    }
}

/// The vote a parallel prompt's answers are open to (`/vote`).
public struct Ballot: Equatable, Sendable {
    /// The conversation's round the answers belong to.
    public var turn: Int
    public var promptHash: String
    /// Whether the answers came under labels only.
    public var blind: Bool
    /// Whether a vote (or a skip) was given.
    public var voted = false
}

/// The editable input line, with its history.
public struct InputLine: Equatable, Sendable {
    public var text = ""
    /// A character offset into `text`.
    public var cursor = 0
    public var history: [String] = []
    /// Position while walking the history; nil when editing a new line.
    public var historyIndex: Int?
    var draft = ""
}

public enum Overlay: Equatable, Sendable {
    case help
    /// A report as lines of text: the cost summary (F3), the providers (F4) or the notices.
    case report([String])
    /// The whole conversation in time order (F7), searchable with `/`.
    case transcript([String])
    /// The first-run page: the key that closes it is kept, as typing.
    case welcome([String])
}

/// A search in the transcript overlay: the words typed after `/`, and whether they are still
/// being typed (Enter finds them, `n` the next match).
public struct OverlaySearch: Equatable, Sendable {
    public var text = ""
    public var typing = true
    /// Whether the last search found the words.
    public var matched = true
}

/// Everything the chat screen shows. Changed only by `reduce`; drawn only by `render`.
public struct AppState: Equatable, Sendable {
    public var session: String
    public var mode: ConversationMode = .parallel
    /// Rounds a debate runs (every mode but parallel) after each message.
    public var debateRounds = 3
    /// The last round of the conversation so far.
    public var round = 0
    /// While a conversation runs: its current round and how many it will run.
    public var progress: (current: Int, total: Int)? {
        get { progressRound.map { ($0, progressTotal) } }
        set {
            progressRound = newValue?.current
            progressTotal = newValue?.total ?? 0
        }
    }
    private var progressRound: Int?
    private var progressTotal = 0
    /// True from sending a message until the conversation it started ends.
    public var conversing = false
    /// The persona who gives a verdict after each debate; its pane shows the verdicts.
    public var judgeID: String?
    /// In council mode: the chairman's pane (`chairKey`), full width below the members.
    public var chairPaneID: String?
    /// While a council runs: its stage, as the header shows it (`2/3 · review`).
    public var councilStage: String?
    /// The last council's ranking table, which F8 shows.
    public var councilTable: [String]?
    /// What the session's ledger rows held as each stage of the last council began, so that the
    /// header can show each stage's cost.
    public var councilStageStarts: [Int64] = []
    public var panes: [PaneState]
    public var focus = 0
    public var zoomed = false
    public var overlay: Overlay?
    /// The first line of the overlay shown, when it is longer than the screen.
    public var overlayTop = 0
    public var overlaySearch: OverlaySearch?
    /// The one persona a `/solo` conversation goes on with; the others sit out until `/all`.
    public var soloID: String?
    /// Blind mode (`/blind`): each prompt's panes are shuffled and labelled, and who answered
    /// shows only after the vote.
    public var blind = false
    /// The vote on the last prompt's answers, in parallel mode.
    public var ballot: Ballot?
    /// Draws blind mode's pane orders.
    var shuffler = SeededGenerator(seed: UInt64.random(in: 0...UInt64.max))
    /// Whether the terminal reports the mouse; `/mouse off` leaves it to select text.
    public var mouseReports = true
    /// Whether structured answers show as their fields rather than as raw JSON (F6).
    public var showsFields = true
    /// The latest notices, newest last, for `/notices`.
    public var noticeLog: [String] = []
    /// The first message, held until the welcome closes.
    public var pendingTopic: String?
    /// Whether a pane answers with the bundled demo model (the local server), which the header says.
    public var demoModel = false
    public var input = InputLine()

    /// The pane key of a council's chairman, apart from its pane as a member.
    static func chairKey(_ personaID: String) -> String { "chair:" + personaID }

    /// The panes of the members: not the judge's, not the chairman's.
    var memberPanes: [PaneState] { panes.filter { $0.personaID != judgeID && $0.personaID != chairPaneID } }

    /// The last message sent to the personas (not a command), for `/batch` alone.
    var lastPrompt: String? { input.history.last { !$0.hasPrefix("/") } }
    /// A one-line message in place of the key hints, until the next key.
    public var notice: String?
    public var width: Int
    public var height: Int
    /// Seconds on the app's clock, set by `reduce` from each event's time; the screen's only clock.
    public var now: Double = 0
    /// The caps in force. Money on screen is kept in picodollars, as the ledger keeps it: it is
    /// redrawn every frame, and integers are exact and cheap.
    public var caps = BudgetCaps()
    /// What the ledger holds for the session and for today, from the query every view reads;
    /// the header adds the running turns' estimates. Nil without a ledger.
    public var sessionSpent: CostTotals?
    public var todaySpent: CostTotals?
    /// Why the ledger stopped taking rows; nothing more is sent.
    public var ledgerFailure: String?
    /// Where the budget bar turns to a warning, in thousandths of the budget.
    public var warnAtPermille = 800
    /// Set after a first Ctrl-C; a second quits.
    public var quitArmed = false
    public var lastKeyWasEscape = false
    public var shouldQuit = false
    var nextEntryID = 1

    public init(session: String, panes: [PaneState], width: Int, height: Int) {
        self.session = session
        self.panes = panes
        self.width = width
        self.height = height
    }

    public var isStreaming: Bool { panes.contains(where: \.isActive) }

    /// The session's cost: the ledger's rows, plus the running turns' estimates; nil when a
    /// price is unknown.
    public var sessionCostPicos: Int64? { withRunningTurns(sessionSpent) }

    /// Today's cost over every session and process, as the ledger has it, plus the running turns.
    public var todayCostPicos: Int64? { withRunningTurns(todaySpent) }

    private func withRunningTurns(_ spent: CostTotals?) -> Int64? {
        guard let spent, spent.unpriced == 0 else { return nil }
        var total = spent.picos
        for pane in panes where pane.isActive {
            guard let running = pane.costPicos, let sum = Money.sum(total, running) else { return nil }
            total = sum
        }
        return total
    }

    /// Whether a running turn's cost is still an estimate.
    var runningCostIsEstimate: Bool {
        panes.contains { $0.isActive && ($0.counters.inputEstimated || $0.counters.outputEstimated) }
    }

    /// Whether `sessionCostPicos` holds an estimate: a running turn's, or a recorded turn's that
    /// the provider gave no believable usage for. The header marks it `~`, as a pane marks its own.
    public var sessionCostIsEstimate: Bool { (sessionSpent?.estimated ?? 0) > 0 || runningCostIsEstimate }

    public var todayCostIsEstimate: Bool { (todaySpent?.estimated ?? 0) > 0 || runningCostIsEstimate }
}

/// What reduce asks the outside world to do.
public enum AppEffect: Equatable, Sendable {
    /// Start a conversation with this message, in the current mode.
    case converse(String)
    /// Add a message to the running debate, before its next round.
    case interject(String)
    /// Answer the last message again with this persona (Ctrl-R).
    case regenerate(personaID: String)
    case cancelTurn(personaID: String)
    /// Stop the whole conversation.
    case stopConversation
    case setJudge(String?)
    /// Begin a new saved session (after /clear).
    case newSession
    case changeModel(personaID: String, model: ModelRef)
    case addPersona(String)
    case showCosts
    case showProviders
    case showWelcome
    /// Re-read the config and persona files, keeping the session.
    case reload
    case quit
    /// Hand text to the terminal's clipboard.
    case copy(String)
    case setMouseReports(Bool)
    /// Open a persona's file in `$EDITOR`, then reload it.
    case editPersona(String)
    /// Write the session to a file: `md` or `json`, at `path` or `./<name or id>.<format>`.
    case export(format: String, path: String?)
    case showTranscript
    /// Send a prompt to the roster as a batch job (`/batch`).
    case submitBatch(String)
    case showJobs
    /// Store a vote (`/vote`, Alt-1…9).
    case recordVote(Vote)
    /// Withdraw the session's last vote (`/unvote`).
    case withdrawVote
    /// F9: the leaderboard of the blind votes.
    case showLeaderboard
}

/// Everything that changes the state.
///
/// Cases with large payloads are rare and `indirect`, as in `TurnEvent`: a delta, which comes
/// thousands of times a second, is then copied as a few words through the inbox.
public enum AppEvent: Equatable, Sendable {
    case key(Key)
    case resize(width: Int, height: Int)
    /// Time passed; counters that depend on it (tokens per second, waiting time) move on.
    case tick
    /// A turn's event, as the engine told it.
    case turn(TurnEvent)
    indirect case modelChanged(personaID: String, model: ModelRef, price: ModelPrice?, providerType: ProviderType)
    case reportLoaded([String])
    /// The conversation so far, as F7 shows it, its lines fitted to the screen.
    case transcriptLoaded([String])
    case welcomeLoaded([String])
    case roundStarted(Int, of: Int)
    indirect case conversationEnded(DebateEnd)
    /// The ledger's totals for a session and for today, read after a request was recorded.
    indirect case ledgerTotals(session: String, sessionTotals: CostTotals, today: CostTotals)
    /// The ledger could not record a request; nothing more is sent.
    case ledgerFailed(String)
    /// `/reload` changed the caps or the warning point.
    indirect case budgetChanged(BudgetCaps, warnAtPermille: Int)
    /// The judge's pane appeared (or, with nil, left).
    indirect case judgeSet(PaneState?)
    /// A council's chairman pane, keyed `AppState.chairKey`.
    indirect case chairSet(PaneState)
    /// A council's stage began, with what the session's ledger rows held then.
    case councilStage(Int, name: String, spentPicos: Int64)
    /// A council's reviews are in: its ranking table, for F8.
    case councilRanked([String])
    case sessionStarted(String)
    /// A message of the conversation was saved; the run loop keeps the transcript.
    indirect case saved(TranscriptMessage)
    indirect case paneAdded(PaneState)
    case notice(String)
}
