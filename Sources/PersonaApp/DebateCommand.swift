import Foundation
import PersonaKit
import TerminalUI

/// What `persona debate` was asked.
public struct DebateOptions: Sendable {
    public var topic: String
    public var personas: [String]
    public var mode: ConversationMode
    public var rounds: Int
    public var judge: String?
    public var moderator: String?
    public var model: String?
    public var maxTokens: Int?
    /// `--schema`: a schema file for every participant's answers.
    public var schema: String?
    /// `--consensus-field`: the field of the structured answers that consensus is read from.
    public var consensusField: String?
    /// A council's chairman, review orders, self-review and seed.
    public var council: CouncilOverrides

    public init(topic: String, personas: [String], mode: ConversationMode, rounds: Int, judge: String? = nil,
                moderator: String? = nil, model: String? = nil, maxTokens: Int? = nil, schema: String? = nil,
                consensusField: String? = nil, council: CouncilOverrides = CouncilOverrides()) {
        self.topic = topic
        self.personas = personas
        self.mode = mode
        self.rounds = rounds
        self.judge = judge
        self.moderator = moderator
        self.model = model
        self.maxTokens = maxTokens
        self.schema = schema
        self.consensusField = consensusField
        self.council = council
    }
}

public enum DebatePlanner {
    /// Resolves the participants, the judge and (in moderated mode) the moderator.
    public static func plan(_ options: DebateOptions, workspace: Workspace, session: String) throws -> DebatePlan {
        guard !options.personas.isEmpty else {
            throw UsageError("a debate needs --personas a,b,… (see `persona personas list`)")
        }
        let planner = try TurnPlanner(workspace: workspace, model: options.model, schemaFile: options.schema)
        let participants = try planner.participants(named: options.personas)
        return try planner.conversation(id: session, topic: options.topic, mode: options.mode, rounds: options.rounds,
                                        participants: participants,
                                        judge: try options.judge.map { try planner.supporting($0, firstModel: participants.first?.model) },
                                        moderator: options.moderator, maxTokens: options.maxTokens,
                                        consensusField: options.consensusField, council: options.council)
    }
}

/// Prints a conversation as JSON lines or labelled text, and returns its exit code.
public struct DebatePrinter {
    public var output: @Sendable (String) -> Void
    /// Where waits, retries and failovers are told: stderr.
    public var notices: @Sendable (String) -> Void
    public var json: Bool

    public init(json: Bool, output: @escaping @Sendable (String) -> Void, notices: @escaping @Sendable (String) -> Void) {
        self.json = json
        self.output = output
        self.notices = notices
    }

    /// Runs `plan` and prints it; a signal stops the debate (`interruption`), and its stopped
    /// turns are printed and recorded before the run exits with 128 plus the signal's number.
    public func run(_ runner: DebateRunner, _ plan: DebatePlan, message: String, interruption: Interruption?) async -> Int32 {
        let (events, continuation) = AsyncStream.makeStream(of: DebateEvent.self)
        let work = runner.start(plan, message: message) { event in
            continuation.yield(event)
            if case .finished = event { continuation.finish() }
        }
        interruption?.onSignal { work.cancel() }
        let code = await run(events, session: plan.session.id, ledger: runner.engine.accounting?.ledger)
        return interruption?.exitCode ?? code
    }

    /// Prints the events, then the session's totals from the ledger, and returns the exit code
    /// (`RunOutcome.exitCode`).
    public func run(_ events: AsyncStream<DebateEvent>, session: String, ledger: Ledger?) async -> Int32 {
        var outcome = RunOutcome()
        var round = 0
        var stages = CouncilStageCosts()
        for await event in events {
            switch event {
            case .round(let current, _):
                round = current
            case .stage(let stage, _, let spent):
                stages.begin(stage, totals: spent)
            case .turn(let turnEvent):
                outcome.note(turnEvent)
            case .finished(.transcript):
                outcome.failed = true
            case .finished(.budget), .finished(.councilOverBudget):
                outcome.budget = true
            default:
                break
            }
            if json {
                output(jsonLine(event, round: round, stage: stages.current))
            } else if case .turn(let turnEvent) = event, let notice = notice(turnEvent) {
                notices(notice)
            } else if case .round = event, stages.current != nil {
                // A council's stages head its text; its one round needs no heading of its own.
            } else {
                output(text(event))
            }
        }
        let totals = try? ledger?.totals(session: session)
        stages.finish(totals: totals)
        if json {
            var summary = EventJSON.summary(session: session, totals: totals)
            if case .object(var object) = summary {
                object["round"] = .int(round)
                if stages.current != nil { object["stages"] = stages.json }
                summary = .object(object)
            }
            output(summary.serialized + "\n")
        } else {
            if stages.current != nil { output("council costs: " + stages.text + "\n") }
            output("session \(session): " + PlainPrinter.totalsText(totals) + "\n")
        }
        return outcome.exitCode
    }

