import Foundation

/// Votes turned into rated rows (DESIGN.md §13): Bradley–Terry ratings on the Elo scale, 95%
/// intervals from a seeded bootstrap over the votes, and what the answers cost. A pure
/// function: the same votes and costs always give the same table.
public struct Leaderboard: Sendable, Equatable {
    public enum Grouping: String, Sendable, CaseIterable {
        /// By `provider:model`.
        case model
        /// By persona id.
        case persona
    }

    public struct Options: Sendable {
        public var grouping: Grouping
        /// Rows with fewer battles are left out of the table (not out of the fit).
        public var minBattles: Int
        public var bootstrapRounds: Int
        public var seed: UInt64

        public init(grouping: Grouping = .model, minBattles: Int = 1, bootstrapRounds: Int = 500, seed: UInt64 = 20_240_501) {
            self.grouping = grouping
            self.minBattles = minBattles
            self.bootstrapRounds = bootstrapRounds
            self.seed = seed
        }
    }

    public struct Row: Sendable, Equatable {
        /// One plus the number of rows whose interval lies wholly above this one's.
        public var rank: Int
        public var name: String
        public var rating: Double
        public var ciLow: Double
        public var ciHigh: Double
        /// Pairwise meetings.
        public var battles: Int
        /// Pairwise wins, a tie counting half.
        public var wins: Double
        public var winRate: Double { battles > 0 ? wins / Double(battles) : 0 }
        /// Distinct answers judged.
        public var answers: Int
        /// The answers' cost over their number, in picodollars; nil when any cost is unknown.
        public var meanCostPicos: Int64?
        /// The answers' cost over the wins, in picodollars; nil when unknown or without a win.
        public var costPerWinPicos: Int64?
    }

    public var rows: [Row]
    /// The votes that made the table, and the pairs they gave.
    public var votes: Int
    public var pairs: Int

    /// Whether the votes cannot tell any row from another: too few for the bootstrap to mean
    /// anything, or every interval overlaps every other.
    public var tooFewToTell: Bool { rows.count < 2 || rows.allSatisfy { $0.rank == 1 } }

    /// Below this many votes, resampling them says little (one vote resampled is always that
    /// vote), and no row is ranked above another.
    public static let minimumVotes = 10

