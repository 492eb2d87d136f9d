import Foundation

/// One answer's place in the council's result.
public struct CouncilRankingRow: Sendable, Equatable {
    public var label: String
    /// The member who wrote it (persona id), revealed with the result.
    public var author: String
    /// 1 for the best; rows that cannot be told apart share a place.
    public var place: Int
    /// The mean of its ranks in the valid verdicts (1 is best); nil when no verdict ranked it.
    public var meanRank: Double?
    /// Borda points from 0 (always last) to 1 (always first), so that councils of any size read
    /// alike. A pair of answers that a reviewer's two passes ordered differently counts as a tie.
    public var borda: Double?
    /// How many valid verdicts put it first.
    public var firstPlaces: Int
    /// Its worst rank less its best: how much the reviewers disagreed.
    public var spread: Int
}

/// How one reviewer judged: how consistent its two passes were, and where it put its own answer.
public struct CouncilReviewer: Sendable, Equatable {
    public var reviewer: String
    /// The share of pairs its two passes ordered alike; nil without two valid passes.
    public var consistency: Double?
    /// Below half of its pairs held when the order was reversed.
    public var positionBiased: Bool { (consistency ?? 1) < 0.5 }
    /// Where it ranked its own answer (with `self_review: include`), which the aggregate leaves out.
    public var selfRank: Int?
}

public struct CouncilResult: Sendable, Equatable {
    public var rows: [CouncilRankingRow]
    public var reviewers: [CouncilReviewer]
}

/// The council's result, a pure function of the ballot and the verdicts (DESIGN.md §13).
public enum CouncilAggregate {
    public static func rank(_ verdicts: [CouncilVerdict], ballot: CouncilBallot) -> CouncilResult {
        var ranks: [String: [Int]] = [:]
        var firsts: [String: Int] = [:]
        // Borda points in halves, beside the most each verdict could have given: kept whole, so
        // that equal scores compare equal and show as ties.
        var halfPoints: [String: (won: Int, most: Int)] = [:]
        var reviewers: [CouncilReviewer] = []
        let byReviewer = Dictionary(grouping: verdicts, by: \.reviewer)
        for reviewer in byReviewer.keys.sorted() {
            let passes = byReviewer[reviewer]!.sorted { $0.pass < $1.pass }
            let own = ballot.label(of: reviewer)
            // Each valid ranking without the reviewer's own answer, which never counts.
            let rankings = passes.compactMap(\.ranking).map { $0.filter { $0 != own } }
            let selfRank = own.flatMap { label in passes.compactMap(\.ranking).first?.firstIndex(of: label).map { $0 + 1 } }
            for ranking in rankings {
                for (index, label) in ranking.enumerated() { ranks[label, default: []].append(index + 1) }
                if let first = ranking.first { firsts[first, default: 0] += 1 }
            }
            guard let first = rankings.first else {
                reviewers.append(CouncilReviewer(reviewer: reviewer, consistency: nil, selfRank: selfRank))
                continue
            }
            // Pairwise: a win where every pass agrees, half a win each where passes disagree.
            var held = 0
            var pairs = 0
            var halves: [String: Int] = Dictionary(uniqueKeysWithValues: first.map { ($0, 0) })
            for (i, a) in first.enumerated() {
                for b in first[(i + 1)...] {
                    let agreed = rankings.allSatisfy { ranking in
                        guard let x = ranking.firstIndex(of: a), let y = ranking.firstIndex(of: b) else { return false }
                        return x < y
                    }
                    pairs += 1
                    if agreed {
                        held += 1
                        halves[a, default: 0] += 2
                    } else {
                        halves[a, default: 0] += 1
                        halves[b, default: 0] += 1
                    }
                }
            }
            for (label, won) in halves {
                let sum = halfPoints[label] ?? (0, 0)
                halfPoints[label] = (sum.won + won, sum.most + 2 * max(1, first.count - 1))
            }
            reviewers.append(CouncilReviewer(reviewer: reviewer, consistency: rankings.count > 1 && pairs > 0 ? Double(held) / Double(pairs) : nil,
                                             selfRank: selfRank))
        }
        struct Score {
            var row: CouncilRankingRow
            var rankSum = 0
            var rankCount = 0
            var won = 0
            var most = 0
            /// Compares fractions exactly, by cross-multiplying.
            func bordaAbove(_ other: Score) -> Bool { won * other.most > other.won * most }
            func rankBelow(_ other: Score) -> Bool { rankSum * other.rankCount < other.rankSum * rankCount }
            func ties(_ other: Score) -> Bool { !bordaAbove(other) && !other.bordaAbove(self) && !rankBelow(other) && !other.rankBelow(self) }
        }
        var scores = ballot.labels.map { label in
            let labelRanks = ranks[label] ?? []
            let points = halfPoints[label] ?? (0, 0)
            return Score(row: CouncilRankingRow(
                label: label, author: ballot.author(of: label) ?? "", place: 0,
                meanRank: labelRanks.isEmpty ? nil : Double(labelRanks.reduce(0, +)) / Double(labelRanks.count),
                borda: points.most == 0 ? nil : Double(points.won) / Double(points.most),
                firstPlaces: firsts[label] ?? 0, spread: (labelRanks.max() ?? 0) - (labelRanks.min() ?? 0)),
                rankSum: labelRanks.reduce(0, +), rankCount: labelRanks.count, won: points.won, most: points.most)
        }
        // Unranked answers (every verdict on them invalid) go last.
        scores.sort { a, b in
            if (a.most == 0) != (b.most == 0) { return b.most == 0 }
            if a.bordaAbove(b) || b.bordaAbove(a) { return a.bordaAbove(b) }
            if a.rankBelow(b) || b.rankBelow(a) { return a.rankBelow(b) }
            return a.row.label < b.row.label
        }
        var rows: [CouncilRankingRow] = []
        for (index, score) in scores.enumerated() {
            var row = score.row
            row.place = index > 0 && score.ties(scores[index - 1]) && (score.most == 0) == (scores[index - 1].most == 0)
                ? rows[index - 1].place : index + 1
            rows.append(row)
        }
        return CouncilResult(rows: rows, reviewers: reviewers)
    }
}
