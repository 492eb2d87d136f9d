import Foundation
import XCTest

@testable import PersonaKit

final class CostFormulaTests: XCTestCase {
    let catalog = try! PriceCatalog.bundled()

    func micros(_ model: String, _ usage: Usage) -> Int64? {
        let ref = try! ModelRef(parsing: model)
        guard let price = catalog.price(for: ref) else { return nil }
        let type = ProviderPreset.named(ref.provider)?.type ?? .openai
        return CostCalculator.micros(usage, price: price, type: type)
    }

    /// The integer path gives the exact `Decimal` figure, rounded the same way, for every price it
    /// takes; a price it cannot hold exactly goes the `Decimal` way.
    func testIntegerCostsEqualTheDecimalFormula() throws {
        let prices = ["0", "0.075", "0.15", "0.6", "1.25", "2.5", "3.75", "10", "15", "75", "0.0375", "0.000001", "0.1234567"]
            .map { Decimal(string: $0)! }
        var generator = SeededGenerator(seed: 1)
        func next(_ bound: Int) -> Int { Int.random(in: 0..<max(1, bound), using: &generator) }
        var integerPaths = 0
        for _ in 0..<4000 {
            let band = TokenPrices(input: prices[next(prices.count)], cachedInput: next(3) == 0 ? nil : prices[next(prices.count)],
                                   cacheWrite: next(3) == 0 ? nil : prices[next(prices.count)], output: prices[next(prices.count)])
            let price = ModelPrice(key: ModelRef(provider: "p", model: "m"), prices: band,
                                   longPrompt: next(2) == 0 ? nil : TokenPrices(input: prices[next(prices.count)], output: prices[next(prices.count)]))
            let input = next(400_000)
            let usage = Usage(inputTokens: input, cachedInputTokens: next(2) == 0 ? nil : next(input + 1),
                              cacheWriteTokens: next(2) == 0 ? nil : next(5000), outputTokens: next(100_000))
            for type in ProviderType.allCases {
                let decimal = try XCTUnwrap(CostCalculator.exactCost(usage, price: price, type: type)).map(Money.micros)
                if let integer = CostCalculator.integerMicros(usage, price: price, type: type) {
                    integerPaths += 1
                    XCTAssertEqual(integer, decimal, "\(usage) \(price) \(type)")
                }
                XCTAssertEqual(CostCalculator.micros(usage, price: price, type: type), decimal)
            }
        }
        XCTAssertGreaterThan(integerPaths, 4000, "most prices are exact in integers")
        let sevenDecimals = ModelPrice(key: ModelRef(provider: "p", model: "m"),
                                       prices: TokenPrices(input: Decimal(string: "0.1234567")!, output: 1))
        XCTAssertNil(CostCalculator.integerMicros(Usage(inputTokens: 10, outputTokens: 10), price: sevenDecimals, type: .openai))
    }

    func testMicroDollarsAreShownAsTheirDecimalIs() {
        var micros: Int64 = 0
        while micros < 50_000_000 {
            XCTAssertEqual(Money.format(micros: micros), Money.format(Money.dollars(micros)), "\(micros)")
            XCTAssertEqual(Money.format(micros: -micros), Money.format(Money.dollars(-micros)), "-\(micros)")
            micros = micros * 3 / 2 + 7
        }
        XCTAssertEqual(Money.format(micros: 3_500), "$0.003500")
        XCTAssertEqual(Money.format(micros: 12_345), "$0.0123")
        XCTAssertEqual(Money.format(micros: 12_350), "$0.0124", "half away from zero")
        XCTAssertEqual(Money.format(micros: 1_005_000), "$1.01")
    }

    func testMoneyIsShownWithDecimalsThatSuitItsSize() {
        let cases: [(String, String)] = [
            ("0", "$0.0000"), ("0.0035", "$0.003500"), ("0.0000004", "$0.000000"), ("0.0000005", "$0.000001"),
            ("0.01", "$0.0100"), ("0.123456", "$0.1235"), ("1", "$1.00"), ("1.005", "$1.01"), ("1234.567", "$1234.57"),
            ("-0.5", "$-0.500000"),
        ]
        for (amount, shown) in cases {
            XCTAssertEqual(Money.format(Decimal(string: amount)!), shown, amount)
        }
    }