    /// Ranks `votes`. `ledgerCosts` holds what the ledger says each answer (by its key) cost,
    /// nil where a row of it has no price; an answer the ledger does not know keeps the cost its
    /// vote carries.
    public init(_ votes: [Vote], ledgerCosts: [String: Int64?] = [:], options: Options = Options()) {
        func name(_ candidate: VoteCandidate) -> String {
            options.grouping == .model ? candidate.modelRef.description : candidate.persona
        }
        var names: [String] = []
        var index: [String: Int] = [:]
        // Each vote as the meetings it gives, between players by index; a player who meets itself
        // (two personas on one model) learns nothing.
        var meetings: [[(Int, Int, Double)]] = []
        for vote in votes {
            let labels = Dictionary(vote.candidates.map { ($0.label, $0) }, uniquingKeysWith: { first, _ in first })
            var list: [(Int, Int, Double)] = []
            for pair in vote.pairs {
                guard let first = labels[pair.first], let second = labels[pair.second] else { continue }
                let ids = [name(first), name(second)].map { key in
                    if let known = index[key] { return known }
                    index[key] = names.count
                    names.append(key)
                    return names.count - 1
                }
                guard ids[0] != ids[1] else { continue }
                list.append((ids[0], ids[1], pair.outcome == .firstWins ? 1 : pair.outcome == .tie ? 0.5 : 0))
            }
            meetings.append(list)
        }
        var answerCosts = Array(repeating: [String: Int64?](), count: names.count)
        for vote in votes {
            // An answer without a ledger key (an imported vote's) is known by its vote and label.
            var voteKey: String?
            for candidate in vote.candidates {
                guard let player = index[name(candidate)] else { continue }
                let key = candidate.answer ?? {
                    let known = voteKey ?? vote.key
                    voteKey = known
                    return "\(known)/\(candidate.label)"
                }()
                if let answer = candidate.answer, let fromLedger = ledgerCosts[answer] {
                    answerCosts[player].updateValue(fromLedger, forKey: key)
                } else {
                    answerCosts[player].updateValue(candidate.costPicos, forKey: key)
                }
            }
        }
        func fit(_ chosen: [Int]) -> [Double?] {
            var model = BradleyTerry(players: names.count)
            for vote in chosen {
                for (i, j, score) in meetings[vote] { model.add(i, j, score: score) }
            }
            return model.ratings()
        }
        var battles = Array(repeating: 0, count: names.count)
        var wins = Array(repeating: 0.0, count: names.count)
        for list in meetings {
            for (i, j, score) in list {
                battles[i] += 1
                battles[j] += 1
                wins[i] += score
                wins[j] += 1 - score
            }
        }
        let ratings = fit(Array(votes.indices))
        var samples = Array(repeating: [Double](), count: names.count)
        var generator = SeededGenerator(seed: options.seed)
        if !votes.isEmpty {
            for _ in 0..<options.bootstrapRounds {
                let drawn = (0..<votes.count).map { _ in Int.random(in: 0..<votes.count, using: &generator) }
                let round = fit(drawn)
                // Each round is shifted to agree with the fit on the mean of the players it
                // holds, weighted by their battles: a player seen a few times, whose rating swings
                // widely, would otherwise swing every other player's interval with it.
                var weight = 0.0, shift = 0.0
                for (player, rating) in round.enumerated() {
                    guard let rating, let fitted = ratings[player] else { continue }
                    weight += Double(battles[player])
                    shift += Double(battles[player]) * (fitted - rating)
                }
                guard weight > 0 else { continue }
                for (player, rating) in round.enumerated() {
                    if let rating { samples[player].append(rating + shift / weight) }
                }
            }
        }
        var rows: [Row] = []
        for (player, name) in names.enumerated() {
            guard let rating = ratings[player], battles[player] >= options.minBattles else { continue }
            let (battles, wins) = (battles[player], wins[player])
            let sorted = samples[player].sorted()
            let costs = Array(answerCosts[player].values)
            let total = costs.contains(where: { $0 == nil }) ? nil
                : costs.reduce(Int64?(0)) { sum, cost in sum.flatMap { Money.sum($0, cost ?? 0) } }
            rows.append(Row(rank: 1, name: name, rating: rating, ciLow: Self.percentile(sorted, 0.025) ?? rating,
                            ciHigh: Self.percentile(sorted, 0.975) ?? rating, battles: battles, wins: wins, answers: costs.count,
                            meanCostPicos: total.map { Self.divide($0, by: Double(costs.count)) },
                            costPerWinPicos: wins > 0 ? total.map { Self.divide($0, by: wins) } : nil))
        }
        for i in rows.indices where votes.count >= Self.minimumVotes {
            rows[i].rank = 1 + rows.filter { $0.ciLow > rows[i].ciHigh }.count
        }
        self.rows = rows.sorted { ($0.rating, $1.name) > ($1.rating, $0.name) }
        self.votes = votes.count
        pairs = meetings.reduce(0) { $0 + $1.count }
    }

    /// The value at `fraction` of sorted `values`, interpolating between neighbours.
    static func percentile(_ values: [Double], _ fraction: Double) -> Double? {
        guard let first = values.first else { return nil }
        guard values.count > 1 else { return first }
        let position = fraction * Double(values.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, values.count - 1)
        return values[below] + (values[above] - values[below]) * (position - Double(below))
    }

    /// `picos / divisor` to the nearest picodollar, halves away from zero. The divisor is a
    /// count of answers or of wins, a whole number or a half, so the sum is doubled and divided
    /// by twice the divisor in integers.
    static func divide(_ picos: Int64, by divisor: Double) -> Int64 {
        let twice = Int64((divisor * 2).rounded())
        guard twice > 0 else { return 0 }
        let (doubled, overflow) = picos.multipliedReportingOverflow(by: 2)
        guard !overflow else { return Int64((Double(picos) / divisor).rounded()) }
        let (quotient, remainder) = doubled.quotientAndRemainder(dividingBy: twice)
        return remainder * 2 >= twice ? quotient + 1 : quotient
    }
}
