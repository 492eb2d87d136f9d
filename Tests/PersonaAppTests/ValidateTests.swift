import Foundation
import XCTest

/// `persona config validate` on values that once passed and broke every later command.
final class ValidateTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws {
        cli = try CLI()
    }

    override func tearDown() { cli.remove() }

    func validate(_ config: String) throws -> CLI.Result {
        try config.write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        return try cli.run(["config", "validate"], environment: ["PERSONA_BUNDLED_PERSONAS": ""])
    }

    func testNaNAndInfiniteBudgetsAreErrorsAtTheirLines() throws {
        let result = try validate("retry: { max_retries: 1 }\nbudget:\n  daily_usd: .nan\n  session_usd: .inf\n")
        XCTAssertEqual(result.status, 2)
        let file = cli.home.appendingPathComponent("config.yaml").path
        XCTAssertTrue(result.stdout.contains("\(file):3: error: budget.daily_usd:"), result.stdout)
        XCTAssertTrue(result.stdout.contains("\(file):4: error: budget.session_usd:"), result.stdout)
    }

    func testAnUnknownDefaultModelProviderIsAnError() throws {
        let result = try validate("default_model: nosuch:model\n")
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stdout.contains("config.yaml:1: error: default_model: unknown provider 'nosuch'"), result.stdout)
    }

    func testAnUnknownDefaultPersonaIsAnError() throws {
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        try "---\nname: Real\n---\nYou are real.\n".write(to: personas.appendingPathComponent("real.md"), atomically: true, encoding: .utf8)
        let result = try validate("retry: { max_retries: 1 }\ndefault_personas: [real, nonexistent]\n")
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stdout.contains("config.yaml:2: error: default_personas: no persona 'nonexistent'; known: real"), result.stdout)
    }

    /// A huge value is quoted in its first 200 characters, not whole.
    func testAHugeValueIsQuotedCut() throws {
        let result = try validate("prompt_cache: " + String(repeating: "x", count: 5_000_000) + "\n")
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stdout.contains("'" + String(repeating: "x", count: 200) + "…' (4999800 more characters)"), String(result.stdout.prefix(600)))
        XCTAssertLessThan(result.stdout.utf8.count + result.stderr.utf8.count, 2_000)
    }
}
