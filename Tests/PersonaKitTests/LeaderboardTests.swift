import Foundation
import PersonaKit
import XCTest

/// Votes and the leaderboard: the pairs a vote gives, the Bradley–Terry fit against the truth and
/// against an independent fit, the seeded bootstrap, the votes table, and costs from the ledger.
final class LeaderboardTests: XCTestCase {
    var folder: URL!
    var database: PersonaDatabase!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("votes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = try PersonaDatabase(path: folder.appendingPathComponent("persona.db").path)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    static let start = Date(timeIntervalSince1970: 1_790_000_000)

    /// A vote among `models` (labelled A, B, … in that order) with `order` in the `B>A=C` form.
    static func vote(_ models: [String], _ order: String, at second: Int = 0, source: Vote.Source = .votes, blind: Bool = true,
                     costs: [Int64?]? = nil, answers: [String?]? = nil) -> Vote {
        let candidates = models.enumerated().map { index, model in
            VoteCandidate(label: String(UnicodeScalar(UInt8(65 + index))), position: index, persona: "p-" + model, provider: "mock",
                          model: model, costPicos: costs?[index] ?? 1_000, outputTokens: 10, answer: answers?[index] ?? nil)
        }
        let ranks = order.split(separator: ">").map { $0.split(separator: "=").map(String.init) }
        return Vote(time: start.addingTimeInterval(Double(second)), source: source, blind: blind, session: "s",
                    reviewer: source == .council ? "judge" : nil, candidates: candidates, order: ranks)
    }

    func outcomes(_ vote: Vote) -> [String] {
        vote.pairs.map { pair in
            switch pair.outcome {
            case .firstWins: return "\(pair.first)>\(pair.second)"
            case .secondWins: return "\(pair.second)>\(pair.first)"
            case .tie: return "\(pair.first)=\(pair.second)"
            }
        }
    }

    func testAPickBeatsEveryOtherAFullOrderGivesEveryPairAndATieGivesHalves() {
        XCTAssertEqual(outcomes(Self.vote(["x", "y", "z"], "B")), ["B>A", "B>C"], "the others are not compared")
        XCTAssertEqual(outcomes(Self.vote(["x", "y", "z"], "B>A>C")), ["B>A", "A>C", "B>C"])
        XCTAssertEqual(outcomes(Self.vote(["x", "y", "z"], "A=B=C")), ["A=B", "A=C", "B=C"])
        XCTAssertEqual(outcomes(Self.vote(["x", "y", "z", "w"], "C>A=B")), ["A=B", "C>A", "A>D", "C>B", "B>D", "C>D"])

        let board = Leaderboard([Self.vote(["x", "y"], "A=B"), Self.vote(["x", "y", "z"], "B")], options: .init(bootstrapRounds: 0))
        let wins = Dictionary(uniqueKeysWithValues: board.rows.map { ($0.name, $0.wins) })
        let battles = Dictionary(uniqueKeysWithValues: board.rows.map { ($0.name, $0.battles) })
        XCTAssertEqual(wins, ["mock:x": 0.5, "mock:y": 2.5, "mock:z": 0])
        XCTAssertEqual(battles, ["mock:x": 2, "mock:y": 3, "mock:z": 1])
    }

    func testABadVoteIsNamed() {
        XCTAssertEqual(Self.vote(["x", "y"], "C").problems.first, "the order names C, which is no candidate's label (A, B)")
        XCTAssertEqual(Self.vote(["x", "y"], "A>A").problems.first, "the order names a label twice")
        XCTAssertEqual(Self.vote(["x"], "A").problems.first, "a vote needs at least two candidates, it has 1")
    }

    /// 2,000 votes drawn from known strengths: the fit keeps their order, each within 25 points.
    func testTheFitFindsKnownStrengths() {
        let truth: [String: Double] = ["a": 1200, "b": 1100, "c": 1000, "d": 950, "e": 750]
        let models = truth.keys.sorted()
        var generator = SeededGenerator(seed: 7)
        var votes: [Vote] = []
        for index in 0..<2000 {
            let pair = Array(models.shuffled(using: &generator).prefix(2))
            let odds = pow(10, (truth[pair[0]]! - truth[pair[1]]!) / 400)
            let firstWins = Double.random(in: 0..<1, using: &generator) < odds / (1 + odds)
            votes.append(Self.vote(pair, firstWins ? "A" : "B", at: index))
        }
        let board = Leaderboard(votes, options: .init(bootstrapRounds: 20))
        XCTAssertEqual(board.rows.map(\.name), ["mock:a", "mock:b", "mock:c", "mock:d", "mock:e"])
        for row in board.rows {
            let expected = truth[String(row.name.dropFirst(5))]!
            XCTAssertEqual(row.rating, expected, accuracy: 25, row.name)
        }
    }

    /// A fixed small set of votes, fitted here independently: gradient ascent on the logistic
    /// log-likelihood of every comparison, one at a time, a tie as half a win and half a loss.
    func testTheFitMatchesAnIndependentLogisticRegression() {
        let orders = ["A", "B", "A>B>C", "C>A", "A=B", "B>C>D", "D", "A>D", "C=D", "B>A", "A>C>B>D", "D>B", "C", "A", "B>D", "C>B",
                      "A=B=C", "D>C", "B", "A>C"]
        let lineups: [[String]] = [["w", "x"], ["w", "x"], ["w", "x", "y"], ["w", "x", "y"], ["w", "x"], ["w", "x", "y", "z"],
                                   ["y", "x", "w", "z"], ["w", "x", "y", "z"], ["w", "x", "y", "z"], ["x", "w"], ["w", "x", "y", "z"],
                                   ["w", "z", "y", "x"], ["x", "y", "z"], ["z", "w"], ["w", "x", "y", "z"], ["w", "x", "y"],
                                   ["w", "x", "y"], ["w", "x", "y", "z"], ["y", "z"], ["w", "y", "x"]]
        let votes = zip(lineups, orders).enumerated().map { Self.vote($1.0, $1.1, at: $0) }
        let board = Leaderboard(votes, options: .init(bootstrapRounds: 0))

        // The comparisons, as (winner, loser, weight) by model name.
        var comparisons: [(String, String, Double)] = []
        for vote in votes {
            let model = Dictionary(uniqueKeysWithValues: vote.candidates.map { ($0.label, $0.model) })
            for pair in vote.pairs {
                let (a, b) = (model[pair.first]!, model[pair.second]!)
                switch pair.outcome {
                case .firstWins: comparisons.append((a, b, 1))
                case .secondWins: comparisons.append((b, a, 1))
                case .tie: comparisons += [(a, b, 0.5), (b, a, 0.5)]
                }
            }
        }
        var strength: [String: Double] = ["w": 0, "x": 0, "y": 0, "z": 0]
        for _ in 0..<20_000 {
            var gradient: [String: Double] = [:]
            for (winner, loser, weight) in comparisons {
                let p = 1 / (1 + exp(strength[loser]! - strength[winner]!))
                gradient[winner, default: 0] += weight * (1 - p)
                gradient[loser, default: 0] -= weight * (1 - p)
            }
            for (name, slope) in gradient { strength[name]! += 0.05 * slope }
        }
        let mean = strength.values.reduce(0, +) / 4
        for row in board.rows {
            let reference = 1000 + (strength[String(row.name.dropFirst(5))]! - mean) * 400 / log(10)
            XCTAssertEqual(row.rating, reference, accuracy: 0.5, row.name)
        }
        XCTAssertGreaterThan(board.rows[0].rating - board.rows[3].rating, 50, "the set is not a draw")
    }

    func testTheBootstrapIsDeterministicUnderItsSeedAndRanksRowsThatCannotBeToldApartTogether() {
        var votes: [Vote] = []
        for index in 0..<60 { votes.append(Self.vote(["strong", "weak"], index % 6 == 0 ? "B" : "A", at: index)) }
        for index in 0..<4 { votes.append(Self.vote(["weak", "rare"], index == 0 ? "B" : "A", at: 100 + index)) }
        let first = Leaderboard(votes)
        XCTAssertEqual(first, Leaderboard(votes))
        XCTAssertNotEqual(first, Leaderboard(votes, options: .init(seed: 99)), "another seed draws other samples")
        let rows = Dictionary(uniqueKeysWithValues: first.rows.map { ($0.name, $0) })
        XCTAssertEqual(rows["mock:strong"]?.rank, 1)
        XCTAssertLessThan(rows["mock:strong"]!.ciLow, rows["mock:strong"]!.rating)
        XCTAssertGreaterThan(rows["mock:strong"]!.ciHigh, rows["mock:strong"]!.rating)
        XCTAssertEqual(rows["mock:weak"]?.rank, 2, "strong's interval lies wholly above weak's")
        XCTAssertFalse(first.tooFewToTell)

        let few = Leaderboard([Self.vote(["x", "y"], "A"), Self.vote(["x", "y"], "B", at: 1), Self.vote(["x", "y"], "A", at: 2)])
        XCTAssertTrue(few.tooFewToTell)
        XCTAssertEqual(few.rows.map(\.rank), [1, 1])
    }

    func testExportThenImportGivesTheSameTable() throws {
        let store = VoteStore(database: database)
        let votes = [Self.vote(["x", "y", "z"], "B>A>C", costs: [1_500, nil, 7]), Self.vote(["x", "y"], "A=B", at: 1),
                     Self.vote(["y", "z"], "B", at: 2, source: .council)]
        XCTAssertEqual(try store.record(votes), 3)
        let lines = try store.votes().map(VoteLine.line)
        XCTAssertTrue(lines[0].contains(#""cost_usd":0.0000000015"#), lines[0])
        XCTAssertTrue(lines[0].contains(#""order":[["B"],["A"],["C"]]"#), lines[0])

        let other = VoteStore(database: try PersonaDatabase(path: folder.appendingPathComponent("other.db").path))
        XCTAssertEqual(try other.record(try lines.map(VoteLine.parse)), 3)
        XCTAssertEqual(try other.record(try lines.map(VoteLine.parse)), 0, "votes already held are skipped")
        XCTAssertEqual(try other.votes(), try store.votes())
        for filter in [VoteStore.Filter(), VoteStore.Filter(source: nil)] {
            XCTAssertEqual(try other.leaderboard(filter), try store.leaderboard(filter))
        }
        XCTAssertThrowsError(try VoteLine.parse(#"{"time":"2026-12-04T10:00:00.000Z","source":"votes","candidates":[],"order":[]}"#))
    }

    func testTheSourcesAndSightedVotesAreKeptApart() throws {
        let store = VoteStore(database: database)
        _ = try store.record([Self.vote(["x", "y"], "A"), Self.vote(["x", "y"], "B", at: 1, blind: false),
                          Self.vote(["x", "y"], "B", at: 2, source: .council)])
        XCTAssertEqual(try store.leaderboard(VoteStore.Filter()).votes, 1)
        XCTAssertEqual(try store.leaderboard(VoteStore.Filter(includeSighted: true)).votes, 2)
        XCTAssertEqual(try store.leaderboard(VoteStore.Filter(source: .council)).votes, 1)
        XCTAssertEqual(try store.leaderboard(VoteStore.Filter(source: nil)).votes, 2)
        XCTAssertEqual(try store.withdrawLast(session: "s")?.order, [["B"]], "the last of the user's votes, not the council's")
        XCTAssertEqual(try store.leaderboard(VoteStore.Filter(includeSighted: true)).votes, 1)
        XCTAssertEqual(try store.reset(source: .council), 1)
        XCTAssertEqual(try store.votes().count, 1)
    }

    /// The cost per win is the ledger's rows of the answers (every attempt), over their wins.
    func testTheCostPerWinIsTheLedgersCostOverTheWins() throws {
        let ledger = Ledger(database: database)
        func row(_ answer: String, _ picos: Int64?, model: String) throws {
            try ledger.record(LedgerEntry(timestamp: Self.start, session: "s", persona: "p-" + model, provider: "mock", model: model,
                                          inputTokens: 10, outputTokens: 10, costPicos: picos, estimated: false, durationMs: 5,
                                          status: .ok, answer: answer))
        }
        // x's first answer took a failed attempt and a retry; the votes carry only the last.
        try row("x1", 333_333, model: "x")
        try row("x1", 1_000_001, model: "x")
        try row("x2", 2_000_000, model: "x")
        try row("y1", 5_000_000, model: "y")
        try row("y2", 4_000_000, model: "y")
        try row("z1", 7, model: "z")
        try row("z1", nil, model: "z")
        let store = VoteStore(database: database)
        _ = try store.record([Self.vote(["x", "y", "z"], "A>B", costs: [1_000_001, 5_000_000, 7], answers: ["x1", "y1", "z1"]),
                          Self.vote(["x", "y"], "A=B", at: 1, costs: [2_000_000, 4_000_000], answers: ["x2", "y2"]),
                          Self.vote(["x", "y"], "B", at: 2, costs: [2_000_000, 4_000_000], answers: ["x2", "y2"])])
        let rows = Dictionary(uniqueKeysWithValues: try store.leaderboard(VoteStore.Filter()).rows.map { ($0.name, $0) })
        let x = try XCTUnwrap(rows["mock:x"])
        XCTAssertEqual(x.wins, 2.5)
        XCTAssertEqual(x.meanCostPicos, (333_333 + 1_000_001 + 2_000_000) / 2)
        // 3,333,334 / 2.5 = 1,333,333.6 → 1,333,334.
        XCTAssertEqual(x.costPerWinPicos, 1_333_334)
        XCTAssertEqual(rows["mock:y"]?.wins, 2.5)
        XCTAssertEqual(rows["mock:y"]?.costPerWinPicos, 3_600_000, "9,000,000 over 2.5 wins")
        XCTAssertNil(rows["mock:z"]?.meanCostPicos, "an unpriced row makes the cost unknown")
    }
}
