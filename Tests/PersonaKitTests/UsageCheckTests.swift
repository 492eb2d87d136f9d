import Foundation
import XCTest

@testable import PersonaKit

/// A provider's usage is evidence: impossible counts never become costs.
final class UsageCheckTests: XCTestCase {
    let catalog = try! PriceCatalog.bundled()
    let request = ChatRequest(model: "m", system: "Be brief.", messages: [ChatMessage(role: .user, content: "Is remote work productive?")],
                              maxTokens: 500)

    func check(_ usage: Usage, model: String = "openai:gpt-4o-mini", type: ProviderType = .openai, request: ChatRequest? = nil)
        -> CheckedUsage {
        UsageCheck.check(usage, request: request ?? self.request, answer: "It depends on the work.", reasoning: "",
                         price: catalog.price(for: try! ModelRef(parsing: model)), type: type)
    }

    func testBelievableUsageIsKeptAsItCame() {
        let usage = Usage(inputTokens: 30, cachedInputTokens: 10, outputTokens: 200, reasoningTokens: 50)
        let checked = check(usage)
        XCTAssertEqual(checked.usage, usage)
        XCTAssertFalse(checked.inputEstimated || checked.outputEstimated)
        XCTAssertNil(checked.note)
    }

    func testANegativeOutputIsReplacedByTheEstimate() {
        let checked = check(Usage(inputTokens: 30, outputTokens: -1_000_000_000))
        XCTAssertEqual(checked.usage.inputTokens, 30)
        XCTAssertEqual(checked.usage.outputTokens, TokenEstimator.estimate("It depends on the work."))
        XCTAssertTrue(checked.outputEstimated)
        XCTAssertTrue(checked.note?.contains("output_tokens -1000000000 is negative") ?? false, checked.note ?? "")
    }

    func testCountsPastTwoToTheFiftyThirdAreRefused() {
        let checked = check(Usage(inputTokens: (1 << 53) + 1, outputTokens: 10))
        XCTAssertTrue(checked.inputEstimated)
        XCTAssertEqual(checked.usage.inputTokens, TokenEstimator.estimate(request))
        XCTAssertTrue(checked.note?.contains("above 2^53") ?? false)
    }

    func testCachedTokensBeyondThePromptAreInconsistent() {
        let checked = check(Usage(inputTokens: 30, cachedInputTokens: 31, outputTokens: 10))
        XCTAssertNil(checked.usage.cachedInputTokens)
        XCTAssertEqual(checked.usage.inputTokens, 30)
        XCTAssertTrue(checked.inputEstimated, "the prompt's price is no longer known for sure")
        XCTAssertNotNil(checked.note)
    }

    func testOutputBeyondTheRequestedMaximumIsImpossible() {
        XCTAssertNil(check(Usage(inputTokens: 30, outputTokens: 520)).note, "within the margin")
        let checked = check(Usage(inputTokens: 30, outputTokens: 5000))
        XCTAssertTrue(checked.outputEstimated)
        XCTAssertTrue(checked.note?.contains("exceed the 564 the request allowed") ?? false, checked.note ?? "")
        // Without max_tokens the model's own maximum bounds it; Anthropic's request always has one.
        let unbounded = ChatRequest(model: "m", system: "", messages: [ChatMessage(role: .user, content: "hi")])
        XCTAssertNotNil(check(Usage(inputTokens: 3, outputTokens: 20_000), request: unbounded).note, "gpt-4o-mini writes 16384 at most")
        XCTAssertNotNil(check(Usage(inputTokens: 3, outputTokens: 5000), model: "anthropic:claude-opus-4-6", type: .anthropic,
                              request: unbounded).note)
    }

    func testAPromptLargerThanTheRequestOrTheWindowIsImpossible() {
        let checked = check(Usage(inputTokens: 900_000, outputTokens: 10))
        XCTAssertTrue(checked.inputEstimated)
        XCTAssertTrue(checked.note?.contains("more than this request could hold") ?? false, checked.note ?? "")
        // Anthropic's cache counts are apart from its input count, and count toward the prompt.
        XCTAssertNotNil(check(Usage(inputTokens: 10, cachedInputTokens: Int.max / 2, outputTokens: 10), model: "anthropic:claude-opus-4-6",
                              type: .anthropic).note)
    }

    func testASchemaCountsTowardsThePrompt() throws {
        // A schema of 3,000 characters reads as many tokens as a long message would.
        let properties = (0..<60).map { "\"field\($0)\":{\"type\":\"string\",\"description\":\"what the field holds\"}" }
        let schema = try JSON.parse("{\"type\":\"object\",\"properties\":{" + properties.joined(separator: ",") + "}}")
        var structured = request
        structured.responseFormat = ResponseFormat(name: "answer", schema: schema)
        XCTAssertNotNil(check(Usage(inputTokens: 2500, outputTokens: 10)).note, "too many for the plain request")
        XCTAssertNil(check(Usage(inputTokens: 2500, outputTokens: 10), request: structured).note, "believable with its schema")
        XCTAssertGreaterThan(TokenEstimator.estimate(structured), TokenEstimator.estimate(request) + 700)
    }

    func testNoCountCanOverflowAnything() {
        for type in ProviderType.allCases {
            for usage in [Usage(inputTokens: Int.max, cachedInputTokens: Int.max, cacheWriteTokens: Int.max, outputTokens: Int.max),
                          Usage(inputTokens: Int.min, cachedInputTokens: Int.min, outputTokens: Int.min, reasoningTokens: Int.min),
                          Usage(inputTokens: 1 << 53, cachedInputTokens: 1 << 53, cacheWriteTokens: 1 << 53, cacheWrite1hTokens: 1 << 53,
                                outputTokens: 1 << 53, reasoningTokens: 1 << 53)] {
                let checked = check(usage, model: "anthropic:claude-opus-4-6", type: type)
                XCTAssertNotNil(checked.note)
                XCTAssertNotNil(CostCalculator.picos(checked.usage, price: catalog.price(for: ModelRef(provider: "anthropic",
                                                                                                        model: "claude-opus-4-6"))!,
                                                     type: type))
            }
        }
    }

    func testGeminiThoughtsAddedPastIntMaxSaturate() {
        XCTAssertEqual(Usage.adding(Int.max, 5), Int.max)
        XCTAssertEqual(Usage.adding(Int.min, -5), Int.min)
        XCTAssertNil(Usage.adding(nil, nil))
        XCTAssertEqual(Usage.adding(nil, 3), 3)
    }
}