    func testOpenAIBillsCachedTokensAtTheCachedPriceAndReasoningAsOutput() {
        // (1000 − 400)·2.50 + 400·1.25 + 500·10 = 1500 + 500 + 5000 micro-dollars.
        XCTAssertEqual(micros("openai:gpt-4o", Usage(inputTokens: 1000, cachedInputTokens: 400, outputTokens: 500, reasoningTokens: 100)), 7000)
        // gpt-5: 2000·1.25 + 0·0.125 + 1000·10 = 2500 + 10000.
        XCTAssertEqual(micros("openai:gpt-5", Usage(inputTokens: 2000, outputTokens: 1000, reasoningTokens: 800)), 12_500)
    }

    func testAnthropicInputExcludesTheCacheAndCacheWritesHaveTheirOwnPrice() {
        // 1000·3 + 2000·0.30 + 500·3.75 + 300·15 = 3000 + 600 + 1875 + 4500.
        XCTAssertEqual(micros("anthropic:claude-sonnet-4-5",
                              Usage(inputTokens: 1000, cachedInputTokens: 2000, cacheWriteTokens: 500, outputTokens: 300)), 9975)
    }

    func testAnthropicLongPromptTierAppliesToTheWholeRequest() {
        // A 210,000-token prompt: 150000·6 + 60000·0.60 + 1000·22.50.
        XCTAssertEqual(micros("anthropic:claude-sonnet-4-5",
                              Usage(inputTokens: 150_000, cachedInputTokens: 60_000, outputTokens: 1000)), 958_500)
        XCTAssertEqual(micros("anthropic:claude-sonnet-4-5", Usage(inputTokens: 150_000, outputTokens: 1000)), 465_000,
                       "150000·3 + 1000·15 below the threshold")
    }

    func testGeminiBillsThoughtsAsOutputAndCachedContentCheaper() {
        // Prompt 1000 of which 200 cached; 300 answer + 700 thought tokens = 1000 output:
        // 800·0.30 + 200·0.03 + 1000·2.50 = 240 + 6 + 2500.
        XCTAssertEqual(micros("gemini:gemini-2.5-flash", Usage(inputTokens: 1000, cachedInputTokens: 200, outputTokens: 1000, reasoningTokens: 700)), 2746)
        // 2.5 Pro above 200k: 250000·2.50 + 1000·15.
        XCTAssertEqual(micros("gemini:gemini-2.5-pro", Usage(inputTokens: 250_000, outputTokens: 1000)), 640_000)
    }

    func testGroqAndLocalModels() {
        XCTAssertEqual(micros("groq:llama-3.3-70b-versatile", Usage(inputTokens: 1000, outputTokens: 1000)), 1380)
        XCTAssertEqual(micros("ollama:llama3.2", Usage(inputTokens: 5000, outputTokens: 5000)), 0)
        XCTAssertEqual(micros("llamacpp:gemma-3-270m", Usage(inputTokens: 5000, outputTokens: 5000)), 0)
    }

    func testRoundingIsToTheNearestMicroDollar() {
        // 7·0.15 + 3·0.60 = 2.85 micro-dollars.
        XCTAssertEqual(micros("openai:gpt-4o-mini", Usage(inputTokens: 7, outputTokens: 3)), 3)
        XCTAssertEqual(Money.micros(Decimal(string: "0.0000024999")!), 2)
        XCTAssertEqual(Money.exactText(1_234_567), "1.234567")
    }

    func testUnknownModelsHaveNoPriceNotZero() {
        XCTAssertNil(micros("openai:gpt-99-turbo", Usage(inputTokens: 10, outputTokens: 10)))
        XCTAssertNil(micros("openrouter:meta-llama/llama-3.3-70b-instruct:free", Usage(inputTokens: 10, outputTokens: 10)))
    }

