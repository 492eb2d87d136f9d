import Foundation
import XCTest

@testable import PersonaKit

/// The bundled catalog, the YAML it is written in, the config's overrides and LiteLLM's list.
final class CatalogTests: XCTestCase {
    let catalog = try! PriceCatalog.bundled()

    func price(_ name: String) -> ModelPrice? { catalog.price(for: try! ModelRef(parsing: name)) }

    func usd(_ text: String) -> Int64 { TokenPrices.picosPerToken(usdPerMillion: Decimal(string: text)!)! }

    func testTheCatalogHasDecemberTwentySixModelsOfEveryProvider() {
        let current = ["openai:gpt-6-luna", "openai:gpt-6-sol", "openai:gpt-6.1-sol", "openai:gpt-5.1", "openai:gpt-5.2", "openai:gpt-5.4",
                       "openai:gpt-5.5", "openai:gpt-5.6", "anthropic:claude-opus-5-5", "anthropic:claude-sonnet-5-5",
                       "anthropic:claude-haiku-5-5", "anthropic:claude-sonnet-4-6", "anthropic:claude-opus-4-6",
                       "gemini:gemini-3.8-flash", "gemini:gemini-3.5-flash-lite", "gemini:gemini-3.1-pro-preview",
                       "groq:openai/gpt-oss-20b", "deepseek:deepseek-v4-flash", "deepseek:deepseek-v4-pro",
                       "mistral:mistral-large-latest", "mistral:mistral-small-latest"]
        let today = "2026-12-04"
        for name in current {
            let entry = price(name)
            XCTAssertNotNil(entry?.contextWindow, name)
            XCTAssertGreaterThan(entry?.prices.output ?? 0, 0, name)
            XCTAssertFalse(entry?.isRetired(on: today) ?? true, name)
        }
        for retired in ["anthropic:claude-sonnet-4", "anthropic:claude-opus-4-1", "anthropic:claude-3-5-haiku", "anthropic:claude-sonnet-4-5",
                        "gemini:gemini-2.0-flash", "openai:o4-mini"] {
            XCTAssertTrue(price(retired)?.isRetired(on: today) ?? false, retired)
        }
        XCTAssertTrue(price("anthropic:claude-sonnet-4-5")!.isRetired(on: "2026-11-30"), "retired on the day itself")
        XCTAssertFalse(price("anthropic:claude-sonnet-4-5")!.isRetired(on: "2026-11-29"))
    }

    func testSuccessorsAreFollowedPastRetiredOnes() {
        XCTAssertEqual(catalog.replacement(for: ModelRef(provider: "anthropic", model: "claude-sonnet-4-5-20250929"), on: "2026-12-04"),
                       ModelRef(provider: "anthropic", model: "claude-sonnet-5-5"))
        // gemini-2.0-flash → gemini-2.5-flash, itself retired on 2026-12-01 → gemini-3.5-flash-lite.
        XCTAssertEqual(catalog.replacement(for: ModelRef(provider: "gemini", model: "gemini-2.0-flash"), on: "2026-12-04"),
                       ModelRef(provider: "gemini", model: "gemini-3.5-flash-lite"))
        XCTAssertEqual(catalog.replacement(for: ModelRef(provider: "gemini", model: "gemini-2.0-flash"), on: "2026-11-01"),
                       ModelRef(provider: "gemini", model: "gemini-2.5-flash"))
        XCTAssertNil(catalog.replacement(for: ModelRef(provider: "openai", model: "gpt-6-luna"), on: "2026-12-04"))
    }

    func testInputLimitsAndLongContextThresholds() {
        let gpt5 = price("openai:gpt-5")!
        XCTAssertEqual(gpt5.contextWindow, 400_000)
        XCTAssertEqual(gpt5.maxInput, 272_000)
        XCTAssertEqual(gpt5.promptRoom(maxOutput: 4096), 272_000, "trimming keeps to the input limit, not the whole window")
        XCTAssertEqual(price("anthropic:claude-opus-4-6")!.promptRoom(maxOutput: 4096), 1_000_000 - 4096)
        XCTAssertEqual(price("openai:gpt-5.6")?.longContext?.threshold, 272_000)
        XCTAssertEqual(price("anthropic:claude-haiku-5-5")?.longContext?.threshold, 100_000)
        XCTAssertEqual(price("gemini:gemini-3.1-pro-preview")?.longContext?.threshold, 200_000)
        XCTAssertEqual(price("anthropic:claude-opus-5")?.prices.cacheWrite1h, usd("10"))
        XCTAssertEqual(price("openai:gpt-6-sol")?.prices.cacheWrite, usd("2.5"), "OpenAI bills cache writes on these")
    }

