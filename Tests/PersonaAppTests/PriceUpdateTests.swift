import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaApp

/// `persona prices update` fetches LiteLLM's list over HTTP, checks it, and keeps it; a bad
/// download leaves the previous list in place.
final class PriceUpdateTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws {
        cli = try CLI()
    }

    override func tearDown() { cli.remove() }

    /// A list in LiteLLM's shape: a repriced gpt-4o-mini and a model the bundle lacks, among others.
    static func priceList(gpt4oMiniInput: String) -> String {
        var entries = (0..<30).map { index in
            #""gpt-test-\#(index)": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}"#
        }
        entries.append(#""gpt-4o-mini": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 128000, "input_cost_per_token": \#(gpt4oMiniInput), "output_cost_per_token": 6e-07}"#)
        entries.append(#""claude-novel-1": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost_above_1hr": 6e-06}"#)
        return "{\"sample_spec\": {}, " + entries.joined(separator: ", ") + "}"
    }

    func testAListServedOverHTTPIsImportedAndABadOneRefused() throws {
        let response = Response(Array(Self.priceList(gpt4oMiniInput: "1e-07").utf8))
        let server = try MockServer { _ in response.behavior }
        defer { server.stop() }
        let url = server.baseURL + "/model_prices_and_context_window.json"

        let update = try cli.run(["prices", "update", "--from", url])
        XCTAssertEqual(update.status, 0, update.stderr)
        XCTAssertTrue(update.stdout.contains("prices updated: 32 chat models"), update.stdout)
        let file = cli.home.appendingPathComponent("prices/litellm.json")
        XCTAssertEqual(try Data(contentsOf: file), Data(response.behavior.replayBody!))
        let stored = try XCTUnwrap(PriceUpdate.stored(home: cli.home.path))
        XCTAssertEqual(stored.sha256, SHA256.hex(response.behavior.replayBody!))
        XCTAssertEqual(stored.day, PriceUpdate.localDay())
        XCTAssertEqual(server.requests.first?.method, "GET")
        XCTAssertEqual(server.requests.first?.path, "/model_prices_and_context_window.json")

        let models = try JSON.parse(try cli.run(["models", "--provider", "openai", "--json"]).stdout)["models"]?.array ?? []
        let mini = try XCTUnwrap(models.first { $0["model"]?.string == "gpt-4o-mini" })
        XCTAssertEqual(mini["input"], .number("0.1"), "the update's price wins over the bundled one")
        XCTAssertEqual(mini["source"], .string("update of \(stored.day)"))
        XCTAssertEqual(mini["context_window"]?.int, 128_000, "what the update does not say, the bundle still does")
        XCTAssertNotNil(models.first { $0["model"]?.string == "gpt-test-7" })

        // A truncated download, one that is not a price list, and an error status: each refused.
        for (body, code) in [(String(Self.priceList(gpt4oMiniInput: "9e-07").prefix(500)), 200), (#"{"hello": "world"}"#, 200),
                             (Self.priceList(gpt4oMiniInput: "9e-07"), 500)] {
            response.set(Array(body.utf8), status: code)
            let refused = try cli.run(["prices", "update", "--from", url])
            XCTAssertEqual(refused.status, 1, refused.stdout)
            XCTAssertTrue(refused.stderr.contains("prices update:"), refused.stderr)
            XCTAssertEqual(PriceUpdate.stored(home: cli.home.path)?.sha256, stored.sha256, "the previous list stays")
        }
        let after = try JSON.parse(try cli.run(["models", "--provider", "openai", "--json"]).stdout)["models"]?.array ?? []
        XCTAssertEqual(after.first { $0["model"]?.string == "gpt-4o-mini" }?["input"], .number("0.1"))
    }

    func testAnUnreachableSourceIsExplained() throws {
        let result = try cli.run(["prices", "update", "--from", "http://127.0.0.1:9/prices.json"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("could not be fetched"), result.stderr)
        XCTAssertNil(PriceUpdate.stored(home: cli.home.path))
    }
}

/// What the mock serves, changed between downloads.
private final class Response: @unchecked Sendable {
    private let lock = NSLock()
    private var body: [UInt8]
    private var status = 200

    init(_ body: [UInt8]) { self.body = body }

    var behavior: MockBehavior {
        lock.withLock { MockBehavior(status: status, replayBody: body, replayContentType: "application/json") }
    }

    func set(_ body: [UInt8], status: Int) {
        lock.withLock {
            self.body = body
            self.status = status
        }
    }
}
