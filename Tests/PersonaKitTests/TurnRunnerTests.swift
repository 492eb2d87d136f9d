import MockProvider
import XCTest

@testable import PersonaKit

/// One turn per provider over real libcurl against the loopback mock.
final class TurnRunnerTests: XCTestCase {
    var server: MockServer!

    override func setUpWithError() throws {
        server = try MockServer()
    }

    override func tearDown() {
        server.stop()
    }

    func endpoint(_ type: ProviderType, name: String? = nil, key: String? = "sk-test-secret") -> ProviderEndpoint {
        ProviderEndpoint(name: name ?? type.rawValue, type: type, baseURL: server.baseURL + (type == .openai ? "/v1" : ""),
                         apiKey: key, apiKeyEnv: "\(type.rawValue.uppercased())_API_KEY", keyRequired: key != nil)
    }

    func request(_ model: String) -> ChatRequest {
        ChatRequest(model: model, system: "Be brief.", messages: [ChatMessage(role: .user, content: "Hello there")],
                    maxTokens: 100, temperature: 0.5)
    }

    /// A body small enough to go out with the headers, and one large enough to be read out as
    /// it is sent (a batch file), both arrive byte for byte.
    func testSmallAndLargeBodiesArriveWhole() async throws {
        for size in [300, CurlTransport.copiedBodyLimit, CurlTransport.copiedBodyLimit + 1, 600_000] {
            let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            server.clearLog()
            _ = try await CurlTransport.shared.exchange(HTTPRequest(method: "POST", url: server.baseURL + "/v1/files", body: body))
            XCTAssertEqual(server.requests.last?.body, body, "a body of \(size) bytes")
        }
    }

    func testEveryProviderStreamsTextAndUsage() async throws {
        for type in ProviderType.allCases {
            let outcome = await TurnRunner().run(request("mock+tokens=30+input=17"), endpoint: endpoint(type))
            XCTAssertNil(outcome.error, "\(type)")
            XCTAssertEqual(outcome.text, MockServer.generatedDeltas(30).joined(), "\(type)")
            XCTAssertEqual(outcome.reportedUsage.inputTokens, 17, "\(type)")
            XCTAssertEqual(outcome.reportedUsage.outputTokens, 30, "\(type)")
            XCTAssertEqual(outcome.finish?.kind, .stop, "\(type)")
            XCTAssertEqual(outcome.httpStatus, 200)
            XCTAssertNotNil(outcome.timeToFirstToken)
        }
    }

    func testProgressDeltasConcatenateToTheText() async throws {
        let collected = Collected()
        let outcome = await TurnRunner().run(request("mock+tokens=50"), endpoint: endpoint(.anthropic)) { progress in
            if case .delta(let piece) = progress { collected.append(piece) }
        }
        XCTAssertEqual(collected.joined, outcome.text)
        XCTAssertEqual(outcome.text, MockServer.generatedDeltas(50).joined())
        XCTAssertLessThanOrEqual(collected.count, 50, "events of one read arrive as one delta")
    }

    func testTokensThatArriveApartStayApart() async throws {
        let collected = Collected()
        let outcome = await TurnRunner().run(request("mock+tokens=8+delay=0.02"), endpoint: endpoint(.openai)) { progress in
            if case .delta(let piece) = progress { collected.append(piece) }
        }
        XCTAssertEqual(collected.joined, outcome.text)
        XCTAssertGreaterThan(collected.count, 1, "a slow stream is not held back into one delta")
    }

    func testHTTPErrorsBecomeTypedErrors() async throws {
        let cases: [(Int, ProviderError.Kind)] = [(401, .auth), (404, .notFound), (429, .rateLimit), (500, .server),
                                                   (529, .overloaded), (400, .badRequest)]
        for type in ProviderType.allCases {
            for (status, kind) in cases {
                let outcome = await TurnRunner().run(request("mock+status=\(status)+retry_after=7"), endpoint: endpoint(type))
                XCTAssertEqual(outcome.error?.kind, kind, "\(type) \(status)")
                XCTAssertEqual(outcome.error?.status, status)
                XCTAssertEqual(outcome.error?.message, "mock failure", "\(type) \(status)")
                XCTAssertEqual(outcome.error?.retryAfter, 7)
            }
        }
    }

