import Foundation
import MockProvider
import XCTest

@testable import PersonaKit

/// Replays the real recorded provider responses in `../shared/fixtures/wire/` through the loopback
/// server, libcurl, the decoders and the adapters, and compares text, finish, usage and errors with
/// each fixture's `.meta.json`. Skips when the folder is absent.
final class WireConformanceTests: XCTestCase {
    struct Fixture {
        let name: String
        let type: ProviderType
        let body: [UInt8]
        let meta: JSON
        let status: Int
    }

    static var fixturesDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["PERSONA_WIRE_FIXTURES"] {
            return URL(fileURLWithPath: override)
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/fixtures/wire")
    }

    /// Why a fixture does not apply to Persona, or nil when it does.
    static func exclusion(_ meta: JSON) -> String? {
        let expected = meta["expected"]
        switch expected?["mode"]?.string {
        case "json-array": return "Gemini JSON-array stream; Persona requests alt=sse"
        case "single-json": return "Gemini non-streaming response"
        default: break
        }
        switch meta["kind"]?.string {
        case "docs_excerpt": return "documentation prose, not a wire body"
        case "stream_payloads_only": return "bare payloads without SSE framing"
        default: break
        }
        let url = meta["request"]?["url"]?.string ?? ""
        if url.contains("/api/generate") { return "Ollama /api/generate; Persona uses /api/chat" }
        return nil
    }

