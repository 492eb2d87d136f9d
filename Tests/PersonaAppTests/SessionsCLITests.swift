import Foundation
import MockProvider
import PersonaKit
import XCTest

/// `persona sessions` end to end: sessions named by `last`, a prefix or a name; rename, rm and
/// search, against sessions saved by real debates through the mock.
final class SessionsCLITests: XCTestCase {
    var cli: CLI!
    var server: MockServer!

    override func setUpWithError() throws {
        cli = try CLI()
        server = try MockServer { request in MockBehavior(text: "On \(request.model) the evidence on sourdough is mixed.") }
        try "default_model: openai:gpt-4o-mini\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true,
                                                        encoding: .utf8)
    }

    override func tearDown() {
        server.stop()
        cli.remove()
    }

    /// Runs a one-round debate and returns its session id.
    func debate(_ topic: String) throws -> String {
        let result = try cli.run(["debate", topic, "--personas", "skeptic,optimist", "--rounds", "1", "--json"],
                                 environment: MoneyCLITests.environment(server))
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(result.events.last?["session"]?.string)
    }

    func testSessionsAreNamedByLastAPrefixOrANameAndCanBeRenamedSearchedAndRemoved() throws {
        let first = try debate("Is bread worth baking at home?")
        let second = try debate("Should we keep a four-day week?")

        let last = try cli.run(["sessions", "show", "last"])
        XCTAssertEqual(last.status, 0, last.stderr)
        XCTAssertTrue(last.stdout.hasPrefix("Session \(second) "), last.stdout)
        XCTAssertTrue(try cli.run(["sessions", "show", String(first.prefix(first.count - 2))]).stdout.hasPrefix("Session \(first) "))

        let renamed = try cli.run(["sessions", "rename", first, "bread"])
        XCTAssertEqual(renamed.stdout, "session \(first) is named bread\n", renamed.stderr)
        XCTAssertTrue(try cli.run(["sessions", "export", "Bread"]).stdout.contains("# Is bread worth baking at home?"))
        let list = try JSON.parse(try cli.run(["sessions", "list", "--json"]).stdout)["sessions"]?.array ?? []
        XCTAssertEqual(list.map { $0["id"]?.string }, [second, first])
        XCTAssertEqual(list.map { $0["name"] }, [.null, .string("bread")])
        let taken = try cli.run(["sessions", "rename", second, "BREAD"])
        XCTAssertEqual(taken.status, 2)
        XCTAssertEqual(taken.stderr, "persona: 'BREAD' already names session \(first)\n")

        let found = try cli.run(["sessions", "search", "four-day week"])
        XCTAssertEqual(found.status, 0, found.stderr)
        XCTAssertTrue(found.stdout.contains(second), found.stdout)
        XCTAssertFalse(found.stdout.contains("bread"), found.stdout)
        let hits = try JSON.parse(try cli.run(["sessions", "search", "sourdough", "--json"]).stdout)["matches"]?.array ?? []
        XCTAssertEqual(Set(hits.compactMap { $0["session"]?.string }), [first, second])
        XCTAssertTrue(hits.allSatisfy { $0["snippet"]?.string?.contains("[sourdough]") ?? false })
        XCTAssertEqual(try cli.run(["sessions", "search", "croissant"]).stdout, "No message holds every word of 'croissant'.\n")

        let spent = try Ledger(path: cli.home.appendingPathComponent("persona.db").path).totals(session: first)
        let unasked = try cli.run(["sessions", "rm", "bread"])
        XCTAssertEqual(unasked.status, 2, "without a terminal to ask on, rm needs --yes")
        XCTAssertTrue(unasked.stderr.contains("add --yes"), unasked.stderr)
        let removed = try cli.run(["sessions", "rm", "bread", "--yes"])
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertTrue(removed.stdout.hasPrefix("removed session \(first) and its "), removed.stdout)
        let gone = try cli.run(["sessions", "show", "bread"])
        XCTAssertEqual(gone.status, 2)
        XCTAssertEqual(gone.stderr, "persona: no session 'bread'; `persona sessions list` shows them\n")
        XCTAssertEqual(try Ledger(path: cli.home.appendingPathComponent("persona.db").path).totals(session: first), spent,
                       "what it spent stays in the ledger")
    }
}
