import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct LeaderboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leaderboard",
        abstract: "Your own leaderboard: ratings from your blind votes (or council verdicts), with intervals and the cost per win.",
        discussion: """
            Each vote gives pairs: a pick beats every other answer, a full order gives every pair, and a tie is half a win \
            each. Ratings are a Bradley–Terry fit on the Elo scale (mean 1000); 95% intervals come from 500 bootstrap \
            rounds over the votes, with a fixed seed. Rows whose intervals overlap share a rank.
            """)

    @Option(help: "Rate each model or each persona: model or persona.")
    var by: String = "model"

    @Option(help: "Which votes count: votes (yours), council (council verdicts) or all.")
    var source: String = "votes"

    @Flag(help: "Count your votes given with the names in sight too.")
    var includeSighted = false

    @Option(help: "Only votes at or after this time (ISO 8601, or a date such as 2026-11-01).")
    var since: String?

    @Option(help: "Only votes of the last N days.")
    var days: Int?

    @Option(help: "Leave out rows with fewer pairwise battles.")
    var minBattles = 1

    @Flag(help: "Print one JSON object per row.")
    var json = false

    @Flag(help: "Delete the votes of --source, after asking.")
    var reset = false

    @Flag(help: "With --reset: delete without asking.")
    var yes = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        guard let grouping = Leaderboard.Grouping(rawValue: by) else { throw failure("--by: use model or persona, not '\(by)'", .usageOrConfig) }
        let sourceFilter: Vote.Source?
        switch source {
        case "all": sourceFilter = nil
        case let name: guard let known = Vote.Source(rawValue: name) else {
            throw failure("--source: use votes, council or all, not '\(source)'", .usageOrConfig)
        }
        sourceFilter = known
        }
        guard minBattles >= 0 else { throw failure("--min-battles must be 0 or more", .usageOrConfig) }
        if days != nil, since != nil { throw failure("give --since or --days, not both", .usageOrConfig) }
        var start: Date?
        do { start = try since.map { try CostsReport.date($0, option: "--since") } } catch let error as UsageError {
            throw failure("\(error)", .usageOrConfig)
        }
        if let days {
            guard days >= 1 else { throw failure("--days must be 1 or more", .usageOrConfig) }
            start = Calendar.current.date(byAdding: .day, value: -(days - 1), to: Calendar.current.startOfDay(for: Date()))
        }
        do {
            let store = VoteStore(database: try PersonaDatabase(path: global.workspace().paths.database))
            if reset { return try resetVotes(store, source: sourceFilter) }
            let filter = VoteStore.Filter(source: sourceFilter, includeSighted: includeSighted, since: start)
            let board = try store.leaderboard(filter, options: Leaderboard.Options(grouping: grouping, minBattles: minBattles))
            Output.write(json ? LeaderboardReport.json(board) : LeaderboardReport.text(board, scope: .init(grouping: grouping, filter: filter)))
        } catch let error as LedgerError {
            throw failure("\(error)", .turnFailed)
        }
    }

    private func resetVotes(_ store: VoteStore, source: Vote.Source?) throws {
        let held = try store.votes(VoteStore.Filter(source: source, includeSighted: true)).count
        let what = source.map { $0 == .council ? "council verdicts" : "votes of yours" } ?? "votes and council verdicts"
        guard held > 0 else { return Output.write("no \(what) to delete\n") }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw failure("--reset asks before deleting, and there is no terminal to ask on; add --yes", .usageOrConfig)
            }
            Output.notice("Delete \(held) \(what)? `persona votes export` keeps a copy first. [y/N] ")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else { return Output.write("kept them\n") }
        }
        let deleted = try store.reset(source: source)
        Output.write("deleted \(deleted) \(what)\n")
    }
}
