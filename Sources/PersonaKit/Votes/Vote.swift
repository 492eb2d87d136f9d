import Foundation

/// A judgement of several answers to one prompt: the user's (`/vote`) or a council reviewer's
/// verdict (DESIGN.md §13). Each candidate is one answer, known by its label.
public struct Vote: Sendable, Equatable {
    public enum Source: String, Sendable, CaseIterable {
        /// The user's, from `/vote` on the chat screen.
        case votes
        /// A council reviewer's verdict.
        case council
    }

    public var time: Date
    public var source: Source
    /// Whether the answers were judged without their authors' names.
    public var blind: Bool
    public var session: String
    /// The user's message it answers, counted from 1 in its session; nil when unknown (imported).
    public var turn: Int?
    public var round: Int?
    /// The prompt's SHA-256, hex; the text stays in the session.
    public var promptHash: String?
    /// The council reviewer's persona id.
    public var reviewer: String?
    public var candidates: [VoteCandidate]
    /// Ranks of labels, best first; the labels of one rank are tied. Candidates left out are below
    /// every listed one and unordered among themselves.
    public var order: [[String]]

    public init(time: Date = Date(), source: Source = .votes, blind: Bool, session: String, turn: Int? = nil, round: Int? = nil,
                promptHash: String? = nil, reviewer: String? = nil, candidates: [VoteCandidate], order: [[String]]) {
        self.time = time
        self.source = source
        self.blind = blind
        self.session = session
        self.turn = turn
        self.round = round
        self.promptHash = promptHash
        self.reviewer = reviewer
        self.candidates = candidates
        self.order = order
    }

    /// What the vote says of each pair of candidates: the winner, or a tie. A listed candidate
    /// beats every one in a later rank and every one left out; the candidates of one rank tie;
    /// those left out are not compared with each other.
    public var pairs: [VotePair] {
        var rankOf: [String: Int] = [:]
        for (rank, labels) in order.enumerated() {
            for label in labels { rankOf[label] = rank }
        }
        var pairs: [VotePair] = []
        for (index, first) in candidates.enumerated() {
            for second in candidates[(index + 1)...] {
                switch (rankOf[first.label], rankOf[second.label]) {
                case (nil, nil): continue
                case (.some, nil): pairs.append(VotePair(first.label, second.label, outcome: .firstWins))
                case (nil, .some): pairs.append(VotePair(first.label, second.label, outcome: .secondWins))
                case (let a?, let b?):
                    pairs.append(VotePair(first.label, second.label, outcome: a < b ? .firstWins : a > b ? .secondWins : .tie))
                }
            }
        }
        return pairs
    }

    /// Problems that make the vote unusable, each a sentence; empty when it is sound.
    public var problems: [String] {
        var problems: [String] = []
        let labels = candidates.map(\.label)
        if candidates.count < 2 { problems.append("a vote needs at least two candidates, it has \(candidates.count)") }
        if Set(labels).count != labels.count { problems.append("a candidate's label appears twice") }
        let ordered = order.flatMap { $0 }
        if let unknown = ordered.first(where: { !labels.contains($0) }) {
            problems.append("the order names \(unknown), which is no candidate's label (\(labels.joined(separator: ", ")))")
        }
        if Set(ordered).count != ordered.count { problems.append("the order names a label twice") }
        if order.contains(where: \.isEmpty) { problems.append("the order has an empty rank") }
        if order.isEmpty { problems.append("the order is empty") }
        if source == .council, reviewer == nil { problems.append("a council verdict names its reviewer") }
        return problems
    }

    /// The order as the user writes it: `B>A>C`, `B`, or `A=B=C` for a tie.
    public var orderText: String { order.map { $0.joined(separator: "=") }.joined(separator: ">") }

    /// What the votes table keys it by, so that one vote imported twice is stored once: the
    /// vote's own content, whatever process stored it.
    public var key: String {
        var text = "\(Int64((time.timeIntervalSince1970 * 1000).rounded()))|\(source.rawValue)|\(blind)|\(session)|\(reviewer ?? "")|"
        text += candidates.map { "\($0.label):\($0.persona):\($0.provider):\($0.model)" }.joined(separator: ",")
        text += "|" + orderText
        return SHA256.hex(Array(text.utf8))
    }
}

/// One answer in a vote.
public struct VoteCandidate: Sendable, Equatable {
    public var label: String
    /// Where it was shown, from 0 (the pane's place, or the position in the reviewer's order).
    public var position: Int
    public var persona: String
    public var provider: String
    public var model: String
    /// What the answer cost in picodollars; nil when unknown.
    public var costPicos: Int64?
    public var outputTokens: Int?
    /// The answer's key in the ledger (`TurnID.answer`), when it was given here.
    public var answer: String?

    public init(label: String, position: Int, persona: String, provider: String, model: String, costPicos: Int64?,
                outputTokens: Int?, answer: String? = nil) {
        self.label = label
        self.position = position
        self.persona = persona
        self.provider = provider
        self.model = model
        self.costPicos = costPicos
        self.outputTokens = outputTokens
        self.answer = answer
    }

    public var modelRef: ModelRef { ModelRef(provider: provider, model: model) }
}

/// One comparison a vote makes.
public struct VotePair: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case firstWins, secondWins, tie
    }

    public var first: String
    public var second: String
    public var outcome: Outcome

    public init(_ first: String, _ second: String, outcome: Outcome) {
        self.first = first
        self.second = second
        self.outcome = outcome
    }
}
