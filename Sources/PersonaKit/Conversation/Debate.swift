import Foundation
import Synchronization

/// How a conversation is to run.
public struct DebatePlan: Sendable {
    public var session: SessionInfo
    public var participants: [Participant]
    public var mode: ConversationMode
    public var rounds: Int
    public var judge: Participant?
    public var moderator: Participant?
    public var maxTokens: Int?
    public var promptCache: PromptCacheSetting
    /// Consensus is read from this field of the structured answers rather than `answer_pattern`.
    public var consensusField: String?
    /// In council mode: the chairman and how the reviews run.
    public var council: CouncilPlan?

    public init(session: SessionInfo, participants: [Participant], mode: ConversationMode, rounds: Int, judge: Participant? = nil,
                moderator: Participant? = nil, maxTokens: Int? = nil, promptCache: PromptCacheSetting = .auto,
                consensusField: String? = nil, council: CouncilPlan? = nil) {
        self.session = session
        self.participants = participants
        self.mode = mode
        self.rounds = rounds
        self.judge = judge
        self.moderator = moderator
        self.maxTokens = maxTokens
        self.promptCache = promptCache
        self.consensusField = consensusField
        self.council = council
    }
}

/// Why a conversation stopped.
public enum DebateEnd: Sendable, Equatable {
    case roundsDone
    case consensus(String)
    case budget
    /// A council whose whole estimate did not fit in the budget was not begun: why.
    case councilOverBudget(String)
    /// The cost ledger could not record a request, so nothing more is sent.
    case ledger
    /// The session's transcript could not be written, so nothing more is sent.
    case transcript(String)
    case cancelled
}

/// Steers a running conversation from outside: messages the user adds between rounds, and
/// stopping one persona's turn.
public final class DebateControl: Sendable {
    private struct State {
        var interjections: [String] = []
        var turns: [String: Task<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds a user message before the next round.
    public func interject(_ text: String) { state.withLock { $0.interjections.append(text) } }

    /// Stops one persona's turn; what it streamed is kept, marked stopped.
    public func stop(_ personaID: String) { state.withLock { $0.turns[personaID] }?.cancel() }

    func takeInterjections() -> [String] {
        state.withLock { state in
            defer { state.interjections.removeAll() }
            return state.interjections
        }
    }

    func register(_ personaID: String, _ task: Task<Void, Never>?) { state.withLock { $0.turns[personaID] = task } }
}

/// What a conversation reports as it runs.
public enum DebateEvent: Sendable, Equatable {
    /// A message was saved: the user's, or a finished turn's.
    indirect case saved(TranscriptMessage)
    case round(Int, of: Int)
    case turn(TurnEvent)
    /// The moderator named the next speaker; `fallback` when it named nobody after its retries.
    case moderatorChose(round: Int, persona: String, attempts: Int, fallback: Bool)
    case consensus(round: Int, answer: String)
    /// A council's stage began: 1 answers, 2 review, 3 chair, with what the session's ledger rows
    /// held then (nil without a ledger), so that each stage's cost is the difference, exactly.
    case stage(Int, name: String, spent: CostTotals?)
    /// A council's reviews are in: the authors revealed, every verdict and the ranking.
    case council(CouncilOutcome)
    indirect case finished(DebateEnd)
}

/// Runs a conversation among personas in any mode, saving each message when its turn ends.
public final class DebateRunner: Sendable {
    public let engine: ConversationEngine
    let store: SessionStore?
    /// Re-asks after a moderator answer that names nobody, before the next in order speaks.
    public static let moderatorRetries = 2

    public init(engine: ConversationEngine, store: SessionStore?) {
        self.engine = engine
        self.store = store
    }

    /// Runs `plan` from `history` (empty for a new conversation, whose first message is
    /// `message`). The stream ends with `.finished`; cancelling the consumer stops the debate.
    public func run(_ plan: DebatePlan, message: String, history: [TranscriptMessage] = [],
                    control: DebateControl = DebateControl()) -> AsyncStream<DebateEvent> {
        Self.stream { self.start(plan, message: message, history: history, control: control, emit: $0) }
    }

