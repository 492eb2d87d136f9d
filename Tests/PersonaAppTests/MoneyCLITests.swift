import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaApp

/// Money end to end: streams with known usage, the ledger, `persona costs`, and budgets.
final class MoneyCLITests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws {
        cli = try CLI()
    }

    override func tearDown() { cli.remove() }

    /// Each format reports a known usage, chosen so that the cost is easy to work out by hand.
    static func knownUsage(_ request: MockRequest) -> MockBehavior {
        switch request.format {
        case .openai: return MockBehavior(tokens: 400, inputTokens: 1000, cachedInputTokens: 400, reasoningTokens: 100)
        case .anthropic: return MockBehavior(tokens: 300, inputTokens: 1000, cachedInputTokens: 2000, cacheWriteTokens: 500)
        case .gemini: return MockBehavior(tokens: 300, inputTokens: 1000, cachedInputTokens: 200, reasoningTokens: 700)
        default: return MockBehavior(tokens: 10, inputTokens: 50)
        }
    }

    func testLedgerRowsAndCostsJSONEqualHandComputedFigures() throws {
        let server = try MockServer(script: Self.knownUsage)
        defer { server.stop() }
        let environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k",
                           "ANTHROPIC_BASE_URL": server.baseURL, "ANTHROPIC_API_KEY": "k",
                           "GEMINI_BASE_URL": server.baseURL, "GEMINI_API_KEY": "k", "OLLAMA_HOST": server.baseURL]
        let expected: [(String, Int64)] = [
            // (1000 − 400)·2.50 + 400·1.25 + (400 + 100)·10
            ("openai:gpt-4o-2024-08-06", 7000),
            // 1000·3 + 2000·0.30 + 500·3.75 + 300·15
            ("anthropic:claude-sonnet-4-5", 9975),
            // 800·0.30 + 200·0.03 + (300 + 700)·2.50
            ("gemini:gemini-2.5-flash", 2746),
            ("ollama:llama3.2", 0),
        ]
        for (model, micros) in expected {
            let result = try cli.run(["ask", "What does it cost?", "--model", model, "--json"], environment: environment)
            XCTAssertEqual(result.status, 0, result.stderr)
            let done = try XCTUnwrap(result.events.first { $0["event"]?.string == "done" }, model)
            XCTAssertEqual(done["cost_usd"], .number(Money.exactText(micros)), model)
            XCTAssertEqual(done["estimated"], .bool(false))
        }

        let summary = try JSON.parse(try cli.run(["costs", "--json"]).stdout)
        XCTAssertEqual(summary["total_cost"], .number("0.019721"), "7000 + 9975 + 2746 + 0 micro-dollars")
        XCTAssertEqual(summary["request_count"]?.int, 4)
        XCTAssertEqual(summary["by_provider"]?["anthropic"], .number("0.009975"))
        XCTAssertEqual(summary["by_model"]?["openai:gpt-4o-2024-08-06"], .number("0.007"))
        XCTAssertEqual(summary["token_count"]?["input"]?.int, 1000 + 1000 + 1000 + 50)
        XCTAssertEqual(summary["token_count"]?["output"]?.int, 500 + 300 + 1000 + 10)
        XCTAssertNotNil(summary["period"]?["start"])

        let byProvider = try JSON.parse(try cli.run(["costs", "by-provider", "--json"]).stdout)
        XCTAssertEqual(byProvider["costs"]?["gemini"]?["total"], .number("0.002746"))
        XCTAssertEqual(byProvider["costs"]?["gemini"]?["request_count"]?.int, 1)
        XCTAssertEqual(byProvider["costs"]?["openai"]?["output_tokens"]?.int, 500)

        let entries = try JSON.parse(try cli.run(["costs", "entries", "--limit", "2", "--json"]).stdout)
        XCTAssertEqual(entries["entries"]?.array?.count, 2)
        XCTAssertEqual(entries["entries"]?[0]?["provider"]?.string, "ollama")
        XCTAssertEqual(entries["entries"]?[1]?["cost"], .number("0.002746"))
        XCTAssertEqual(entries["total"], .number("0.002746"))
        XCTAssertNotNil(entries["entries"]?[0]?["request_id"]?.int)

        let daily = try JSON.parse(try cli.run(["costs", "daily", "--days", "3", "--json"]).stdout)
        XCTAssertEqual(daily["daily_costs"]?.object?.members.count, 3)
        XCTAssertEqual(daily["total"], .number("0.019721"))
        XCTAssertEqual(daily["average_daily"], .number("0.006574"), "19721 / 3, rounded to the micro-dollar")

        let table = try cli.run(["costs"]).stdout
        XCTAssertTrue(table.contains("total  $0.019721  4 requests"), table)
        XCTAssertTrue(table.contains("anthropic:claude-sonnet-4-5  $0.009975  1 req"), table)
    }

    /// A provider that reports no usage is priced from estimates, and every sum that holds one
    /// says so: each turn's cost, the plain total, the JSON summary and the ledger's reports.
    func testTotalsHoldingAnEstimateAreMarked() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 40, omitUsage: true) }
        defer { server.stop() }
        let environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k"]
        let arguments = ["ask", "hi", "--personas", "skeptic,optimist", "--model", "openai:gpt-4o-mini"]
        let plain = try cli.run(arguments, environment: environment)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let total = try XCTUnwrap(plain.stdout.split(separator: "\n").first { $0.hasPrefix("total: ") }, plain.stdout)
        XCTAssertTrue(total.contains(", ~$0.0"), String(total))
        XCTAssertEqual(plain.stdout.components(separatedBy: " · ~$0.0").count, 3, "each turn's cost is marked too")

        let json = try cli.run(arguments + ["--json"], environment: environment)
        let summary = try XCTUnwrap(json.events.last)
        XCTAssertEqual(summary["event"]?.string, "summary")
        XCTAssertEqual(summary["estimated"], .bool(true))
        XCTAssertEqual(json.events.filter { $0["event"]?.string == "done" }.map { $0["estimated"] }, [.bool(true), .bool(true)])

        let costs = try cli.run(["costs"]).stdout
        XCTAssertTrue(costs.contains("total  ~$0.0"), costs)
        XCTAssertTrue(costs.contains("4 of them priced from estimated counts"), costs)
        XCTAssertTrue(costs.contains("openai:gpt-4o-mini") && costs.contains("  ~$0.0"), costs)
        XCTAssertEqual(try JSON.parse(try cli.run(["costs", "--json"]).stdout)["estimated_requests"]?.int, 4)
        let byModel = try JSON.parse(try cli.run(["costs", "by-model", "--json"]).stdout)
        XCTAssertEqual(byModel["costs"]?["openai:gpt-4o-mini"]?["estimated_requests"]?.int, 4)
        let daily = try cli.run(["costs", "daily", "--days", "2"]).stdout
        let dailyTotal = daily.split(separator: "\n").first { $0.hasPrefix("total ") }
        XCTAssertTrue(dailyTotal?.contains(" ~$0.0") ?? false, daily)
        XCTAssertEqual(try JSON.parse(try cli.run(["costs", "daily", "--days", "2", "--json"]).stdout)["estimated_days"]?.array?.count, 1)
        let debate = try cli.run(["debate", "Four-day weeks?", "--personas", "skeptic,optimist", "--rounds", "1",
                                  "--model", "openai:gpt-4o-mini"], environment: environment)
        XCTAssertEqual(debate.status, 0, debate.stderr)
        let session = try XCTUnwrap(debate.stdout.split(separator: "\n").last { $0.hasPrefix("session ") }, debate.stdout)
        XCTAssertTrue(session.contains(", ~$0.0"), String(session))
        let sessions = try cli.run(["sessions", "list"]).stdout
        XCTAssertTrue(sessions.contains(" ~$0.0"), sessions)
    }

    func testUnknownPricesAreUnknownNotZero() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 5) }
        defer { server.stop() }
        let result = try cli.run(["ask", "hi", "--model", "openai:gpt-99-experimental", "--json"],
                                 environment: ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k"])
        let done = try XCTUnwrap(result.events.first { $0["event"]?.string == "done" })
        XCTAssertEqual(done["cost_usd"], .null)
        XCTAssertEqual(result.events.last?["cost_usd"], .null, "the summary's total is unknown too")
        let summary = try JSON.parse(try cli.run(["costs", "--json"]).stdout)
        XCTAssertEqual(summary["unpriced_requests"]?.int, 1)
        XCTAssertTrue(try cli.run(["costs", "entries"]).stdout.contains(" ? "))
    }

    func testLiteLLMFilePricesAModelOutsideTheCatalog() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 100, inputTokens: 1000) }
        defer { server.stop() }
        let prices = cli.home.appendingPathComponent("prices.json")
        try #"{"mistral-large-latest": {"litellm_provider": "mistral", "input_cost_per_token": 2e-06, "output_cost_per_token": 6e-06}}"#
            .write(to: prices, atomically: true, encoding: .utf8)
        let environment = ["MISTRAL_BASE_URL": server.baseURL + "/v1", "MISTRAL_API_KEY": "k"]
        let result = try cli.run(["ask", "hi", "--model", "mistral:mistral-large-latest", "--json", "--prices", prices.path],
                                 environment: environment)
        let done = try XCTUnwrap(result.events.first { $0["event"]?.string == "done" })
        XCTAssertEqual(done["cost_usd"], .number("0.0026"), "1000·2 + 100·6 micro-dollars")
        try "prices_file: prices.json\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let viaConfig = try cli.run(["models", "--provider", "mistral", "--json"])
        XCTAssertEqual(try JSON.parse(viaConfig.stdout)["models"]?[0]?["input"], .number("2"))
    }

    func testATinyBudgetSendsOnlyWhatFitsAndExitsThree() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 24) }
        defer { server.stop() }
        let environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k"]
        let result = try cli.run(["ask", "Should we?", "--personas", "skeptic,optimist,pragmatist,engineer",
                                  "--model", "openai:gpt-4o-mini", "--budget", "0.001", "--json"], environment: environment)
        XCTAssertEqual(result.status, 3, result.stderr)
        let refused = result.events.filter { $0["event"]?.string == "error" && $0["kind"]?.string == "budget" }
        let done = result.events.filter { $0["event"]?.string == "done" }
        XCTAssertEqual(refused.count + done.count, 4)
        XCTAssertGreaterThan(refused.count, 0)
        XCTAssertTrue(refused[0]["message"]?.string?.contains("could cost up to") ?? false)

        // The mock saw exactly the requests whose reservation fitted, each with the output cap it assumed.
        let sent = server.requests
        XCTAssertEqual(sent.count, done.count)
        let price = try XCTUnwrap(try PriceCatalog.bundled().price(for: ModelRef(provider: "openai", model: "gpt-4o-mini")))
        var reserved: Int64 = 0
        for request in sent {
            let body = try JSON.parse(request.body)
            let maxTokens = try XCTUnwrap(body["max_completion_tokens"]?.int, "a budgeted request carries its output cap")
            let messages = (body["messages"]?.array ?? []).compactMap { $0["content"]?.string }
            let chat = ChatRequest(model: "gpt-4o-mini", system: messages[0], messages: [ChatMessage(role: .user, content: messages[1])])
            reserved += BudgetGuard.worstCaseMicros(chat, maxTokens: maxTokens, price: price)
        }
        XCTAssertLessThanOrEqual(reserved, 1000, "every request sent fitted in the $0.001 cap")
        let spent = try JSON.parse(try cli.run(["costs", "--json"]).stdout)["total_cost"]?.decimal ?? 1
        XCTAssertLessThanOrEqual(spent, Decimal(string: "0.001")!)
        let statuses = try JSON.parse(try cli.run(["costs", "entries", "--json"]).stdout)["entries"]?.array?.compactMap { $0["status"]?.string }
        XCTAssertEqual(statuses?.filter { $0 == "budget" }.count, refused.count, "refusals are in the ledger too")
    }

    func testABudgetNeedsAPrice() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 5) }
        defer { server.stop() }
        let result = try cli.run(["ask", "hi", "--model", "openai:gpt-99-experimental", "--budget", "5", "--json"],
                                 environment: ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k"])
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.events.contains { $0["kind"]?.string == "budget" && ($0["message"]?.string?.contains("no price") ?? false) })
        XCTAssertTrue(server.requests.isEmpty)
    }
}