    /// One event as JSON lines; `round` is the debate's current round, for events without their
    /// own, and `stage` a council's current stage, which its turns' `done` events carry.
    func jsonLine(_ event: DebateEvent, round: Int, stage: Int? = nil) -> String {
        let value: JSON?
        switch event {
        case .round(let round, let total):
            value = .object(["event": .string("round"), "round": .int(round), "of": .int(total)])
        case .turn(let turnEvent):
            value = Self.turnJSON(turnEvent).map { json in
                guard let stage, case .done = turnEvent.kind, case .object(var object) = json else { return json }
                object["stage"] = .int(stage)
                return .object(object)
            }
        case .stage(let stage, let name, _):
            value = .object(["event": .string("stage"), "stage": .int(stage), "name": .string(name)])
        case .council(let outcome):
            return CouncilJSON.lines(outcome)
        case .finished(.councilOverBudget(let why)):
            value = .object(["event": .string("end"), "round": .int(round), "reason": .string("budget"), "message": .string(why)])
        case .moderatorChose(let round, let persona, let attempts, let fallback):
            value = .object(["event": .string("moderator"), "round": .int(round), "speaker": .string(persona),
                             "attempts": .int(attempts), "fallback": .bool(fallback)])
        case .consensus(let round, let answer):
            value = .object(["event": .string("consensus"), "round": .int(round), "answer": .string(answer)])
        case .finished(.transcript(let problem)):
            value = .object(["event": .string("end"), "round": .int(round), "reason": .string("transcript"), "message": .string(problem)])
        case .finished(let end):
            value = .object(["event": .string("end"), "round": .int(round), "reason": .string(Self.reason(end))])
        case .saved:
            value = nil
        }
        return value.map { $0.serialized + "\n" } ?? ""
    }

    static func turnJSON(_ event: TurnEvent) -> JSON? {
        guard var json = EventJSON.event(event), case .object(var object) = json else { return nil }
        if case .started = event.kind, event.turn.droppedTurns > 0 { object["dropped_turns"] = .int(event.turn.droppedTurns) }
        if event.turn.role != .persona { object["role"] = .string(event.turn.role.rawValue) }
        json = .object(object)
        return json
    }

    static func reason(_ end: DebateEnd) -> String {
        switch end {
        case .roundsDone: return "rounds"
        case .consensus: return "consensus"
        case .budget, .councilOverBudget: return "budget"
        case .ledger: return "ledger"
        case .transcript: return "transcript"
        case .cancelled: return "cancelled"
        }
    }

    func text(_ event: DebateEvent) -> String {
        switch event {
        case .round(let round, let total):
            return "═══ Round \(round) of \(total) ═══\n\n"
        case .stage(let stage, let name, _):
            return "═══ Council \(stage)/3 · \(name) ═══\n\n"
        case .council(let outcome):
            return "The reviews, revealed:\n" + InertText.sanitize(outcome.table) + "\n\n"
        case .turn(let event):
            return text(event)
        case .moderatorChose(_, let persona, let attempts, let fallback):
            return fallback ? "(the moderator named nobody after \(attempts) tries; \(persona) speaks next)\n\n"
                : "(the moderator gives the floor to \(persona))\n\n"
        case .consensus(let round, let answer):
            return "Consensus in round \(round): \(InertText.sanitize(answer))\n\n"
        case .finished(let end):
            switch end {
            case .budget: return "Stopped: the budget was reached.\n"
            case .councilOverBudget(let why): return "The council was not begun: \(why).\n"
            case .ledger: return "Stopped: the cost ledger could not record a request.\n"
            case .transcript(let problem): return "Stopped: \(problem).\n"
            case .cancelled: return "Stopped.\n"
            case .consensus, .roundsDone: return ""
            }
        case .saved:
            return ""
        }
    }

    /// A turn's answer when it ends, its failure, and notes of waits, retries and failovers; the
    /// moderator's answers are not printed, only whom it chose.
    func text(_ event: TurnEvent) -> String {
        let id = event.turn
        switch event.kind {
        case .done(let report) where id.role != .moderator:
            return label(id, asVerdict: id.role == .judge) + "\n" + InertText.sanitize(PlainPrinter.answer(report)) + "\n"
                + PlainPrinter.marks(report) + "  " + PlainPrinter.figures(report) + "\n\n"
        case .failed(let error, let report):
            var text = label(id, asVerdict: false) + "\n"
            if !report.text.isEmpty { text += InertText.sanitize(report.text) + "\n  [partial: the stream failed here]\n" }
            return text + "  failed: \(InertText.sanitize(error.description))\n\n"
        default:
            return ""
        }
    }

    /// A wait, a retry, a failover, a repair or a tool's result of a speaker or the judge, told on stderr.
    func notice(_ event: TurnEvent) -> String? {
        switch event.kind {
        case .queued, .retry, .failover, .repair, .toolResult: return event.turn.role == .moderator ? "" : PlainPrinter.note(event)
        default: return nil
        }
    }

    func label(_ id: TurnID, asVerdict: Bool) -> String {
        let title = asVerdict ? "Verdict · \(id.personaName)"
            : id.role == .reviewer ? "Review · \(id.personaName)" : id.role == .chairman ? "Chairman · \(id.personaName)" : id.personaName
        let dropped = id.droppedTurns > 0 ? " · \(id.droppedTurns) earlier turns left out" : ""
        return "── \(InertText.sanitize(title)) · \(id.model)\(dropped) ──"
    }
}