    /// `run` for a consumer that only hands events on: `emit` is called from the turns' own tasks,
    /// in order for each turn, and last with `.finished`. Streaming tokens skip a hop through a
    /// stream and a task of the consumer's. Cancelling the returned task stops the conversation.
    public func start(_ plan: DebatePlan, message: String, history: [TranscriptMessage] = [],
                      control: DebateControl = DebateControl(),
                      emit: @escaping @Sendable (DebateEvent) -> Void) -> Task<Void, Never> {
        Task.detached {
            let end = await self.conduct(plan, message: message, history: history, control: control, emit: emit)
            emit(.finished(end))
        }
    }

    /// Answers the last message again with one participant (its previous answer already left
    /// out of `history`), and saves the new answer; `emit` is called as `start` calls it.
    public func startRerun(_ plan: DebatePlan, personaID: String, history: [TranscriptMessage],
                           control: DebateControl = DebateControl(),
                           emit: @escaping @Sendable (DebateEvent) -> Void) -> Task<Void, Never> {
        Task.detached {
            let log = Log(history)
            let round = max(1, history.map(\.round).max() ?? 1)
            var end = DebateEnd.roundsDone
            if let speaker = plan.participants.first(where: { $0.persona.id == personaID }) {
                let stop = await self.turn(speaker, round: round, plan: plan, transcript: history, log: log, control: control,
                                           emit: emit)
                end = stop ?? log.failure.map(DebateEnd.transcript) ?? (Task.isCancelled ? .cancelled : .roundsDone)
            }
            emit(.finished(end))
        }
    }

