import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaApp

/// Anthropic's prompt cache: breakpoints on each persona's pinned system prompt and on the last
/// message of its growing conversation, so that later rounds read the shared history cheaply.
final class PromptCacheTests: XCTestCase {
    var cli: CLI!
    var server: MockServer!

    override func setUpWithError() throws {
        cli = try CLI()
        server = try MockServer { _ in MockBehavior(tokens: 12, cachedInputTokens: 900, cacheWriteTokens: 100) }
    }

    override func tearDown() {
        server.stop()
        cli.remove()
    }

    func debate(rounds: Int = 3) throws -> CLI.Result {
        try cli.run(["debate", "Four-day weeks?", "--personas", "skeptic,optimist", "--mode", "rounds", "--rounds", "\(rounds)",
                     "--model", "anthropic:claude-sonnet-4-6", "--json"], environment: MoneyCLITests.environment(server))
    }

    func bodies() throws -> [JSON] { try server.requests.map { try JSON.parse($0.body) } }

    func testADebateMarksThePinnedPromptAndTheGrowingConversation() throws {
        let result = try debate()
        XCTAssertEqual(result.status, 0, result.stderr)
        let bodies = try bodies()
        XCTAssertEqual(bodies.count, 6, "three rounds of two")
        for body in bodies {
            XCTAssertEqual(body["system"]?[0]?["cache_control"], .object(["type": .string("ephemeral")]), "\(body)")
            XCTAssertNotNil(body["system"]?[0]?["text"]?.string)
            let messages = body["messages"]?.array ?? []
            XCTAssertEqual(messages.last?["content"]?[0]?["cache_control"]?["type"], .string("ephemeral"))
            for earlier in messages.dropLast() { XCTAssertNotNil(earlier["content"]?.string, "only the last message is marked") }
        }
        XCTAssertEqual(bodies.map { $0["messages"]?.array?.count ?? 0 }.sorted(), [1, 1, 3, 3, 5, 5], "each round grows the conversation")

        // Every request read 900 tokens from the cache: 6 · 900 · (3 − 0.30) micro-dollars saved.
        let costs = try JSON.parse(try cli.run(["costs", "--json"]).stdout)
        XCTAssertEqual(costs["saved_by_caching"]?["by_provider"]?["anthropic"], .number("0.01458"))
        XCTAssertEqual(costs["saved_by_caching"]?["total"], .number("0.01458"))
        XCTAssertTrue(try cli.run(["costs"]).stdout.contains("saved by caching: $0.01458"))
        let byProvider = try cli.run(["costs", "by-provider"]).stdout
        XCTAssertTrue(byProvider.contains("$0.01458"), byProvider)
    }

    func testTheConfigTurnsCachingOffOrMakesItLastAnHour() throws {
        let config = cli.home.appendingPathComponent("config.yaml")
        try "prompt_cache: off\n".write(to: config, atomically: true, encoding: .utf8)
        XCTAssertEqual(try debate(rounds: 1).status, 0)
        XCTAssertTrue(try bodies().allSatisfy { $0["system"]?.string != nil && $0["messages"]?[0]?["content"]?.string != nil })

        server.clearLog()
        try "prompt_cache: 1h\n".write(to: config, atomically: true, encoding: .utf8)
        XCTAssertEqual(try debate(rounds: 1).status, 0)
        XCTAssertTrue(try bodies().allSatisfy { $0["system"]?[0]?["cache_control"]?["ttl"] == .string("1h") })

        try "prompt_cache: sometimes\n".write(to: config, atomically: true, encoding: .utf8)
        let invalid = try cli.run(["config", "validate"])
        XCTAssertEqual(invalid.status, 2)
        XCTAssertTrue(invalid.stdout.contains("prompt_cache"), invalid.stdout)
    }

    /// A one-off question is not asked again: only the persona's prompt is marked.
    func testAskMarksOnlyThePinnedPrompt() throws {
        let result = try cli.run(["ask", "Once?", "--personas", "skeptic", "--model", "anthropic:claude-sonnet-4-6"],
                                 environment: MoneyCLITests.environment(server))
        XCTAssertEqual(result.status, 0, result.stderr)
        let body = try XCTUnwrap(try bodies().first)
        XCTAssertNotNil(body["system"]?[0]?["cache_control"])
        XCTAssertEqual(body["messages"]?[0]?["content"]?.string, "Once?")
    }
}