/// Parallel turns against a tight cap, in process so it can run many times quickly.
final class BudgetRaceTests: XCTestCase {
    func testEightParallelStreamsNeverOvershootATightCap() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 40, delayPerToken: 0.001) }
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("race-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "k",
                                        apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
        let catalog = try PriceCatalog.bundled()
        let cap: Int64 = 2500
        for run in 0..<20 {
            let ledger = try Ledger(path: directory.appendingPathComponent("run\(run).db").path)
            let budget = BudgetGuard(sessionCapUSD: Money.dollars(cap), dailyCapUSD: nil)
            let engine = ConversationEngine(accounting: Accounting(catalog: catalog, budget: budget, ledger: ledger, session: "race\(run)"))
            let turns = (0..<8).map { index in
                PlannedTurn(persona: Persona(id: "p\(index)", name: "P", systemPrompt: "You are persona \(index)."), endpoint: endpoint,
                            request: ChatRequest(model: "gpt-4o-mini", system: "You are persona \(index).",
                                                 messages: [ChatMessage(role: .user, content: "Go.")], maxTokens: 800))
            }
            var refused = 0
            for await event in engine.runParallel(turns) {
                if case .failed(_, let error, _) = event, error.kind == .budget { refused += 1 }
            }
            let settled = await budget.settled
            let reserved = await budget.reserved
            XCTAssertLessThanOrEqual(settled, cap, "run \(run)")
            XCTAssertEqual(reserved, 0, "every reservation settled")
            XCTAssertLessThanOrEqual(try ledger.totals().micros, cap, "run \(run)")
            XCTAssertEqual(try ledger.totals().micros, settled)
            XCTAssertGreaterThan(refused, 0, "the cap is tight enough to refuse some of the eight")
            XCTAssertLessThan(refused, 8)
        }
    }
}
