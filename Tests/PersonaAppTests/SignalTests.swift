import Foundation
import MockProvider
import PersonaKit
import XCTest

/// SIGINT, SIGTERM and SIGHUP during `ask` and `debate`: the streams stop, each turn is recorded
/// as cancelled with what it had streamed, the summary is printed, and the exit code is 128 plus
/// the signal's number.
final class SignalTests: XCTestCase {
    var cli: CLI!
    var server: MockServer!

    override func setUpWithError() throws {
        cli = try CLI()
        // Slow enough that a signal always lands mid-stream.
        server = try MockServer { _ in MockBehavior(tokens: 400, delayPerToken: 0.05) }
    }

    override func tearDown() {
        server.stop()
        cli.remove()
    }

    var environment: [String: String] { ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "sk-signal-test-key"] }

    func entries() throws -> [JSON] {
        try JSON.parse(try cli.run(["costs", "entries", "--json"]).stdout)["entries"]?.array ?? []
    }

    func testEachSignalStopsAskWithTheTurnRecordedAndItsExitCode() throws {
        let streamed = MockServer.generatedDeltas(3).joined()
        for (signal, code) in [(SIGINT, 130), (SIGTERM, 143), (SIGHUP, 129)] as [(Int32, Int32)] {
            let running = try cli.launch(["ask", "Tell me everything.", "--model", "openai:gpt-4o-mini"], environment: environment)
            XCTAssertTrue(running.waitFor(streamed), "the answer was streaming: \(running.stdoutSoFar)")
            running.signal(signal)
            let result = running.finish()
            XCTAssertEqual(result.status, code, "signal \(signal): \(result.stderr)")
            XCTAssertTrue(result.stdout.contains("[partial: the stream failed here]"), result.stdout)
            XCTAssertTrue(result.stdout.contains("stopped by the user"), result.stdout)
            XCTAssertTrue(result.stdout.contains(" out · "), "the turn's figures are printed: \(result.stdout)")
        }
        let rows = try entries()
        XCTAssertEqual(rows.count, 3)
        for row in rows {
            XCTAssertEqual(row["status"]?.string, "cancelled", "\(row)")
            XCTAssertGreaterThan(row["output_tokens"]?.int ?? 0, 2, "the usage so far is billed: \(row)")
            XCTAssertNotNil(row["cost"]?.decimal, "\(row)")
        }
        let reservations = try PersonaDatabase(path: cli.home.appendingPathComponent("persona.db").path)
        XCTAssertEqual(try Ledger(database: reservations).openReservations(), [], "no reservation is left open")
    }

    /// A debate's transcript keeps every stopped turn's text, marked stopped.
    func testSIGTERMStopsADebateAndKeepsEveryTurnsText() throws {
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        for name in ["a", "b"] {
            try "---\nname: \(name)\n---\nYou are \(name).\n".write(to: personas.appendingPathComponent("\(name).md"), atomically: true, encoding: .utf8)
        }
        let running = try cli.launch(["debate", "Argue it out.", "--personas", "a,b", "--mode", "parallel", "--rounds", "1",
                                      "--model", "openai:gpt-4o-mini", "--json"], environment: environment)
        XCTAssertTrue(running.waitFor("\"event\":\"delta\""), running.stdoutSoFar)
        Thread.sleep(forTimeInterval: 0.3)
        running.signal(SIGTERM)
        let result = running.finish()
        XCTAssertEqual(result.status, 143, result.stderr)
        XCTAssertTrue(result.events.contains { $0["event"]?.string == "summary" }, "the summary is printed: \(result.stdout)")

        let rows = try entries()
        XCTAssertEqual(rows.map { $0["status"]?.string }, ["cancelled", "cancelled"])
        let session = try XCTUnwrap(rows.first?["session"]?.string)
        let export = try JSON.parse(try cli.run(["sessions", "export", session, "--format", "json"]).stdout)
        let answers = (export["messages"]?.array ?? []).filter { $0["role"]?.string == "persona" }
        XCTAssertEqual(answers.count, 2, "\(export)")
        for answer in answers {
            XCTAssertEqual(answer["status"]?.string, "stopped")
            let text = answer["text"]?.string ?? ""
            XCTAssertTrue(text.hasPrefix(MockServer.generatedDeltas(2).joined()), "the streamed text is kept: \(text)")
        }
    }
}
