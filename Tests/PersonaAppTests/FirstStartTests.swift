import Foundation
import MockProvider
import PersonaKit
import XCTest

/// Many processes starting together on a home with no database yet: one creates the schema,
/// the others wait for it, and every command succeeds.
final class FirstStartTests: XCTestCase {
    func testEightConcurrentFirstStartsTwentyFiveTimesAllSucceed() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 3) }
        defer { server.stop() }
        let environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "sk-first-start-key"]
        let commands: [[String]] = [
            ["ask", "Hello.", "--model", "openai:gpt-4o-mini"], ["costs"], ["sessions", "list"], ["costs", "--json"],
            ["ask", "Hi.", "--model", "openai:gpt-4o-mini", "--json"], ["costs", "daily"], ["sessions", "list"], ["costs", "entries"],
        ]
        var failures: [String] = []
        for round in 1...25 {
            let cli = try CLI()
            defer { cli.remove() }
            let results = try cli.runTogether(commands, environment: environment)
            for (command, result) in zip(commands, results) where result.status != 0 {
                failures.append("round \(round), `\(command.joined(separator: " "))` exited \(result.status): \(result.stderr)")
            }
            let ledger = Ledger(database: try PersonaDatabase(path: cli.home.appendingPathComponent("persona.db").path))
            XCTAssertEqual(try ledger.entries(limit: 10).count, 2, "round \(round): both asks are in the ledger")
        }
        XCTAssertEqual(failures, [])
    }
}