    private static func stream(_ start: @escaping (@escaping @Sendable (DebateEvent) -> Void) -> Task<Void, Never>)
        -> AsyncStream<DebateEvent> {
        AsyncStream { continuation in
            let task = start { event in
                continuation.yield(event)
                if case .finished = event { continuation.finish() }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The conversation so far, and why it could not be saved, if it could not.
    final class Log: Sendable {
        private let state: Mutex<(messages: [TranscriptMessage], failure: String?)>
        init(_ messages: [TranscriptMessage]) { state = Mutex((messages, nil)) }
        var all: [TranscriptMessage] { state.withLock { $0.messages } }
        var failure: String? { state.withLock { $0.failure } }
        func append(_ message: TranscriptMessage) { state.withLock { $0.messages.append(message) } }
        /// Keeps the first failure.
        func fail(_ reason: String) { state.withLock { if $0.failure == nil { $0.failure = reason } } }
    }

    private func conduct(_ plan: DebatePlan, message: String, history: [TranscriptMessage], control: DebateControl,
                         emit: @escaping @Sendable (DebateEvent) -> Void) async -> DebateEnd {
        let log = Log(history)
        do {
            try store?.create(plan.session)
        } catch {
            return .transcript("the session could not be saved: \(error)")
        }
        let firstRound = (history.map(\.round).max() ?? 0) + 1
        if plan.mode == .council {
            return await conductCouncil(plan, message: message, round: firstRound, log: log, control: control, emit: emit)
        }
        save(TranscriptMessage.user(message, round: firstRound), plan: plan, log: log, emit: emit)
        let addressed = Self.addressed(in: message, among: plan.participants)
        let lastRound = firstRound + max(1, plan.rounds) - 1

        for round in firstRound...lastRound {
            guard !Task.isCancelled else { return .cancelled }
            if let failure = log.failure { return .transcript(failure) }
            for text in control.takeInterjections() {
                save(TranscriptMessage.user(text, round: round), plan: plan, log: log, emit: emit)
            }
            emit(.round(round - firstRound + 1, of: lastRound - firstRound + 1))
            var speakers = plan.participants
            if round == firstRound, !addressed.isEmpty, plan.mode == .parallel || plan.mode == .rounds {
                speakers = plan.participants.filter { addressed.contains($0.persona.id) }
            }
            var stop: DebateEnd?
            switch plan.mode {
            case .parallel, .rounds, .council:
                await withTaskGroup(of: DebateEnd?.self) { group in
                    for speaker in speakers {
                        let transcript = log.all
                        group.addTask {
                            await self.turn(speaker, round: round, plan: plan, transcript: transcript, log: log,
                                            control: control, emit: emit)
                        }
                    }
                    for await turnStop in group where stop != .ledger { stop = turnStop ?? stop }
                }
            case .roundRobin:
                let shift = (round - 1) % max(1, speakers.count)
                var order = Array(speakers[shift...] + speakers[..<shift])
                if round == firstRound, !addressed.isEmpty {
                    order = order.filter { addressed.contains($0.persona.id) } + order.filter { !addressed.contains($0.persona.id) }
                }
                for speaker in order where !Task.isCancelled {
                    stop = await turn(speaker, round: round, plan: plan, transcript: log.all, log: log, control: control, emit: emit)
                    if stop != nil || log.failure != nil { break }
                }
            case .moderated:
                var next = 0
                var spoken: Set<String> = []
                for step in 0..<speakers.count where !Task.isCancelled {
                    let speaker: Participant
                    if round == firstRound, step == 0, let named = speakers.first(where: { addressed.contains($0.persona.id) }) {
                        speaker = named
                    } else {
                        // Should the moderator name nobody, the next in order who has not yet spoken this round.
                        let waiting = (0..<speakers.count).map { speakers[(next + $0) % speakers.count] }
                            .first { !spoken.contains($0.persona.id) } ?? speakers[next % speakers.count]
                        speaker = await moderatorChoice(plan, round: round, fallback: waiting, log: log, emit: emit)
                    }
                    spoken.insert(speaker.persona.id)
                    next = ((speakers.firstIndex { $0.persona.id == speaker.persona.id } ?? next) + 1) % speakers.count
                    stop = await turn(speaker, round: round, plan: plan, transcript: log.all, log: log, control: control, emit: emit)
                    if stop != nil || log.failure != nil { break }
                }
            }
            if let stop { return stop }
            if let failure = log.failure { return .transcript(failure) }
            if Task.isCancelled { return .cancelled }
            // Consensus ends a debate early: in its last round there is nothing left to stop.
            if round < lastRound, let answer = Self.consensus(plan.participants, round: round, transcript: log.all,
                                                                      field: plan.consensusField) {
                emit(.consensus(round: round - firstRound + 1, answer: answer))
                await judge(plan, round: round, log: log, emit: emit)
                return .consensus(answer)
            }
        }
        await judge(plan, round: lastRound, log: log, emit: emit)
        return Task.isCancelled ? .cancelled : .roundsDone
    }

    /// One persona's turn. Returns why the conversation must stop, when the budget refused the
    /// turn or the ledger could not record it.
    /// `responseFormat` asks for an answer in that form without the engine checking it (a
    /// council's verdict, which is read and asked for again here).
    @discardableResult
    func turn(_ speaker: Participant, round: Int, plan: DebatePlan, transcript: [TranscriptMessage], log: Log,
              role: TranscriptMessage.Role = .persona, messages explicit: [ChatMessage]? = nil, responseFormat: ResponseFormat? = nil,
              control: DebateControl? = nil, report: Shared<TurnReport?>? = nil,
              emit: @escaping @Sendable (DebateEvent) -> Void) async -> DebateEnd? {
        let persona = speaker.persona
        let messages = explicit ?? PromptBuilder.messages(for: persona.id, mode: plan.mode, transcript: transcript, round: round)
        // A persona's own conversation grows by a turn each time: cached through its last message,
        // its next turn reads all of it back. The judge's single message is not read again.
        var planned = TurnPlanner.turn(speaker, messages: messages, session: plan.session.id, round: round, role: role,
                                       maxTokens: plan.maxTokens, promptCache: plan.promptCache, cacheThroughLastMessage: explicit == nil,
                                       catalog: engine.accounting?.catalog)
        if let responseFormat { planned.request.responseFormat = responseFormat }
        let outcome = Shared<(TurnReport, ProviderError?)?>(nil)
        let tools = Shared<[ToolActivity]>([])
        let engine = self.engine
        // Its own task, so that the user can stop this persona alone.
        let running = Task {
            await engine.run(planned) { event in
                switch event.kind {
                case .done(let report):
                    outcome.value = (report, nil)
                    // Saved before it is announced: whoever saw it finish will find it saved.
                    self.save(self.message(for: report, error: nil, turn: event.turn, persona: persona, tools: tools.value), plan: plan,
                              log: log, emit: emit)
                case .failed(let error, let report):
                    outcome.value = (report, error)
                    if error.kind != .budget {
                        self.save(self.message(for: report, error: error, turn: event.turn, persona: persona, tools: tools.value), plan: plan,
                                  log: log, emit: emit)
                    }
                case .toolResult(let activity):
                    tools.withLock { $0.append(activity) }
                case .retry(let retry) where !retry.partialText.isEmpty:
                    // A retry starts the answer over; the text that streamed is kept as a failed attempt.
                    self.save(TranscriptMessage(round: round, speaker: persona.id, name: persona.name, role: role, text: retry.partialText,
                                                status: .failed, error: "attempt \(retry.attempt) of \(retry.of + 1): \(retry.reason.description)",
                                                provider: event.turn.model.provider, model: event.turn.model.model),
                              plan: plan, log: log, emit: emit)
                case .repair(let repair):
                    // The rejected answer is kept, marked, as a failed retry's text is.
                    self.save(TranscriptMessage(round: round, speaker: persona.id, name: persona.name, role: role, text: repair.rejectedText,
                                                status: .failed, error: "broke its schema (\(repair.problems.first?.description ?? "")); "
                                                    + "sent back for repair \(repair.attempt) of \(repair.of)",
                                                provider: event.turn.model.provider, model: event.turn.model.model),
                              plan: plan, log: log, emit: emit)
                default:
                    break
                }
                emit(.turn(event))
            }
        }
        control?.register(persona.id, running)
        await withTaskCancellationHandler { await running.value } onCancel: { running.cancel() }
        control?.register(persona.id, nil)
        report?.value = outcome.value.flatMap { $0.1 == nil ? $0.0 : nil }
        switch outcome.value?.1?.kind {
        case .budget: return .budget
        case .ledger: return .ledger
        default: return nil
        }
    }

    /// A finished turn as the transcript keeps it; `turn` names the model that actually answered.
    private func message(for report: TurnReport, error: ProviderError?, turn: TurnID, persona: Persona,
                         tools: [ToolActivity]) -> TranscriptMessage {
        var status: TranscriptMessage.Status = error == nil ? .complete : error?.kind == .cancelled ? .stopped : .failed
        if error == nil, report.refusal != nil { status = .refused }
        return TranscriptMessage(round: turn.round, speaker: persona.id, name: persona.name, role: turn.role, text: report.text,
                                 status: status, error: error?.description ?? report.refusal, provider: turn.model.provider,
                                 model: turn.model.model,
                                 inputTokens: report.usage.inputTokens ?? 0, outputTokens: report.usage.outputTokens ?? 0,
                                 costPicos: report.costPicos, estimated: report.estimated, droppedTurns: turn.droppedTurns,
                                 structured: report.structured?.isValid == true ? report.structured?.value : nil, answer: turn.answer)
            .withTools(tools)
    }

    /// Keeps a message in the conversation and in the session's transcript. A transcript that
    /// cannot be written stops the conversation after this turn, as the ledger's would.
    func save(_ message: TranscriptMessage, plan: DebatePlan, log: Log, emit: @Sendable (DebateEvent) -> Void) {
        log.append(message)
        do {
            try store?.append(message, to: plan.session.id)
        } catch {
            log.fail("the transcript could not be saved: \(error)")
        }
        emit(.saved(message))
    }

    // MARK: Moderator

    /// Asks the moderator who speaks next; re-asks twice when it names nobody, then `fallback`.
    private func moderatorChoice(_ plan: DebatePlan, round: Int, fallback: Participant, log: Log,
                                 emit: @escaping @Sendable (DebateEvent) -> Void) async -> Participant {
        guard let moderator = plan.moderator else { return fallback }
        let roster = plan.participants.map { "- \($0.persona.name) (\($0.persona.id)): \($0.persona.card)" }.joined(separator: "\n")
        let transcript = log.all.filter(\.isVisibleToPersonas).map { "[\($0.name)]: \($0.text)" }.joined(separator: "\n\n")
        var messages = [ChatMessage(role: .user, content: """
            Participants:
            \(roster)

            Transcript so far:
            \(transcript)

            Who should speak next? Answer with one participant's name on the first line.
            """)]
        for attempt in 1...(Self.moderatorRetries + 1) {
            let answer = Shared("")
            let planned = TurnPlanner.turn(moderator, messages: messages, session: plan.session.id, round: round, role: .moderator,
                                           maxTokens: 60, promptCache: plan.promptCache, cacheThroughLastMessage: false,
                                           catalog: engine.accounting?.catalog)
            await engine.run(planned) { event in
                emit(.turn(event))
                if case .done(let report) = event.kind { answer.value = report.text }
            }
            if let chosen = Self.named(in: answer.value, among: plan.participants) {
                save(TranscriptMessage(round: round, speaker: moderator.persona.id, name: moderator.persona.name, role: .moderator,
                                       text: answer.value, provider: moderator.endpoint.name, model: moderator.model.model),
                     plan: plan, log: log, emit: emit)
                emit(.moderatorChose(round: round, persona: chosen.persona.id, attempts: attempt, fallback: false))
                return chosen
            }
            messages.append(ChatMessage(role: .assistant, content: answer.value.isEmpty ? "(no answer)" : answer.value))
            messages.append(ChatMessage(role: .user, content: "That names none of the participants. Answer with exactly one of: "
                + plan.participants.map(\.persona.name).joined(separator: ", ") + "."))
        }
        emit(.moderatorChose(round: round, persona: fallback.persona.id, attempts: Self.moderatorRetries + 1, fallback: true))
        return fallback
    }

    /// The participant an answer names: its name or id, the earliest mention winning.
    static func named(in answer: String, among participants: [Participant]) -> Participant? {
        let lowered = answer.lowercased()
        var best: (Participant, String.Index)?
        for participant in participants {
            for word in [participant.persona.name.lowercased(), participant.persona.id.lowercased()] {
                guard let range = lowered.range(of: word) else { continue }
                if best == nil || range.lowerBound < best!.1 { best = (participant, range.lowerBound) }
            }
        }
        return best?.0
    }

    /// Persona ids addressed with `@name` (`PersonaHandle`: `@skeptic` or `@TheSkeptic` for The Skeptic).
    public static func addressed(in message: String, among participants: [Participant]) -> Set<String> {
        var result: Set<String> = []
        for handle in PersonaHandle.mentions(in: message) {
            for participant in participants where PersonaHandle.matches(handle, id: participant.persona.id, name: participant.persona.name) {
                result.insert(participant.persona.id)
            }
        }
        return result
    }

    // MARK: Stopping

    /// The common answer when every participant's answer in `round` gives one and they agree
    /// (ignoring case and spaces): from the structured answers' `field` when there is one, else
    /// through each participant's `answer_pattern`.
    static func consensus(_ participants: [Participant], round: Int, transcript: [TranscriptMessage], field: String? = nil) -> String? {
        guard participants.count > 1 else { return nil }
        var answers: [String] = []
        for participant in participants {
            if let field {
                guard let message = transcript.last(where: { $0.round == round && $0.speaker == participant.persona.id && $0.status == .complete }),
                      let value = message.structured?[field], !value.isNull
                else { return nil }
                let answer = value.string?.trimmingCharacters(in: .whitespacesAndNewlines) ?? value.serialized
                guard !answer.isEmpty else { return nil }
                answers.append(answer)
                continue
            }
            guard let pattern = participant.persona.answerPattern,
                  let expression = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]),
                  let message = transcript.last(where: { $0.round == round && $0.speaker == participant.persona.id && $0.status == .complete })
            else { return nil }
            // The persona's prompt shows the form (`\boxed{answer}`): echoing its placeholder,
            // or an empty answer, is no answer. (So is any example the prompt itself gives.)
            let placeholders = Set(captures(expression, in: participant.persona.systemPrompt).map { $0.lowercased() })
            guard let answer = captures(expression, in: message.text).last, !answer.isEmpty,
                  !placeholders.contains(answer.lowercased()) else { return nil }
            answers.append(answer)
        }
        let normalized = Set(answers.map { $0.lowercased().replacingOccurrences(of: " ", with: "") })
        return normalized.count == 1 ? answers[0] : nil
    }

    /// What `expression` captures in `text` (its first group, else the whole match), trimmed.
    static func captures(_ expression: NSRegularExpression, in text: String) -> [String] {
        expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            let group = match.numberOfRanges > 1 ? match.range(at: 1) : match.range
            return Range(group, in: text).map { text[$0].trimmingCharacters(in: .whitespacesAndNewlines) }
        }
    }

    /// The judge reads the whole transcript and gives a verdict.
    private func judge(_ plan: DebatePlan, round: Int, log: Log, emit: @escaping @Sendable (DebateEvent) -> Void) async {
        guard let judge = plan.judge, !Task.isCancelled else { return }
        let transcript = log.all.filter(\.isVisibleToPersonas)
            .map { "[\($0.role == .user ? "User" : $0.name), round \($0.round)]: \($0.text)" }.joined(separator: "\n\n")
        let prompt = "Here is the complete debate.\n\n\(transcript)\n\nGive your verdict."
        await turn(judge, round: round, plan: plan, transcript: log.all, log: log, role: .judge,
                   messages: [ChatMessage(role: .user, content: prompt)], emit: emit)
    }
}
