import Foundation
import XCTest

@testable import PersonaKit

/// Picodollars, and the billing formulas that produce them.
final class MoneyTests: XCTestCase {
    let catalog = try! PriceCatalog.bundled()

    func picos(_ model: String, _ usage: Usage) -> Int64? {
        let ref = try! ModelRef(parsing: model)
        guard let price = catalog.price(for: ref) else { return nil }
        return CostCalculator.picos(usage, price: price, type: ProviderPreset.named(ref.provider)?.type ?? .openai)
    }

    /// Picodollars from micro-dollars, to keep the hand-worked figures readable.
    func micro(_ micros: Int64) -> Int64 { micros * 1_000_000 }

    func testCostsAreExactNotRoundedToMicroDollars() {
        // gpt-4o-mini: 1011·0.15 + 750·0.60 = 601.65 micro-dollars.
        let cost = picos("openai:gpt-4o-mini", Usage(inputTokens: 1011, outputTokens: 750))
        XCTAssertEqual(cost, 601_650_000)
        XCTAssertEqual(cost.map(Money.exactText), "0.00060165")
        // 7·0.15 + 3·0.60 = 2.85 micro-dollars, which micro-dollars rounded to 3.
        XCTAssertEqual(picos("openai:gpt-4o-mini", Usage(inputTokens: 7, outputTokens: 3)), 2_850_000)
    }

    func testOpenAIBillsCachedTokensAtTheCachedPriceAndReasoningAsOutput() {
        // (1000 − 400)·2.50 + 400·1.25 + 500·10.
        XCTAssertEqual(picos("openai:gpt-4o", Usage(inputTokens: 1000, cachedInputTokens: 400, outputTokens: 500, reasoningTokens: 100)),
                       micro(7000))
        // gpt-5.6 bills cache writes: (1000 − 200 − 300)·4 + 200·0.40 + 300·5 + 100·20.
        XCTAssertEqual(picos("openai:gpt-5.6", Usage(inputTokens: 1000, cachedInputTokens: 200, cacheWriteTokens: 300, outputTokens: 100)),
                       micro(2000 + 80 + 1500 + 2000))
    }

    func testAnthropicInputExcludesTheCacheAndWritesHaveTheirOwnPrices() {
        // 1000·3 + 2000·0.30 + 500·3.75 + 300·15.
        XCTAssertEqual(picos("anthropic:claude-sonnet-4-6",
                             Usage(inputTokens: 1000, cachedInputTokens: 2000, cacheWriteTokens: 500, outputTokens: 300)), micro(9975))
        // Of 1000 written, 400 for an hour: 100·3 + 600·3.75 + 400·6 + 10·15.
        XCTAssertEqual(picos("anthropic:claude-sonnet-4-6",
                             Usage(inputTokens: 100, cacheWriteTokens: 1000, cacheWrite1hTokens: 400, outputTokens: 10)), micro(5100))
    }

    func testLongContextThresholdsArePerModel() {
        // claude-sonnet-4-5 switches at 200k: 150000·6 + 60000·0.60 + 1000·22.50 for a 210k prompt.
        XCTAssertEqual(picos("anthropic:claude-sonnet-4-5", Usage(inputTokens: 150_000, cachedInputTokens: 60_000, outputTokens: 1000)),
                       micro(958_500))
        // claude-haiku-5-5 switches at 100k: 100001·0.50 + 1000·2.50, and 100000·0.10 + 1000·0.50 at the line.
        XCTAssertEqual(picos("anthropic:claude-haiku-5-5", Usage(inputTokens: 100_001, outputTokens: 1000)), 52_500_500_000)
        XCTAssertEqual(picos("anthropic:claude-haiku-5-5", Usage(inputTokens: 100_000, outputTokens: 1000)), micro(10_500))
        // gpt-5.4 switches at 272k.
        XCTAssertEqual(picos("openai:gpt-5.4", Usage(inputTokens: 272_000, outputTokens: 0)), micro(680_000))
        XCTAssertEqual(picos("openai:gpt-5.4", Usage(inputTokens: 272_001, outputTokens: 0)), micro(1_360_005))
    }