    func testDatedIdsResolveToTheirFamily() {
        for (dated, family) in [("openai:gpt-4o-2024-08-06", "gpt-4o"), ("anthropic:claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
                                ("anthropic:claude-3-5-haiku-latest", "claude-3-5-haiku"), ("gemini:gemini-2.0-flash-001", "gemini-2.0-flash"),
                                ("gemini:models/gemini-2.5-pro", "gemini-2.5-pro"), ("openai:gpt-4o-mini-2024-07-18", "gpt-4o-mini")] {
            XCTAssertEqual(catalog.price(for: try! ModelRef(parsing: dated))?.key.model, family, dated)
        }
    }

    func testTheCatalogCoversTheModelsUsersExpect() {
        let required = ["openai:gpt-4o", "openai:gpt-4o-mini", "openai:gpt-4.1", "openai:gpt-4.1-mini", "openai:gpt-4.1-nano",
                        "openai:gpt-5", "openai:gpt-5-mini", "openai:gpt-5-nano", "openai:o3", "openai:o4-mini",
                        "anthropic:claude-opus-4-1", "anthropic:claude-sonnet-4", "anthropic:claude-sonnet-4-5",
                        "anthropic:claude-haiku-4-5", "anthropic:claude-3-5-haiku", "gemini:gemini-2.5-pro",
                        "gemini:gemini-2.5-flash", "gemini:gemini-2.5-flash-lite", "gemini:gemini-2.0-flash",
                        "groq:llama-3.3-70b-versatile", "groq:llama-3.1-8b-instant"]
        for name in required {
            let price = catalog.price(for: try! ModelRef(parsing: name))
            XCTAssertNotNil(price?.contextWindow, name)
            XCTAssertNotNil(price?.maxOutput, name)
        }
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "openai", model: "gpt-5"))?.prices.input, Decimal(string: "1.25"))
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "openai", model: "gpt-5"))?.prices.output, 10)
    }

    func testConfigPricesOverrideAndAdd() {
        var catalog = self.catalog
        var cheaper = PriceSettings()
        cheaper.output = 8
        var added = PriceSettings()
        added.input = Decimal(string: "0.5")
        added.output = 1
        catalog.apply(["openai:gpt-5": cheaper, "vllm:my-model": added])
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "openai", model: "gpt-5"))?.prices.output, 8)
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "openai", model: "gpt-5"))?.prices.input, Decimal(string: "1.25"))
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "vllm", model: "my-model"))?.prices.input, Decimal(string: "0.5"))
    }

    func testLiteLLMImportPricesAModelTheCatalogLacks() throws {
        let file = """
            {"sample_spec": {"input_cost_per_token": 0},
             "mistral/mistral-large-latest": {"litellm_provider": "mistral", "mode": "chat", "max_input_tokens": 128000,
               "max_output_tokens": 128000, "input_cost_per_token": 2e-06, "output_cost_per_token": 6e-06},
             "gemini/gemini-9-ultra": {"litellm_provider": "gemini", "input_cost_per_token": 1.25e-06,
               "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 3.125e-07,
               "input_cost_per_token_above_200k_tokens": 2.5e-06, "output_cost_per_token_above_200k_tokens": 1.5e-05},
             "dall-e-3": {"litellm_provider": "openai", "output_cost_per_image": 0.04}}
            """
        var catalog = self.catalog
        XCTAssertNil(catalog.price(for: ModelRef(provider: "mistral", model: "mistral-large-latest")))
        XCTAssertEqual(try catalog.importLiteLLM(Array(file.utf8), source: "t.json"), 2)
        let mistral = try XCTUnwrap(catalog.price(for: ModelRef(provider: "mistral", model: "mistral-large-latest")))
        XCTAssertEqual(mistral.prices.input, 2)
        XCTAssertEqual(mistral.contextWindow, 128_000)
        XCTAssertEqual(CostCalculator.micros(Usage(inputTokens: 1000, outputTokens: 1000), price: mistral, type: .openai), 8000)
        let ultra = try XCTUnwrap(catalog.price(for: ModelRef(provider: "gemini", model: "gemini-9-ultra")))
        XCTAssertEqual(ultra.prices.cachedInput, Decimal(string: "0.3125"))
        XCTAssertEqual(ultra.longPrompt?.output, 15)
    }
}

