import Foundation

/// How personas take part in a conversation (DESIGN.md §4).
public enum ConversationMode: String, Sendable, CaseIterable {
    /// Everyone answers the user at once and sees only the user and itself.
    case parallel
    /// Everyone answers at once; from round 2 each also sees the others' previous answers.
    case rounds
    /// One after another; each sees everything said before its turn. The order rotates.
    case roundRobin = "round-robin"
    /// A moderator persona picks who speaks next.
    case moderated
    /// Everyone answers, then reviews the others' answers blind, then a chairman answers from
    /// the answers and the reviews (DESIGN.md §13).
    case council
}

/// One message of a saved conversation: the user's, a persona's, the judge's or the moderator's.
public struct TranscriptMessage: Sendable, Equatable {
    public enum Role: String, Sendable {
        case user
        case persona
        case judge
        case moderator
        /// A council member's blind review of the others' answers.
        case reviewer
        /// A council's final answer.
        case chairman
    }

    public enum Status: String, Sendable {
        case complete
        case stopped
        case failed
        /// The model declined to answer; `error` holds what it said.
        case refused
    }

    public static let userSpeaker = "user"

    public var round: Int
    /// `user`, or the persona's id.
    public var speaker: String
    public var name: String
    public var role: Role
    public var text: String
    public var status: Status
    public var error: String?
    public var provider: String?
    public var model: String?
    public var inputTokens = 0
    public var outputTokens = 0
    /// Exact, in picodollars; nil when the price is unknown.
    public var costPicos: Int64?
    public var estimated = false
    /// How many older turns were left out of this turn's prompt to fit the context window.
    public var droppedTurns = 0
    /// The answer's value when it was given in its schema and passed the check.
    public var structured: JSON?
    /// The tools the turn called, with their results, in order.
    public var tools: [ToolActivity] = []
    /// The answer's ledger key (`TurnID.answer`), for an answer a turn gave.
    public var answer: String?

    public init(round: Int, speaker: String, name: String, role: Role, text: String, status: Status = .complete,
                error: String? = nil, provider: String? = nil, model: String? = nil, inputTokens: Int = 0, outputTokens: Int = 0,
                costPicos: Int64? = nil, estimated: Bool = false, droppedTurns: Int = 0, structured: JSON? = nil, answer: String? = nil) {
        self.answer = answer
        self.round = round
        self.speaker = speaker
        self.name = name
        self.role = role
        self.text = text
        self.status = status
        self.error = error
        self.provider = provider
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costPicos = costPicos
        self.estimated = estimated
        self.droppedTurns = droppedTurns
        self.structured = structured
    }

    /// The same message with the tools its turn called.
    public func withTools(_ tools: [ToolActivity]) -> TranscriptMessage {
        var message = self
        message.tools = tools
        return message
    }

    public static func user(_ text: String, round: Int) -> TranscriptMessage {
        TranscriptMessage(round: round, speaker: userSpeaker, name: "You", role: .user, text: text)
    }

    /// Whether other turns may see it: the debate's own words that were said, even if cut short.
    /// A council's revealed ranking: its table as text, the seed and the verdicts as its structured
    /// value. It was no request.
    public var isCouncilRanking: Bool { role == .reviewer && speaker == TranscriptMessage.councilSpeaker }

    /// The speaker a council's ranking is saved under.
    public static let councilSpeaker = "council"

    var isVisibleToPersonas: Bool {
        (role == .user || role == .persona) && status != .failed && !text.isEmpty
    }

    /// The rounds of the user's messages that persona `id` took part in: it spoke (or tried to)
    /// between that message and the next. A persona dropped, left out by `/solo` or added later
    /// did not see the messages sent while it was away.
    public static func userRoundsSeen(by id: String, in transcript: [TranscriptMessage]) -> Set<Int> {
        let userRounds = transcript.filter { $0.role == .user }.map(\.round).sorted()
        var seen: Set<Int> = []
        for message in transcript where message.speaker == id && message.role != .user {
            if let round = userRounds.last(where: { $0 <= message.round }) { seen.insert(round) }
        }
        return seen
    }
}

