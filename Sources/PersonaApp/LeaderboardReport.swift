import Foundation
import PersonaKit
import TerminalUI

/// `persona leaderboard` and F9: the table of ratings, as text or as one JSON object per row.
public enum LeaderboardReport {
    /// What the table was made from, for its title.
    public struct Scope: Sendable {
        public var grouping: Leaderboard.Grouping
        public var filter: VoteStore.Filter

        public init(grouping: Leaderboard.Grouping, filter: VoteStore.Filter) {
            self.grouping = grouping
            self.filter = filter
        }

        var votesWord: String {
            let kind = filter.source == .council ? "council verdicts" : filter.source == nil ? "votes and council verdicts" : "votes"
            let blind = filter.source == .council || filter.includeSighted ? "" : "blind "
            return blind + kind
        }
    }

    public static func lines(_ board: Leaderboard, scope: Scope) -> [String] {
        let heading = "Leaderboard by \(scope.grouping.rawValue) · \(board.votes) \(scope.votesWord) · \(board.pairs) pairs"
        guard board.rows.count >= 2 else {
            return [heading, "",
                    board.votes == 0 ? "No \(scope.votesWord) yet. Vote on the chat screen with /vote (and /blind), or run a council."
                        : "\(board.votes) vote\(board.votes == 1 ? "" : "s"), but fewer than two \(scope.grouping.rawValue)s to rank."]
        }
        let nameWidth = max(scope.grouping == .model ? 5 : 7, board.rows.map { DisplayWidth.of($0.name) }.max() ?? 0)
        var lines = [heading, "",
                     pad("Rank", 6) + pad(scope.grouping == .model ? "Model" : "Persona", nameWidth + 2) + pad("Rating", 8)
                        + pad("95% interval", 14) + pad("Battles", 9) + pad("Win rate", 10) + pad("Mean cost", 12) + "Cost/win"]
        for row in board.rows {
            lines.append(pad("\(row.rank)", 6) + pad(row.name, nameWidth + 2) + pad(whole(row.rating), 8)
                + pad(whole(row.ciLow) + "–" + whole(row.ciHigh), 14) + pad("\(row.battles)", 9)
                + pad(String(format: "%.1f%%", row.winRate * 100), 10) + pad(money(row.meanCostPicos), 12) + money(row.costPerWinPicos))
        }
        lines.append("")
        if board.votes < Leaderboard.minimumVotes {
            lines.append("Too few to tell apart: \(board.votes) vote\(board.votes == 1 ? "" : "s"); ranks need \(Leaderboard.minimumVotes) at least.")
        } else if board.tooFewToTell {
            lines.append("Too few to tell apart: with \(board.votes) votes, every interval overlaps the others.")
        }
        lines.append("Ratings: Bradley–Terry on the Elo scale (mean 1000); intervals from 500 bootstrap rounds over the votes.")
        lines.append("A rank counts the rows wholly above; cost per win is what the answers cost over their wins, ties as halves.")
        return lines
    }

    public static func text(_ board: Leaderboard, scope: Scope) -> String { lines(board, scope: scope).joined(separator: "\n") + "\n" }

    public static func json(_ board: Leaderboard) -> String {
        board.rows.map { row in
            JSON.object([
                "rank": .int(row.rank), "name": .string(row.name), "rating": .double(rounded(row.rating, 1)),
                "ci_low": .double(rounded(row.ciLow, 1)), "ci_high": .double(rounded(row.ciHigh, 1)), "battles": .int(row.battles),
                "wins": .double(row.wins), "win_rate": .double(rounded(row.winRate, 4)),
                "mean_cost_usd": row.meanCostPicos.map(EventJSON.amount) ?? .null,
                "cost_per_win_usd": row.costPerWinPicos.map(EventJSON.amount) ?? .null,
            ]).serialized + "\n"
        }.joined()
    }

    static func rounded(_ value: Double, _ places: Int) -> Double {
        let scale = pow(10.0, Double(places))
        return (value * scale).rounded() / scale
    }

    static func whole(_ value: Double) -> String { String(Int(value.rounded())) }

    static func money(_ picos: Int64?) -> String { picos.map { Money.format(picos: $0) } ?? "?" }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(1, width - DisplayWidth.of(text)))
    }
}