final class LedgerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func entry(_ provider: String, _ model: String, cost: Int64?, at date: Date = Date(), input: Int = 10, output: Int = 5) -> LedgerEntry {
        LedgerEntry(timestamp: date, session: "s1", persona: "skeptic", provider: provider, model: model, inputTokens: input,
                    outputTokens: output, costMicros: cost, estimated: false, durationMs: 100, status: .ok)
    }

    func testTotalsBreakdownsAndEntries() throws {
        let ledger = try Ledger(path: directory.appendingPathComponent("persona.db").path)
        try ledger.record(entry("openai", "gpt-4o", cost: 7000))
        try ledger.record(entry("anthropic", "claude-sonnet-4-5", cost: 9975))
        try ledger.record(entry("anthropic", "claude-sonnet-4-5", cost: 25))
        try ledger.record(entry("openrouter", "mystery", cost: nil))
        let totals = try ledger.totals()
        XCTAssertEqual(totals, CostTotals(micros: 17_000, requests: 4, inputTokens: 40, outputTokens: 20, unpriced: 1))
        let byProvider = try ledger.breakdown(byModel: false)
        XCTAssertEqual(byProvider.map(\.key), ["anthropic", "openai", "openrouter"])
        XCTAssertEqual(byProvider.map(\.totals.micros), [10_000, 7000, 0])
        XCTAssertEqual(try ledger.breakdown(byModel: true).first?.key, "anthropic:claude-sonnet-4-5")
        XCTAssertEqual(try ledger.entries(limit: 2).map(\.costMicros), [nil, 25])
    }

    func testPeriodsAndDays() throws {
        let ledger = try Ledger(path: directory.appendingPathComponent("persona.db").path)
        let now = Date()
        let yesterday = Calendar.current.date(byAdding: .day, value: -1, to: now)!
        try ledger.record(batch: [entry("openai", "gpt-4o", cost: 100, at: yesterday), entry("openai", "gpt-4o", cost: 50, at: now)])
        XCTAssertEqual(try ledger.totals(in: Ledger.Period(start: Calendar.current.startOfDay(for: now))).micros, 50)
        XCTAssertEqual(try ledger.totals(in: Ledger.Period(end: Calendar.current.startOfDay(for: now))).micros, 100)
        let days = try ledger.daily(days: 3, now: now)
        XCTAssertEqual(days.map(\.micros), [0, 100, 50])
    }

    func testRowsSurviveReopening() throws {
        let path = directory.appendingPathComponent("persona.db").path
        try Ledger(path: path).record(entry("openai", "gpt-4o", cost: 1))
        XCTAssertEqual(try Ledger(path: path).totals().requests, 1)
    }
}

final class BudgetGuardTests: XCTestCase {
    func testReservationsThatDoNotFitAreRefused() async throws {
        let budget = BudgetGuard(sessionCapUSD: Decimal(string: "0.001"), dailyCapUSD: nil)
        let first = try await budget.reserve(600)
        do {
            _ = try await budget.reserve(500)
            XCTFail("600 + 500 micro-dollars exceed the 1000 cap")
        } catch {
            XCTAssertEqual(error.needed, 500)
            XCTAssertEqual(error.left, 400)
        }
        await budget.settle(first, actualMicros: 120)
        _ = try await budget.reserve(880)
        let settled = await budget.settled
        XCTAssertEqual(settled, 120)
    }

    func testTheDailyCapCountsWhatWasSpentEarlierToday() async throws {
        let budget = BudgetGuard(sessionCapUSD: nil, dailyCapUSD: 1, spentTodayBefore: 999_000)
        _ = try await budget.reserve(1000)
        do {
            _ = try await budget.reserve(1)
            XCTFail("the daily cap is reached")
        } catch {
            XCTAssertTrue(error.daily)
            XCTAssertTrue(error.description.contains("budget.daily_usd"))
        }
    }

    func testTheWorstCaseBoundsInputByBytesAndOutputByMaxTokens() throws {
        let price = ModelPrice(key: ModelRef(provider: "openai", model: "m"), prices: TokenPrices(input: 2, output: 10))
        let request = ChatRequest(model: "m", system: "12345678", messages: [ChatMessage(role: .user, content: "hello")])
        // (8 + 5 + 8 + 16) bytes · 2 + 100 · 10 micro-dollars.
        XCTAssertEqual(BudgetGuard.worstCaseMicros(request, maxTokens: 100, price: price), 1074)
    }
}