/// Builds what one persona sees in each mode, and trims it to the model's context window.
public enum PromptBuilder {
    /// The messages persona `id` is sent for its turn in `round`.
    ///
    /// - parallel: the user's messages it was there for (`userRoundsSeen`, and this round's) and
    ///   its own replies, nothing else.
    /// - rounds: round 1 alone; in round k it also gets the others' round k−1 answers in one user
    ///   message naming each speaker (`[The Skeptic]: …`). Its own answers are `assistant`.
    /// - round-robin and moderated: everything said before its turn, its own words as `assistant`
    ///   and everyone else's as `user` prefixed `[Name]:`.
    /// - council: the user's messages, with the chairman's answers to them as `assistant`.
    /// Same-role runs are merged so that user and assistant strictly alternate.
    public static func messages(for id: String, mode: ConversationMode, transcript: [TranscriptMessage], round: Int) -> [ChatMessage] {
        let visible = transcript.filter(\.isVisibleToPersonas)
        var messages: [ChatMessage] = []
        switch mode {
        case .parallel:
            let seen = TranscriptMessage.userRoundsSeen(by: id, in: transcript).union([round])
            for message in visible where (message.role == .user && seen.contains(message.round)) || message.speaker == id {
                messages.append(ChatMessage(role: message.speaker == id ? .assistant : .user, content: message.text))
            }
        case .rounds:
            for current in 1...max(1, round) {
                for message in visible where message.round == current && message.role == .user {
                    messages.append(ChatMessage(role: .user, content: message.text))
                }
                let others = visible.filter { $0.round == current - 1 && $0.role == .persona && $0.speaker != id }
                if !others.isEmpty {
                    messages.append(ChatMessage(role: .user, content: others.map { "[\($0.name)]: \($0.text)" }.joined(separator: "\n\n")))
                }
                if current < round, let own = visible.first(where: { $0.round == current && $0.speaker == id }) {
                    messages.append(ChatMessage(role: .assistant, content: own.text))
                }
            }
        case .council:
            // Each council starts afresh from the questions and the chairman's answers to them.
            for message in transcript where message.status != .failed && !message.text.isEmpty {
                if message.role == .user { messages.append(ChatMessage(role: .user, content: message.text)) }
                if message.role == .chairman { messages.append(ChatMessage(role: .assistant, content: message.text)) }
            }
        case .roundRobin, .moderated:
            for message in visible {
                if message.speaker == id {
                    messages.append(ChatMessage(role: .assistant, content: message.text))
                } else if message.role == .user {
                    messages.append(ChatMessage(role: .user, content: message.text))
                } else {
                    messages.append(ChatMessage(role: .user, content: "[\(message.name)]: \(message.text)"))
                }
            }
        }
        return ChatMessage.mergingSameRoleRuns(messages)
    }

    /// Fits a prompt in `room` tokens (the model's input limit, `ModelPrice.promptRoom`): the
    /// system prompt stays, and the oldest middle turns go first (the opening message and the
    /// latest ones are kept). Returns the messages and how many turns were dropped.
    public static func trim(_ messages: [ChatMessage], system: String, room promptRoom: Int?)
        -> (messages: [ChatMessage], dropped: Int)
    {
        guard let promptRoom else { return (messages, 0) }
        let room = promptRoom - TokenEstimator.estimate(system) - 16
        var kept = messages
        var dropped = 0
        func size(_ list: [ChatMessage]) -> Int { list.reduce(0) { $0 + TokenEstimator.estimate($1.promptText) + 4 } }
        while size(kept) > room, kept.count > 2 {
            kept.remove(at: 1)
            dropped += 1
            // Removing one turn may leave two of a role side by side; keep them alternating.
            if kept.count > 1, kept[0].role == kept[1].role {
                kept = ChatMessage.mergingSameRoleRuns(kept)
            }
        }
        return (kept, dropped)
    }
}