    static func loadFixtures() throws -> (applicable: [Fixture], excluded: [String]) {
        let directory = fixturesDirectory
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw XCTSkip("no recorded wire fixtures at \(directory.path)")
        }
        var applicable: [Fixture] = []
        var excluded: [String] = []
        for folder in ["anthropic", "gemini", "ollama", "openai", "openai-compatible"] {
            let folderURL = directory.appendingPathComponent(folder)
            let names = try FileManager.default.contentsOfDirectory(atPath: folderURL.path)
                .filter { $0.hasSuffix(".meta.json") }.sorted()
            for metaName in names {
                let base = String(metaName.dropLast(".meta.json".count))
                let meta = try JSON.parse(Array(Data(contentsOf: folderURL.appendingPathComponent(metaName))))
                if let reason = exclusion(meta) {
                    excluded.append("\(folder)/\(base): \(reason)")
                    continue
                }
                let body = Array(try Data(contentsOf: folderURL.appendingPathComponent(base + ".txt")))
                let type: ProviderType = folder == "anthropic" ? .anthropic : folder == "gemini" ? .gemini
                    : folder == "ollama" ? .ollama : .openai
                applicable.append(Fixture(name: "\(folder)/\(base)", type: type, body: body, meta: meta,
                                          status: statusCode(meta["response"]?["status"])))
            }
        }
        return (applicable, excluded)
    }

    /// Statuses are recorded as numbers, as `HTTP/2.0 403 Forbidden`, or (in docs) as `4xx/5xx`.
    static func statusCode(_ value: JSON?) -> Int {
        if let number = value?.int { return number }
        let text = value?.string ?? "200"
        if let code = text.split(separator: " ").compactMap({ Int($0) }).first { return code }
        return text.contains("xx") ? 500 : 200
    }

    func testRecordedResponsesConform() async throws {
        let (fixtures, excluded) = try Self.loadFixtures()
        XCTAssertEqual(fixtures.count + excluded.count, 64, "every recorded response is either replayed or excluded")
        XCTAssertEqual(fixtures.count, 53, "fixtures that apply:\n" + fixtures.map(\.name).joined(separator: "\n"))

        let table = FixtureTable(fixtures)
        let server = try MockServer { request in
            let fixture = table.fixture(for: request)
            return MockBehavior(status: fixture.status, replayBody: fixture.body,
                                replayContentType: fixture.status >= 400 ? "application/json" : "text/event-stream")
        }
        defer { server.stop() }

        let withCalls = fixtures.filter { fixture in
            ["tool_uses", "function_calls", "tool_calls"].contains { fixture.meta["expected"]?[$0]?.array?.isEmpty == false }
        }
        XCTAssertEqual(withCalls.count, 9, "recorded tool-call streams:\n" + withCalls.map(\.name).joined(separator: "\n"))

        for (index, fixture) in fixtures.enumerated() {
            let endpoint = ProviderEndpoint(name: fixture.type.rawValue, type: fixture.type, baseURL: server.baseURL,
                                            apiKey: "k", apiKeyEnv: "K", keyRequired: false)
            let request = ChatRequest(model: "fixture-\(index)", system: "", messages: [ChatMessage(role: .user, content: "x")])
            let outcome = await TurnRunner().run(request, endpoint: endpoint)
            check(outcome, against: fixture)
        }
    }

    func check(_ outcome: TurnOutcome, against fixture: Fixture, file: StaticString = #filePath, line: UInt = #line) {
        let expected = fixture.meta["expected"]!
        let name = fixture.name
        let kind = fixture.meta["kind"]?.string

        // A refusal is kept apart from the answer's text.
        XCTAssertEqual(outcome.text, expected["text"]?.string ?? "", "text of \(name)", file: file, line: line)
        XCTAssertEqual(outcome.refusal, expected["refusal"]?.string ?? "", "refusal of \(name)", file: file, line: line)
        if let refusal = expected["refusal"]?.string {
            let report = TurnReport(outcome: outcome, usage: CheckedUsage(usage: outcome.reportedUsage, inputEstimated: false,
                                                                          outputEstimated: false))
            XCTAssertEqual(report.refusal, refusal, "the report's refusal of \(name)", file: file, line: line)
            XCTAssertEqual(report.finishReason?.description, "refusal", "finish reason of \(name)", file: file, line: line)
        }

        // Tool calls: OpenAI's partial arguments by index, Anthropic's input_json_delta, Gemini's
        // whole functionCall parts, Ollama's message.tool_calls.
        let expectedCalls = expected["tool_uses"]?.array ?? expected["function_calls"]?.array ?? expected["tool_calls"]?.array ?? []
        XCTAssertEqual(outcome.toolCalls.count, expectedCalls.count, "tool calls of \(name)", file: file, line: line)
        for (call, wanted) in zip(outcome.toolCalls, expectedCalls) {
            let function = wanted["function"]
            XCTAssertEqual(call.name, wanted["name"]?.string ?? function?["name"]?.string, "tool name in \(name)", file: file, line: line)
            if let id = wanted["id"]?.string { XCTAssertEqual(call.id, id, "tool call id in \(name)", file: file, line: line) }
            XCTAssertFalse(call.id.isEmpty)
            let arguments = wanted["input"] ?? wanted["args"] ?? wanted["arguments"]?.string.flatMap { try? JSON.parse($0) }
                ?? function?["arguments"]
            XCTAssertEqual(call.arguments, arguments, "tool arguments in \(name)", file: file, line: line)
        }

        if kind == "http_error" {
            let message = expected["message"]?.string ?? expected["error"]?["message"]?.string ?? expected["error"]?.string
            XCTAssertEqual(outcome.error?.message, message, "error message of \(name)", file: file, line: line)
            XCTAssertEqual(outcome.error?.kind, expectedKind(status: fixture.status, expected: expected),
                           "error kind of \(name)", file: file, line: line)
            XCTAssertEqual(outcome.error?.status, fixture.status, "status of \(name)", file: file, line: line)
            if let delay = expected["retry_delay"]?.string {
                XCTAssertEqual(outcome.error?.retryAfter, Double(delay.dropLast()), "retry delay of \(name)")
            }
            return
        }

        let streamErrors = expected["errors"]?.array ?? []
        let midStreamMessage = expected["error_type"] != nil ? expected["message"]?.string
            : (streamErrors.first?["error"]?["message"]?.string ?? (kind == "mid_stream_error" ? expected["error"]?.string : nil))
        if let midStreamMessage {
            XCTAssertEqual(outcome.error?.message, midStreamMessage, "stream error of \(name)", file: file, line: line)
            if expected["error_type"]?.string == "overloaded_error" {
                XCTAssertEqual(outcome.error?.kind, .overloaded, "stream error kind of \(name)")
                XCTAssertTrue(outcome.error?.retryable ?? false)
            }
        } else {
            XCTAssertNil(outcome.error, "\(name) should succeed", file: file, line: line)
        }

        let finish = expected["stop_reason"]?.string ?? expected["finish_reasons"]?["0"]?.string
            ?? expected["finish_reason"]?.string ?? expected["done_reason"]?.string
        if let finish {
            XCTAssertEqual(outcome.finish?.raw, finish, "finish of \(name)", file: file, line: line)
        }

        // The recorded summaries leave out the 1-hour part of Anthropic's cache writes, which the bodies carry.
        var reported = outcome.reportedUsage
        if String(decoding: fixture.body, as: UTF8.self).contains("\"ephemeral_1h_input_tokens\"") {
            XCTAssertNotNil(reported.cacheWrite1hTokens, "the 1-hour writes of \(name)", file: file, line: line)
            XCTAssertLessThanOrEqual(reported.cacheWrite1hTokens ?? 0, reported.cacheWriteTokens ?? 0, file: file, line: line)
        }
        reported.cacheWrite1hTokens = nil
        XCTAssertEqual(reported, expectedUsage(fixture.type, expected), "usage of \(name)", file: file, line: line)
    }

    func expectedKind(status: Int, expected: JSON) -> ProviderError.Kind {
        // Gemini answers a bad key with 400 INVALID_ARGUMENT; what the user must fix is the key.
        if expected["error"]?["details"]?.array?.contains(where: { $0["reason"]?.string == "API_KEY_INVALID" }) == true {
            return .auth
        }
        switch status {
        case 400: return .badRequest
        case 401, 403: return .auth
        case 404: return .notFound
        case 429: return .rateLimit
        case 529: return .overloaded
        default: return .server
        }
    }

    func expectedUsage(_ type: ProviderType, _ expected: JSON) -> Usage {
        switch type {
        case .anthropic:
            guard let usage = expected["usage"], usage.object != nil else { return Usage() }
            return Usage(inputTokens: usage["input_tokens"]?.int, cachedInputTokens: usage["cache_read_input_tokens"]?.int,
                         cacheWriteTokens: usage["cache_creation_input_tokens"]?.int, outputTokens: usage["output_tokens"]?.int)
        case .openai:
            let usage = expected["usage"]?.object != nil ? expected["usage"]! : expected["x_groq_usage"] ?? .null
            guard usage.object != nil else { return Usage() }
            return Usage(inputTokens: usage["prompt_tokens"]?.int,
                         cachedInputTokens: usage["prompt_tokens_details"]?["cached_tokens"]?.int,
                         outputTokens: usage["completion_tokens"]?.int,
                         reasoningTokens: usage["completion_tokens_details"]?["reasoning_tokens"]?.int)
        case .gemini:
            guard let usage = expected["usage"], usage.object != nil else { return Usage() }
            let candidates = usage["candidatesTokenCount"]?.int
            let thoughts = usage["thoughtsTokenCount"]?.int
            return Usage(inputTokens: usage["promptTokenCount"]?.int,
                         cachedInputTokens: usage["cachedContentTokenCount"]?.int,
                         outputTokens: candidates == nil && thoughts == nil ? nil : (candidates ?? 0) + (thoughts ?? 0),
                         reasoningTokens: thoughts)
        case .ollama:
            guard let usage = expected["usage"], usage.object != nil else { return Usage() }
            return Usage(inputTokens: usage["prompt_eval_count"]?.int,
                         cachedInputTokens: usage["prompt_eval_cached_count"]?.int,
                         outputTokens: usage["eval_count"]?.int)
        }
    }

    /// Every split of every recorded stream decodes to the same events as the whole body.
    func testDecodersGiveTheSameEventsForEverySplit() throws {
        let (fixtures, _) = try Self.loadFixtures()
        for fixture in fixtures where fixture.status < 400 {
            let whole = decodeAll([fixture.body], fixture.type)
            XCTAssertFalse(whole.isEmpty, fixture.name)
            XCTAssertEqual(decodeAll(fixture.body.map { [$0] }, fixture.type), whole, "byte by byte: \(fixture.name)")
            let step = max(1, fixture.body.count / 400)
            for split in stride(from: 1, to: fixture.body.count, by: step) {
                let pieces = [Array(fixture.body[..<split]), Array(fixture.body[split...])]
                XCTAssertEqual(decodeAll(pieces, fixture.type), whole, "split at \(split): \(fixture.name)")
            }
        }
    }

    func decodeAll(_ pieces: [[UInt8]], _ type: ProviderType) -> [StreamEvent] {
        let adapter = Adapters.adapter(for: type)
        var events: [StreamEvent] = []
        switch adapter.framing {
        case .serverSentEvents:
            var decoder = SSEDecoder()
            for piece in pieces { for event in decoder.feed(piece) { events += adapter.decode(event) } }
            for event in decoder.finish() { events += adapter.decode(event) }
        case .newlineDelimitedJSON:
            var decoder = NDJSONDecoder()
            for piece in pieces { for line in decoder.feed(piece) { events += adapter.decode(SSEEvent(data: line)) } }
            for line in decoder.finish() { events += adapter.decode(SSEEvent(data: line)) }
        }
        return events
    }
}

/// Maps the replay server's requests back to fixtures by the model name `fixture-N`.
private final class FixtureTable: Sendable {
    let fixtures: [WireConformanceTests.Fixture]
    init(_ fixtures: [WireConformanceTests.Fixture]) { self.fixtures = fixtures }

    func fixture(for request: MockRequest) -> WireConformanceTests.Fixture {
        let index = Int(request.model.dropFirst("fixture-".count)) ?? 0
        return fixtures[index]
    }
}

extension WireConformanceTests.Fixture: @unchecked Sendable {}