    func testDatedIdsResolveToTheirFamilyUnlessPricedThemselves() {
        for (dated, family) in [("openai:gpt-4o-2024-08-06", "gpt-4o"), ("anthropic:claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
                                ("anthropic:claude-3-5-haiku-latest", "claude-3-5-haiku"), ("gemini:gemini-2.0-flash-001", "gemini-2.0-flash"),
                                ("gemini:models/gemini-2.5-pro", "gemini-2.5-pro"), ("anthropic:claude-opus-4-6-20260205", "claude-opus-4-6")] {
            XCTAssertEqual(price(dated)?.key.model, family, dated)
        }
        let snapshot = price("openai:gpt-4o-2024-05-13")!
        XCTAssertEqual(snapshot.key.model, "gpt-4o-2024-05-13")
        XCTAssertEqual(snapshot.prices.input, usd("5"))
        XCTAssertEqual(snapshot.prices.output, usd("15"))
    }

    func testPricesAreKeptAndShownExactly() {
        XCTAssertEqual(price("openai:gpt-4o-mini")?.prices.cachedInput, 75_000)
        XCTAssertEqual(TokenPrices.usdPerMillionText(75_000), "0.075")
        XCTAssertEqual(TokenPrices.usdPerMillionText(37_500), "0.0375")
        XCTAssertNil(TokenPrices.picosPerToken(usdPerMillion: Decimal(string: "0.0000001")!), "seven decimals are finer than a picodollar")
    }

    func testAMalformedEntryNamesItsLine() {
        let seven = "openai:\n  m: { input: 0.1234567, output: 1 }\n"
        XCTAssertThrowsError(try PriceCatalog.parseYAML(seven, source: "c.yaml")) { error in
            XCTAssertTrue("\(error)".contains("c.yaml: line 2"), "\(error)")
            XCTAssertTrue("\(error)".contains("six decimals"), "\(error)")
        }
        XCTAssertThrowsError(try PriceCatalog.parseYAML("openai:\n  m: { input: 1, output: 2, ouput: 3 }\n", source: "c.yaml")) { error in
            XCTAssertTrue("\(error)".contains("unknown field 'ouput'"), "\(error)")
        }
        XCTAssertThrowsError(try PriceCatalog.parseYAML("openai:\n  m: { input: 1, output: 2, retired: soon }\n", source: "c.yaml"))
    }

    func testConfigPricesOverrideAndAdd() {
        var catalog = self.catalog
        var cheaper = PriceSettings()
        cheaper.output = usd("8")
        var added = PriceSettings()
        added.input = usd("0.5")
        added.output = usd("1")
        catalog.apply(["openai:gpt-5": cheaper, "vllm:my-model": added])
        let gpt5 = catalog.price(for: ModelRef(provider: "openai", model: "gpt-5"))!
        XCTAssertEqual(gpt5.prices.output, usd("8"))
        XCTAssertEqual(gpt5.prices.input, usd("1.25"))
        XCTAssertEqual(gpt5.source, .config)
        XCTAssertEqual(gpt5.maxInput, 272_000, "fields the override leaves out stay")
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "vllm", model: "my-model"))?.prices.input, usd("0.5"))
    }

    static let liteLLMFile = """
        {"sample_spec": {"input_cost_per_token": 0},
         "mistral/mistral-huge-latest": {"litellm_provider": "mistral", "mode": "chat", "max_input_tokens": 128000,
           "max_output_tokens": 8000, "input_cost_per_token": 2e-06, "output_cost_per_token": 6e-06},
         "gemini/gemini-9-ultra": {"litellm_provider": "gemini", "mode": "chat", "input_cost_per_token": 1.25e-06,
           "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 3.125e-07,
           "input_cost_per_token_above_200k_tokens": 2.5e-06, "output_cost_per_token_above_200k_tokens": 1.5e-05,
           "deprecation_date": "2026-01-01", "successor_model": "gemini/gemini-10-ultra"},
         "gpt-9": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 272000, "input_cost_per_token": 4e-06,
           "cache_creation_input_token_cost": 5e-06, "output_cost_per_token": 2e-05,
           "input_cost_per_token_above_272k_tokens": 8e-06, "output_cost_per_token_above_272k_tokens": 3e-05},
         "claude-verse-1": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 1e-07,
           "output_cost_per_token": 5e-07, "cache_creation_input_token_cost": 1.25e-07, "cache_creation_input_token_cost_above_1hr": 2e-07,
           "input_cost_per_token_above_100k_tokens": 5e-07, "output_cost_per_token_above_100k_tokens": 2.5e-06,
           "cache_creation_input_token_cost_above_1hr_above_100k_tokens": 1e-06},
         "gpt-odd": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 3.0001999999999996E-7, "output_cost_per_token": 1e-06},
         "text-embedding-9": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 1e-08, "output_cost_per_token": 0},
         "dall-e-3": {"litellm_provider": "openai", "output_cost_per_image": 0.04}}
        """

    func testLiteLLMImportReadsTiersInputLimitsHourWritesAndRetirements() throws {
        var catalog = self.catalog
        XCTAssertEqual(try catalog.importLiteLLM(Array(Self.liteLLMFile.utf8), source: .file("t.json")), 5)
        let mistral = try XCTUnwrap(catalog.price(for: ModelRef(provider: "mistral", model: "mistral-huge-latest")))
        XCTAssertEqual(mistral.prices.input, usd("2"))
        XCTAssertEqual(mistral.maxInput, 128_000)
        XCTAssertEqual(mistral.source, .file("t.json"))
        let ultra = try XCTUnwrap(catalog.price(for: ModelRef(provider: "gemini", model: "gemini-9-ultra")))
        XCTAssertEqual(ultra.prices.cachedInput, usd("0.3125"))
        XCTAssertEqual(ultra.longContext?.threshold, 200_000)
        XCTAssertEqual(ultra.longContext?.prices.output, usd("15"))
        XCTAssertEqual(ultra.retired, "2026-01-01")
        XCTAssertEqual(ultra.replacedBy, "gemini-10-ultra")
        let gpt9 = try XCTUnwrap(catalog.price(for: ModelRef(provider: "openai", model: "gpt-9")))
        XCTAssertEqual(gpt9.longContext?.threshold, 272_000)
        XCTAssertEqual(gpt9.prices.cacheWrite, usd("5"))
        let verse = try XCTUnwrap(catalog.price(for: ModelRef(provider: "anthropic", model: "claude-verse-1")))
        XCTAssertEqual(verse.prices.cacheWrite1h, usd("0.2"))
        XCTAssertEqual(verse.longContext?.threshold, 100_000)
        XCTAssertEqual(verse.longContext?.prices.cacheWrite1h, usd("1"))
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "openai", model: "gpt-odd"))?.prices.input, 300_020,
                       "a float artefact is rounded to the picodollar")
        XCTAssertNil(catalog.price(for: ModelRef(provider: "openai", model: "text-embedding-9")))
    }

    func testLiteLLMImportRefinesABundledEntryWithoutErasingIt() throws {
        var catalog = self.catalog
        let file = #"{"gpt-5": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 8e-06}}"#
        try catalog.importLiteLLM(Array(file.utf8), source: .update(day: "2026-12-04"))
        let gpt5 = catalog.price(for: ModelRef(provider: "openai", model: "gpt-5"))!
        XCTAssertEqual(gpt5.prices.input, usd("1"))
        XCTAssertEqual(gpt5.contextWindow, 400_000)
        XCTAssertEqual(gpt5.retired, "2026-12-11")
        XCTAssertEqual(gpt5.source.description, "update of 2026-12-04")
    }

    func testANegativePriceMakesTheFileSuspect() {
        var catalog = PriceCatalog()
        let file = #"{"m": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": -1e-06, "output_cost_per_token": 1e-06}}"#
        XCTAssertThrowsError(try catalog.importLiteLLM(Array(file.utf8), source: .file("bad.json")))
        XCTAssertThrowsError(try catalog.importLiteLLM(Array("{\"truncated".utf8), source: .file("bad.json")))
    }
}

/// The model Persona picks by itself is never one its provider has retired.
final class DefaultModelTests: XCTestCase {
    func testARetiredDefaultGivesWayToItsSuccessor() async throws {
        var catalog = try PriceCatalog.bundled()
        var haiku = try XCTUnwrap(catalog.price(for: ModelRef(provider: "anthropic", model: "claude-haiku-5-5")))
        haiku.retired = "2026-01-01"
        haiku.replacedBy = "claude-sonnet-5-5"
        catalog.add(haiku)
        let directory = ProviderDirectory(config: Config(), environment: ["ANTHROPIC_API_KEY": "k"])
        let local = LocalServer(home: FileManager.default.temporaryDirectory.appendingPathComponent("none-\(UUID())").path)
        let choice = try await DefaultModel.resolve(directory: directory, local: local, startLocal: false, catalog: catalog)
        XCTAssertEqual(choice.model, ModelRef(provider: "anthropic", model: "claude-sonnet-5-5"))
        let current = try await DefaultModel.resolve(directory: directory, local: local, startLocal: false, catalog: try PriceCatalog.bundled())
        XCTAssertEqual(current.model, ModelRef(provider: "anthropic", model: "claude-haiku-5-5"))
    }
}
