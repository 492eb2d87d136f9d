import Foundation
import MockProvider
import PersonaKit
import XCTest

/// `persona leaderboard` and `persona votes` as a user runs them: import, the table and its JSON,
/// bad lines named, the reset that asks, and a council's verdicts under their own source.
final class LeaderboardCLITests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws { cli = try CLI() }
    override func tearDown() { cli.remove() }

    func line(_ second: Int, _ order: String, a: String = "openai:small", b: String = "openai:large", source: String = "votes",
              blind: Bool = true) -> String {
        let ranks = order.split(separator: ">").map { "[\"\($0)\"]" }.joined(separator: ",")
        return #"{"time":"2026-12-01T10:00:\#(String(format: "%02d", second)).000Z","source":"\#(source)","blind":\#(blind),"#
            + #""session":"s1",\#(source == "council" ? #""reviewer":"judge","# : "")"candidates":["#
            + #"{"label":"A","persona":"ada","model":"\#(a)","cost_usd":0.0003,"output_tokens":80},"#
            + #"{"label":"B","persona":"bea","model":"\#(b)","cost_usd":0.0012,"output_tokens":90}],"order":[\#(ranks)]}"#
    }

    func write(_ lines: [String], to name: String) throws -> String {
        let path = cli.home.appendingPathComponent(name).path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testImportRatesExportsAndResets() throws {
        // The large model wins 8 of 10 blind votes; two sighted votes and a council verdict say otherwise.
        var lines = (0..<10).map { line($0, $0 < 8 ? "B" : "A") }
        lines += [line(20, "A", blind: false), line(21, "A", blind: false), line(22, "A>B", source: "council")]
        let file = try write(lines, to: "votes.jsonl")
        let imported = try cli.run(["votes", "import", file])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertEqual(imported.stdout, "imported 13 votes\n")
        XCTAssertEqual(try cli.run(["votes", "import", file]).stdout, "imported 0 votes, skipped 13 already held\n")

        let table = try cli.run(["leaderboard"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.hasPrefix("Leaderboard by model · 10 blind votes · 10 pairs"), table.stdout)
        let rows = table.stdout.split(separator: "\n").filter { $0.contains("openai:") }
        XCTAssertTrue(rows.first?.contains("openai:large") ?? false, table.stdout)

        let json = try cli.run(["leaderboard", "--json"]).stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
        XCTAssertEqual(json.map { $0["name"]?.string }, ["openai:large", "openai:small"])
        let large = try XCTUnwrap(json.first)
        XCTAssertEqual(large["battles"]?.int, 10)
        XCTAssertEqual(large["wins"]?.double, 8)
        XCTAssertEqual(large["win_rate"]?.double, 0.8)
        XCTAssertEqual(large["mean_cost_usd"]?.decimal, Decimal(string: "0.0012"))
        // Ten answers at $0.0012 over eight wins.
        XCTAssertEqual(large["cost_per_win_usd"]?.decimal, Decimal(string: "0.0015"))
        XCTAssertEqual(Set(large.object?.keys ?? []), ["rank", "name", "rating", "ci_low", "ci_high", "battles", "wins", "win_rate",
                                                          "mean_cost_usd", "cost_per_win_usd"])
        XCTAssertGreaterThan(large["rating"]?.double ?? 0, 1000)

        XCTAssertTrue(try cli.run(["leaderboard", "--include-sighted"]).stdout.hasPrefix("Leaderboard by model · 12 votes"))
        let council = try cli.run(["leaderboard", "--source", "council", "--by", "persona"]).stdout
        XCTAssertTrue(council.hasPrefix("Leaderboard by persona · 1 council verdicts"), council)
        XCTAssertTrue(council.contains("Too few to tell apart"), council)

        let exported = try cli.run(["votes", "export"]).stdout.split(separator: "\n")
        XCTAssertEqual(exported.count, 13)
        XCTAssertTrue(exported.last?.contains(#""reviewer":"judge""#) ?? false)

        let refused = try cli.run(["leaderboard", "--reset", "--source", "council"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("asks before deleting"), refused.stderr)
        XCTAssertEqual(try cli.run(["leaderboard", "--reset", "--source", "council", "--yes"]).stdout, "deleted 1 council verdicts\n")
        XCTAssertEqual(try cli.run(["votes", "export"]).stdout.split(separator: "\n").count, 12)
    }

    func testABadLineIsNamedAndNothingIsImported() throws {
        let file = try write([line(0, "B"), #"{"time":"2026-12-01T10:00:00.000Z","source":"votes","candidates":[],"order":[]}"#,
                              line(1, "C"), "not json"], to: "bad.jsonl")
        let result = try cli.run(["votes", "import", file])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("bad.jsonl:2: a vote needs at least two candidates"), result.stderr)
        XCTAssertTrue(result.stderr.contains("bad.jsonl:3: the order names C, which is no candidate's label (A, B)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("bad.jsonl:4: invalid JSON"), result.stderr)
        XCTAssertTrue(result.stderr.contains("nothing was imported"))
        XCTAssertEqual(try cli.run(["votes", "export"]).stdout, "")
        XCTAssertTrue(try cli.run(["leaderboard"]).stdout.contains("No blind votes yet"))
        XCTAssertEqual(try cli.run(["leaderboard", "--by", "provider"]).status, 2)
    }
}