    func testMidStreamErrorKeepsPartialText() async throws {
        for type in ProviderType.allCases {
            let outcome = await TurnRunner().run(request("mock+tokens=20+error=5"), endpoint: endpoint(type))
            XCTAssertNotNil(outcome.error, "\(type)")
            XCTAssertEqual(outcome.text, MockServer.generatedDeltas(5).joined(), "\(type)")
            XCTAssertEqual(outcome.error?.message, "mock failure")
        }
        let anthropic = await TurnRunner().run(request("mock+error=2"), endpoint: endpoint(.anthropic))
        XCTAssertEqual(anthropic.error?.kind, .overloaded)
        XCTAssertEqual(anthropic.error?.status, 200)
    }

    func testDroppedConnectionIsANetworkErrorWithPartialText() async throws {
        for type in ProviderType.allCases {
            let outcome = await TurnRunner().run(request("mock+tokens=20+drop=7"), endpoint: endpoint(type))
            XCTAssertEqual(outcome.error?.kind, .network, "\(type)")
            XCTAssertEqual(outcome.text, MockServer.generatedDeltas(7).joined(), "\(type)")
        }
    }

    func testStallTimesOutAfterTheIdleLimit() async throws {
        let runner = TurnRunner(timeouts: TransportTimeouts(connect: 5, idle: 0.3))
        let outcome = await runner.run(request("mock+tokens=10+stall=3+stall_seconds=3"), endpoint: endpoint(.openai))
        XCTAssertEqual(outcome.error?.kind, .timeout)
        XCTAssertEqual(outcome.text, MockServer.generatedDeltas(3).joined())
        XCTAssertTrue(outcome.error?.message.contains("stream_idle") ?? false)
    }

    func testMalformedChunkFailsTheTurn() async throws {
        for type in ProviderType.allCases {
            let outcome = await TurnRunner().run(request("mock+tokens=10+malformed=4"), endpoint: endpoint(type))
            XCTAssertEqual(outcome.error?.kind, .server, "\(type)")
            XCTAssertTrue(outcome.error?.message.contains("malformed") ?? false, "\(type)")
            XCTAssertEqual(outcome.text, MockServer.generatedDeltas(4).joined(), "\(type)")
        }
    }

    func testConnectionRefusedIsANetworkError() async throws {
        let closed = try MockServer()
        let url = closed.baseURL
        closed.stop()
        try await Task.sleep(nanoseconds: 50_000_000)
        let target = ProviderEndpoint(name: "openai", type: .openai, baseURL: url, apiKeyEnv: "OPENAI_API_KEY", keyRequired: false)
        let outcome = await TurnRunner().run(request("mock"), endpoint: target)
        XCTAssertEqual(outcome.error?.kind, .network)
        XCTAssertTrue(outcome.error?.message.contains("refused") ?? false, outcome.error?.message ?? "")
    }

    func testCancellingTheTaskStopsTheTransfer() async throws {
        let runner = TurnRunner()
        let target = endpoint(.openai)
        let slow = request("mock+tokens=500+delay=0.01")
        let task = Task { await runner.run(slow, endpoint: target) }
        try await Task.sleep(nanoseconds: 300_000_000)
        task.cancel()
        let outcome = await task.value
        XCTAssertEqual(outcome.error?.kind, .cancelled)
        XCTAssertFalse(outcome.text.isEmpty)
        XCTAssertLessThan(outcome.text.count, MockServer.generatedDeltas(500).joined().count)
    }

