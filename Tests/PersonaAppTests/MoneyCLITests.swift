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

    static func environment(_ server: MockServer) -> [String: String] {
        ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k", "ANTHROPIC_BASE_URL": server.baseURL,
         "ANTHROPIC_API_KEY": "k", "GEMINI_BASE_URL": server.baseURL, "GEMINI_API_KEY": "k", "OLLAMA_HOST": server.baseURL]
    }

    /// A prompt long enough that the usage below is one it could produce.
    static let longPrompt = String(repeating: "What does it cost, exactly? ", count: 200)

    /// The exactness test: three providers' prices, costs with fractions of a micro-dollar, and
    /// every figure equal to the hand-worked sum, to the picodollar.
    func testDoneCostsAndTheSummaryEqualTheHandComputedSumExactly() throws {
        let server = try MockServer { request in
            switch request.format {
            case .openai: return MockBehavior(tokens: 20, inputTokens: 1011, outputTokens: 750)
            case .anthropic: return MockBehavior(tokens: 20, inputTokens: 1001, outputTokens: 301, cachedInputTokens: 2003,
                                                 cacheWriteTokens: 507)
            default: return MockBehavior(tokens: 20, inputTokens: 1003, outputTokens: 333, cachedInputTokens: 201, reasoningTokens: 111)
            }
        }
        defer { server.stop() }
        let expected: [(String, String)] = [
            // 1011·0.15 + 750·0.60 = 601.65 micro-dollars.
            ("openai:gpt-4o-mini", "0.00060165"),
            // 1001·3 + 2003·0.30 + 507·3.75 + 301·15 = 10020.15 micro-dollars.
            ("anthropic:claude-sonnet-4-6", "0.01002015"),
            // (1003 − 201)·0.75 + 201·0.075 + 333·3.75, thoughts billed as output = 1865.325 micro-dollars.
            ("gemini:gemini-3.8-flash", "0.001865325"),
        ]
        for (model, cost) in expected {
            let result = try cli.run(["ask", Self.longPrompt, "--model", model, "--json"], environment: Self.environment(server))
            XCTAssertEqual(result.status, 0, result.stderr)
            let done = try XCTUnwrap(result.events.first { $0["event"]?.string == "done" }, model)
            XCTAssertEqual(done["cost_usd"], .number(cost), model)
            XCTAssertEqual(done["estimated"], .bool(false), model)
            XCTAssertEqual(result.events.last?["cost_usd"], .number(cost), "the summary is the ledger's, exactly")
        }
        let summary = try JSON.parse(try cli.run(["costs", "summary", "--json"]).stdout)
        XCTAssertEqual(summary["total_cost"], .number("0.012487125"))
        XCTAssertEqual(summary["by_provider"]?["gemini"], .number("0.001865325"))
        XCTAssertEqual(summary["by_model"]?["openai:gpt-4o-mini"], .number("0.00060165"))
        XCTAssertEqual(try JSON.parse(try cli.run(["costs", "daily", "--days", "1", "--json"]).stdout)["total"], .number("0.012487125"))
        let entries = try JSON.parse(try cli.run(["costs", "entries", "--json"]).stdout)
        XCTAssertEqual(entries["total"], .number("0.012487125"))
        XCTAssertTrue(try cli.run(["costs"]).stdout.contains("total  $0.012487125  3 requests"))
    }

    func testUnknownPricesAreUnknownNotZero() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 5) }
        defer { server.stop() }
        let result = try cli.run(["ask", "hi", "--model", "openai:gpt-99-experimental", "--json"], environment: Self.environment(server))
        XCTAssertEqual(try XCTUnwrap(result.events.first { $0["event"]?.string == "done" })["cost_usd"], .null)
        XCTAssertEqual(result.events.last?["cost_usd"], .null, "the summary's total is unknown too")
        let summary = try JSON.parse(try cli.run(["costs", "--json"]).stdout)
        XCTAssertEqual(summary["unpriced_requests"]?.int, 1)
        XCTAssertEqual(summary["by_model"]?["openai:gpt-99-experimental"], .null, "unknown, not $0")
        XCTAssertEqual(summary["total_cost"], .null)
        XCTAssertTrue(try cli.run(["costs"]).stdout.contains("total  $?  1 requests"))
        XCTAssertTrue(try cli.run(["costs", "entries"]).stdout.contains(" $? "))
        let unpriced = try cli.run(["models", "--unpriced"]).stdout
        XCTAssertTrue(unpriced.contains(#""openai:gpt-99-experimental": { input: …, output: … }"#), unpriced)
        try "prices: { \"openai:gpt-99-experimental\": { input: 1, output: 2 } }\n"
            .write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try cli.run(["models", "--unpriced"]).stdout, "Every model in the ledger has a price.\n")
    }

    func testModelsShowsExactPricesTheirSourceAndRetirements() throws {
        let table = try cli.run(["models", "--provider", "openai"]).stdout
        let mini = try XCTUnwrap(table.split(separator: "\n").first { $0.contains(" gpt-4o-mini ") }, table)
        XCTAssertTrue(mini.contains("$0.075") && mini.contains("bundled"), String(mini))
        let json = try JSON.parse(try cli.run(["models", "--provider", "anthropic", "--json"]).stdout)
        let sonnet = try XCTUnwrap(json["models"]?.array?.first { $0["model"]?.string == "claude-sonnet-4-5" })
        XCTAssertEqual(sonnet["retired"], .string("2026-11-30"))
        XCTAssertEqual(sonnet["replaced_by"], .string("claude-sonnet-5-5"))
        XCTAssertEqual(sonnet["long_context"]?["threshold"]?.int, 200_000)
        XCTAssertEqual(sonnet["cache_write_1h"], .number("6"))
    }

    func testAPersonaOnARetiredModelIsWarnedWithItsReplacement() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 5) }
        defer { server.stop() }
        let result = try cli.run(["ask", "hi", "--model", "anthropic:claude-sonnet-4-5"], environment: Self.environment(server))
        XCTAssertTrue(result.stderr.contains("anthropic:claude-sonnet-4-5 was retired on 2026-11-30"), result.stderr)
        XCTAssertTrue(result.stderr.contains("use anthropic:claude-sonnet-5-5 instead"), result.stderr)
    }

    func testLiteLLMFilePricesAModelOutsideTheCatalog() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 100, inputTokens: 1000) }
        defer { server.stop() }
        let prices = cli.home.appendingPathComponent("prices.json")
        try #"{"mistral-huge-latest": {"litellm_provider": "mistral", "mode": "chat", "input_cost_per_token": 2e-06, "output_cost_per_token": 6e-06}}"#
            .write(to: prices, atomically: true, encoding: .utf8)
        let environment = ["MISTRAL_BASE_URL": server.baseURL + "/v1", "MISTRAL_API_KEY": "k"]
        let result = try cli.run(["ask", Self.longPrompt, "--model", "mistral:mistral-huge-latest", "--json", "--prices", prices.path],
                                 environment: environment)
        let done = try XCTUnwrap(result.events.first { $0["event"]?.string == "done" })
        XCTAssertEqual(done["cost_usd"], .number("0.0026"), "1000·2 + 100·6 micro-dollars")
        try "prices_file: prices.json\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let viaConfig = try JSON.parse(try cli.run(["models", "--provider", "mistral", "--json"]).stdout)
        let huge = try XCTUnwrap(viaConfig["models"]?.array?.first { $0["model"]?.string == "mistral-huge-latest" })
        XCTAssertEqual(huge["input"], .number("2"))
        XCTAssertEqual(huge["source"], .string("file \(prices.path)"))
    }

    func testATinyBudgetSendsOnlyWhatFitsAndExitsThree() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 24) }
        defer { server.stop() }
        let result = try cli.run(["ask", "Should we?", "--personas", "skeptic,optimist,pragmatist,engineer",
                                  "--model", "openai:gpt-4o-mini", "--budget", "0.0015", "--json"], environment: Self.environment(server))
        XCTAssertEqual(result.status, 3, result.stderr)
        let refused = result.events.filter { $0["event"]?.string == "error" && $0["kind"]?.string == "budget" }
        let done = result.events.filter { $0["event"]?.string == "done" }
        XCTAssertEqual(refused.count + done.count, 4)
        XCTAssertGreaterThan(done.count, 0)
        XCTAssertGreaterThan(refused.count, 0, "four worst cases of about $0.0008 do not fit in $0.0015")
        XCTAssertTrue(refused.first?["message"]?.string?.contains("could cost up to") ?? false)

        // The mock saw exactly the requests whose reservation fitted, each with the output cap it assumed.
        let sent = server.requests
        XCTAssertEqual(sent.count, done.count)
        let price = try XCTUnwrap(try PriceCatalog.bundled().price(for: ModelRef(provider: "openai", model: "gpt-4o-mini")))
        var reserved: Int64 = 0
        for request in sent {
            let body = try JSON.parse(request.body)
            let maxTokens = try XCTUnwrap(body["max_completion_tokens"]?.int, "a budgeted request carries its output cap")
            let messages = (body["messages"]?.array ?? []).compactMap { $0["content"]?.string }
            let chat = ChatRequest(model: "gpt-4o-mini", system: messages[0], messages: [ChatMessage(role: .user, content: messages[1])],
                                   maxTokens: maxTokens)
            reserved += try XCTUnwrap(BudgetGuard.worstCasePicos(chat, price: price, type: .openai))
        }
        XCTAssertLessThanOrEqual(reserved, 1_500_000_000, "every request sent fitted in the $0.0015 cap")
        let spent = try JSON.parse(try cli.run(["costs", "--json"]).stdout)["total_cost"]?.decimal ?? 1
        XCTAssertLessThanOrEqual(spent, Decimal(string: "0.0015")!)
        let statuses = try JSON.parse(try cli.run(["costs", "entries", "--json"]).stdout)["entries"]?.array?.compactMap { $0["status"]?.string }
        XCTAssertEqual(statuses?.filter { $0 == "budget" }.count, refused.count, "refusals are in the ledger too")
    }

    func testABudgetNeedsAPrice() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 5) }
        defer { server.stop() }
        let result = try cli.run(["ask", "hi", "--model", "openai:gpt-99-experimental", "--budget", "5", "--json"],
                                 environment: Self.environment(server))
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.events.contains { $0["kind"]?.string == "budget" && ($0["message"]?.string?.contains("no price") ?? false) })
        XCTAssertTrue(server.requests.isEmpty)
    }

    /// The process test: eight `persona ask` processes on one home share the daily cap, through
    /// the reservations in `persona.db`.
    func testEightProcessesOnOneHomeNeverExceedTheDailyCapTogether() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 60, delayPerToken: 0.02) }
        defer { server.stop() }
        try "budget: { daily_usd: 0.002 }\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let command = ["ask", "Go on.", "--model", "openai:gpt-4o-mini", "--max-tokens", "1000", "--json"]
        let results = try cli.runTogether(Array(repeating: command, count: 8), environment: Self.environment(server))
        let refused = results.filter { $0.status == 3 }
        XCTAssertFalse(refused.isEmpty, "eight worst cases of $0.0008 do not fit in $0.002 at once")
        XCTAssertEqual(results.filter { $0.status == 0 }.count + refused.count, 8, results.map(\.stderr).joined())
        for result in refused {
            XCTAssertTrue(result.events.contains { $0["event"]?.string == "error" && $0["kind"]?.string == "budget" }, result.stdout)
        }
        let ledger = try Ledger(path: cli.home.appendingPathComponent("persona.db").path)
        XCTAssertLessThanOrEqual(try ledger.totals(in: .day()).picos, 2_000_000_000)
        XCTAssertEqual(try ledger.openReservations(), [], "no reservation is left behind")
        XCTAssertEqual(server.requests.count, 8 - refused.count, "a refused process sent nothing")
    }

    /// Counts no provider could report, in each wire format, never reach the ledger as fact, and
    /// never break a later `persona costs`.
    func testHostileUsageInEveryFormatIsPricedFromEstimates() throws {
        let hostile: [(String, MockBehavior)] = [
            ("openai:gpt-4o-mini", MockBehavior(tokens: 8, outputTokens: -1_000_000_000)),
            ("openai:gpt-4o", MockBehavior(tokens: 8, cachedInputTokens: -1)),
            ("anthropic:claude-sonnet-4-6", MockBehavior(tokens: 8, inputTokens: Int.max, cachedInputTokens: 40)),
            ("gemini:gemini-3.8-flash", MockBehavior(tokens: 8, outputTokens: Int.max, reasoningTokens: 7)),
            ("gemini:gemini-3.5-flash-lite", MockBehavior(tokens: 8, inputTokens: 1 << 60)),
            ("ollama:llama3.2", MockBehavior(tokens: 8, inputTokens: Int.min)),
            ("ollama:llama3.2", MockBehavior(tokens: 8, cachedInputTokens: Int.min)),
            ("openai:gpt-4o-mini", MockBehavior(tokens: 8, inputTokens: 1_000_000_000_000)),
        ]
        for (model, behavior) in hostile {
            let server = try MockServer { _ in behavior }
            defer { server.stop() }
            let result = try cli.run(["ask", "Hello there.", "--model", model, "--json"], environment: Self.environment(server))
            XCTAssertEqual(result.status, 0, "\(model): \(result.stderr)")
            let done = try XCTUnwrap(result.events.first { $0["event"]?.string == "done" }, model)
            XCTAssertEqual(done["estimated"], .bool(true), model)
            XCTAssertNotNil(done["usage_note"]?.string, model)
            XCTAssertLessThan(done["cost_usd"]?.decimal ?? 0, Decimal(string: "0.01")!, model)
        }
        for report in ["summary", "daily", "by-provider", "by-model", "entries"] {
            let text = try cli.run(["costs", report])
            XCTAssertEqual(text.status, 0, "\(report): \(text.stderr)")
            let json = try cli.run(["costs", report, "--json"])
            XCTAssertEqual(json.status, 0, "\(report): \(json.stderr)")
        }
        let entries = try JSON.parse(try cli.run(["costs", "entries", "--json"]).stdout)["entries"]?.array ?? []
        XCTAssertEqual(entries.count, hostile.count)
        for entry in entries {
            XCTAssertEqual(entry["estimated"], .bool(true))
            XCTAssertTrue(entry["usage_note"]?.string?.hasPrefix("usage not believed") ?? false, "\(entry)")
            XCTAssertGreaterThanOrEqual(entry["input_tokens"]?.int ?? -1, 0)
            XCTAssertLessThan(entry["input_tokens"]?.int ?? .max, 10_000)
            XCTAssertGreaterThanOrEqual(entry["output_tokens"]?.int ?? -1, 0)
        }
        let total = try JSON.parse(try cli.run(["costs", "--json"]).stdout)["total_cost"]?.decimal ?? -1
        XCTAssertTrue(total >= 0 && total < Decimal(string: "0.05")!, "\(total)")
    }

    /// A request the provider never accepted costs nothing: no connection, an error status, a
    /// redirect. Each row shows $0 with its error.
    func testRequestsTheProviderNeverAcceptedCostNothing() throws {
        let refusals: [(MockBehavior?, String)] = [
            (nil, "network"), (MockBehavior(status: 400), "bad_request"), (MockBehavior(status: 401), "auth"),
            (MockBehavior(status: 302, headers: ["Location": "http://127.0.0.1:1/v1"]), "bad_response"),
            (MockBehavior(status: 403), "auth"),
        ]
        for (index, (behavior, kind)) in refusals.enumerated() {
            // The last on a model with no price: nothing billed is $0 all the same.
            let model = index == refusals.count - 1 ? "openai:model-with-no-price" : "openai:gpt-4o-mini"
            let server = try MockServer { _ in behavior ?? MockBehavior() }
            defer { server.stop() }
            var environment = Self.environment(server)
            if behavior == nil { environment["OPENAI_BASE_URL"] = "http://127.0.0.1:1/v1" }
            let result = try cli.run(["ask", Self.longPrompt, "--model", model, "--json"], environment: environment)
            XCTAssertNotEqual(result.status, 0, kind)
            XCTAssertEqual(result.events.first { $0["event"]?.string == "error" }?["kind"]?.string, kind, result.stdout)
        }
        let entries = try JSON.parse(try cli.run(["costs", "entries", "--json"]).stdout)["entries"]?.array ?? []
        // Newest first; the network failure was retried, each attempt a row of its own.
        XCTAssertEqual(Set(entries.map { $0["error_kind"]?.string ?? "" }), Set(refusals.map(\.1)))
        for entry in entries {
            XCTAssertEqual(entry["cost"]?.decimal, 0, "\(entry)")
            XCTAssertEqual(entry["estimated"], .bool(false), "\(entry)")
        }
        let table = try cli.run(["costs", "entries"]).stdout
        XCTAssertTrue(table.contains("failed (auth)"), table)
        XCTAssertTrue(table.contains("$0"), table)
    }

    /// The 8-persona race, in process so it can run many times quickly.
    func testEightParallelStreamsNeverOvershootATightCap() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 40, delayPerToken: 0.001) }
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("race-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "k",
                                        apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
        let catalog = try PriceCatalog.bundled()
        let cap: Int64 = 2_500_000_000
        for run in 0..<10 {
            let ledger = try Ledger(path: directory.appendingPathComponent("run\(run).db").path)
            let accounting = Accounting(catalog: catalog, budget: BudgetGuard(caps: BudgetCaps(session: cap)), ledger: ledger)
            let turns = (0..<8).map { index in
                PlannedTurn(session: "race", persona: Persona(id: "p\(index)", name: "P", systemPrompt: "You are persona \(index)."),
                            endpoint: endpoint, request: ChatRequest(model: "gpt-4o-mini", system: "You are persona \(index).",
                                                                     messages: [ChatMessage(role: .user, content: "Go.")], maxTokens: 800))
            }
            var refused = 0
            for await event in ConversationEngine(accounting: accounting).runParallel(turns) {
                if case .failed(let error, _) = event.kind, error.kind == .budget { refused += 1 }
            }
            XCTAssertLessThanOrEqual(try ledger.totals().picos, cap, "run \(run)")
            XCTAssertEqual(try ledger.openReservations(), [], "every reservation settled")
            XCTAssertGreaterThan(refused, 0, "the cap is tight enough to refuse some of the eight")
            XCTAssertLessThan(refused, 8)
        }
    }
}