    func testGeminiBillsThoughtsAsOutputAndCachedContentCheaper() {
        // 800·0.30 + 200·0.03 + (300 + 700)·2.50.
        XCTAssertEqual(picos("gemini:gemini-2.5-flash", Usage(inputTokens: 1000, cachedInputTokens: 200, outputTokens: 1000, reasoningTokens: 700)),
                       micro(2746))
        XCTAssertEqual(picos("gemini:gemini-2.5-pro", Usage(inputTokens: 250_000, outputTokens: 1000)), micro(640_000))
    }

    func testLocalModelsAreFreeAndUnknownModelsUnknown() {
        XCTAssertEqual(picos("ollama:llama3.2", Usage(inputTokens: 5000, outputTokens: 5000)), 0)
        XCTAssertNil(picos("openai:gpt-99-turbo", Usage(inputTokens: 10, outputTokens: 10)))
    }

    func testCacheSavingsAreTheCachedTokensAtInputLessTheirCost() {
        let price = catalog.price(for: ModelRef(provider: "anthropic", model: "claude-sonnet-4-6"))!
        // 2000·(3 − 0.30).
        XCTAssertEqual(CostCalculator.cacheSavings(Usage(inputTokens: 10, cachedInputTokens: 2000, outputTokens: 5), price: price,
                                                   type: .anthropic), micro(5400))
    }

    func testImpossibleCountsPriceAsNothingInsteadOfTrapping() {
        let price = catalog.price(for: ModelRef(provider: "anthropic", model: "claude-opus-4-6"))!
        for usage in [Usage(inputTokens: Int.max, cachedInputTokens: 5, outputTokens: 1), Usage(inputTokens: 1, outputTokens: -1),
                      Usage(inputTokens: 10, cachedInputTokens: -1, outputTokens: 1), Usage(inputTokens: 1 << 62, outputTokens: 1 << 62)] {
            for type in ProviderType.allCases {
                XCTAssertNil(CostCalculator.picos(usage, price: price, type: type), "\(usage) \(type)")
            }
        }
        XCTAssertNil(CostCalculator.picos(Usage(inputTokens: 10, cachedInputTokens: 11, outputTokens: 1), price: price, type: .openai),
                     "cached tokens are part of OpenAI's prompt count")
    }

    func testExactTextAndScreenFormats() {
        XCTAssertEqual(Money.exactText(0), "0")
        XCTAssertEqual(Money.exactText(1), "0.000000000001")
        XCTAssertEqual(Money.exactText(18_137_950_000), "0.01813795")
        XCTAssertEqual(Money.exactText(-2 * Money.picosPerDollar), "-2")
        XCTAssertEqual(Money.exactText(Int64.max), "9223372.036854775807")
        let shown: [(Int64, String)] = [
            (0, "$0.0000"), (3_500_000_000, "$0.003500"), (400_000, "$0.000000"), (500_000, "$0.000001"),
            (12_345_000_000, "$0.0123"), (12_350_000_000, "$0.0124"), (1_005_000_000_000, "$1.01"),
            (1_234_567_000_000_000, "$1234.57"), (-500_000_000_000, "$-0.5000"),
        ]
        for (picos, text) in shown { XCTAssertEqual(Money.format(picos: picos), text, "\(picos)") }
    }

    func testAmountsAreParsedExactlyAndCapsBounded() {
        XCTAssertEqual(Money.parse("$1.50"), Decimal(string: "1.5"))
        XCTAssertNil(Money.parse("-1"))
        XCTAssertNil(Money.parse("1e3"))
        XCTAssertEqual(Money.cap(dollars: Decimal(string: "0.005")!), .success(5_000_000_000))
        XCTAssertEqual(Money.cap(dollars: Decimal(string: "0.0000000000001")!), .failure(.tooFine))
        XCTAssertEqual(Money.cap(dollars: Decimal(string: "100000000")!), .failure(.tooLarge))
        XCTAssertEqual(Money.picos(dollars: Decimal(string: "0.00060165")!), 601_650_000)
    }

    func testSHA256MatchesTheStandardVectors() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