    func testRequestsCarryEachProvidersAuthAndBody() async throws {
        for type in ProviderType.allCases {
            _ = await TurnRunner().run(request("mock-model"), endpoint: endpoint(type, key: type == .ollama ? nil : "sk-test-secret"))
        }
        let logged = server.requests
        XCTAssertEqual(logged.count, 4)

        let openai = try XCTUnwrap(logged.first { $0.format == .openai })
        XCTAssertEqual(openai.path, "/v1/chat/completions")
        XCTAssertEqual(openai.header("Authorization"), "Bearer sk-test-secret")
        let openaiBody = try JSON.parse(openai.body)
        XCTAssertEqual(openaiBody["stream_options"]?["include_usage"], .bool(true))
        XCTAssertEqual(openaiBody["messages"]?[0]?["role"]?.string, "system")

        let anthropic = try XCTUnwrap(logged.first { $0.format == .anthropic })
        XCTAssertEqual(anthropic.header("x-api-key"), "sk-test-secret")
        XCTAssertEqual(anthropic.header("anthropic-version"), "2023-06-01")
        XCTAssertNil(anthropic.header("Authorization"))
        let anthropicBody = try JSON.parse(anthropic.body)
        XCTAssertEqual(anthropicBody["system"]?.string, "Be brief.")
        XCTAssertEqual(anthropicBody["messages"]?.array?.count, 1)
        XCTAssertEqual(anthropicBody["max_tokens"]?.int, 100)

        let gemini = try XCTUnwrap(logged.first { $0.format == .gemini })
        XCTAssertEqual(gemini.header("x-goog-api-key"), "sk-test-secret")
        XCTAssertFalse(gemini.path.contains("key="))
        XCTAssertFalse(gemini.path.contains("sk-test-secret"))
        XCTAssertEqual(gemini.path, "/v1beta/models/mock-model:streamGenerateContent?alt=sse")
        let geminiBody = try JSON.parse(gemini.body)
        XCTAssertEqual(geminiBody["systemInstruction"]?["parts"]?[0]?["text"]?.string, "Be brief.")
        XCTAssertEqual(geminiBody["generationConfig"]?["maxOutputTokens"]?.int, 100)

        let ollama = try XCTUnwrap(logged.first { $0.format == .ollama })
        XCTAssertNil(ollama.header("Authorization"))
        let ollamaBody = try JSON.parse(ollama.body)
        XCTAssertEqual(ollamaBody["options"]?["num_predict"]?.int, 100)
        XCTAssertEqual(ollamaBody["messages"]?[0]?["role"]?.string, "system")
    }

    /// The local Gemma server drops `system` messages, so the persona's prompt must open the user turn.
    func testLocalProviderPutsTheSystemPromptInTheFirstUserTurn() async throws {
        let directory = ProviderDirectory(config: Config(), environment: ["LOCAL_BASE_URL": server.baseURL + "/v1"])
        let conversation = ChatRequest(model: "mock", system: "You are a skeptic.", messages: [
            ChatMessage(role: .user, content: "Is coffee good?"), ChatMessage(role: .assistant, content: "Doubtful."),
            ChatMessage(role: .user, content: "Why?"),
        ])
        let outcome = await TurnRunner().run(conversation, endpoint: try directory.endpoint(for: "local"))
        XCTAssertNil(outcome.error)
        let messages = try XCTUnwrap(JSON.parse(XCTUnwrap(server.requests.last).body)["messages"]?.array)
        XCTAssertEqual(messages.map { $0["role"]?.string }, ["user", "assistant", "user"])
        XCTAssertEqual(messages[0]["content"]?.string, "You are a skeptic.\n\nIs coffee good?")
        XCTAssertEqual(messages[2]["content"]?.string, "Why?")
    }
}

/// Collects deltas from the progress callback, which may run on another thread.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var pieces: [String] = []

    func append(_ piece: String) { lock.withLock { pieces.append(piece) } }
    var joined: String { lock.withLock { pieces.joined() } }
    var count: Int { lock.withLock { pieces.count } }
}

final class FirstByteAllowanceTests: XCTestCase {
    /// A model that thinks before its first byte is given longer than the mid-stream idle limit.
    func testSilenceBeforeTheFirstByteIsAllowedLongerThanMidStream() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 5, stallAfter: 0, stallSeconds: 0.5) }
        defer { server.stop() }
        // Ollama sends nothing before its first token, so the stall is all before the first byte.
        let endpoint = ProviderEndpoint(name: "ollama", type: .ollama, baseURL: server.baseURL, apiKeyEnv: "K", keyRequired: false)
        let request = ChatRequest(model: "m", system: "", messages: [ChatMessage(role: .user, content: "think")])
        let patient = await TurnRunner(timeouts: TransportTimeouts(connect: 5, idle: 0.3)).run(request, endpoint: endpoint)
        XCTAssertNil(patient.error)
        XCTAssertEqual(patient.text, MockServer.generatedDeltas(5).joined())
        let impatient = await TurnRunner(timeouts: TransportTimeouts(connect: 5, idle: 0.1)).run(request, endpoint: endpoint)
        XCTAssertEqual(impatient.error?.kind, .timeout)
        let message = impatient.error?.message ?? ""
        XCTAssertTrue(message.contains("first-byte limit") && message.contains("0.4 s"), "names the limit that ran out: \(message)")
    }
}
