import Foundation
import PersonaFuzz
import XCTest

@testable import PersonaKit

/// Every input kept in `Tests/FuzzRegressions/` runs through its target again. Each file is named
/// `<target>--<what it is>`; the first ones are the inputs that once trapped Persona.
final class FuzzRegressionTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzRegressions")

    func testEveryKeptInputRunsWithoutATrap() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 6)
        for name in names {
            let targetName = try XCTUnwrap(name.components(separatedBy: "--").first)
            let target = try XCTUnwrap(FuzzTarget(rawValue: targetName), "\(name) names no fuzz target")
            let input = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent(name)))
            target.run(input)
        }
    }

    /// The recorded crashes are read as streams, their text kept and their usage refused.
    func testTheUsageThatTrappedIsReadAndNotBelieved() throws {
        let cases: [(String, ProviderType, String)] = [
            ("anthropic-stream--input-tokens-int-max-with-cache-reads.txt", .anthropic, "Hello"),
            ("gemini-stream--candidates-plus-thoughts-past-int-max.txt", .gemini, "Hi"),
            ("openai-stream--cached-tokens-minus-one-and-int-edges.txt", .openai, "Hi"),
            ("ollama-stream--prompt-eval-cached-count-int-min.txt", .ollama, "Hi"),
        ]
        let request = ChatRequest(model: "m", system: "s", messages: [ChatMessage(role: .user, content: "q")], maxTokens: 500)
        for (name, type, text) in cases {
            let body = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent(name)))
            let outcome = TurnRunner.replay(body, chunkSizes: [7, 1, 64], type: type)
            XCTAssertNil(outcome.error, name)
            XCTAssertEqual(outcome.text, text, name)
            let checked = UsageCheck.check(outcome.reportedUsage, request: request, answer: outcome.text, reasoning: outcome.reasoning,
                                           price: nil, type: type)
            XCTAssertNotNil(checked.note, "\(name): the usage is not believed")
            XCTAssertLessThan(checked.usage.inputTokens ?? .max, 1_000, name)
            XCTAssertLessThan(checked.usage.outputTokens ?? .max, 1_000, name)
        }
    }
}
