import Foundation
import MockProvider
import XCTest

@testable import PersonaKit

/// Servers that misbehave on purpose, over real libcurl: absurd waits, drips, floods, redirects and
/// echoed keys. Each case once crashed, hung or leaked; now each ends the turn with a clear error.
final class HostileProviderTests: XCTestCase {
    typealias Events = ResilienceTests.Events

    func endpoint(_ server: MockServer, _ type: ProviderType = .openai) -> ProviderEndpoint {
        ProviderEndpoint(name: type.rawValue, type: type, baseURL: server.baseURL + (type == .openai ? "/v1" : ""), apiKey: "k",
                         apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
    }

    func turn(_ server: MockServer, _ type: ProviderType = .openai) -> PlannedTurn {
        PlannedTurn(session: "hostile", persona: Persona(id: "p", name: "P", systemPrompt: "Be brief."), endpoint: endpoint(server, type),
                    request: ChatRequest(model: "m", system: "Be brief.", messages: [ChatMessage(role: .user, content: "go")]))
    }

    static let patientEngine = ConversationEngine(retryPolicy: RetryPolicy(maxRetries: 3, baseDelay: 0.01, maxDelay: 60))

    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    // MARK: Waits

    /// Every wait longer than `retry.max_delay` fails the turn at once, as a rate limit that says
    /// how long the provider asked for; none sleeps, none traps converting the wait to nanoseconds.
    func testRetryAfterLongerThanTheMaximumDelayFailsAtOnce() async throws {
        let waits: [(header: String, value: String, says: String)] = [
            ("Retry-After", "20000000000", "20000000000 s"),
            ("Retry-After", "1e30", "indefinitely"),
            ("Retry-After", "9223372036854775807", "indefinitely"),
            ("Retry-After", "inf", "indefinitely"),
            ("Retry-After", "999999", "999999 s (until "),
            ("Retry-After", Self.httpDate(Date().addingTimeInterval(86_400)), "(until "),
            ("retry-after-ms", "99999999999999999999", "indefinitely"),
        ]
        for wait in waits {
            let server = try MockServer { _ in MockBehavior(status: 429, headers: [wait.header: wait.value]) }
            defer { server.stop() }
            let events = await Events.recording(Self.patientEngine, turn(server))
            let failure = try XCTUnwrap(events.failure, wait.value)
            XCTAssertEqual(failure.kind, .rateLimit, wait.value)
            XCTAssertTrue(failure.message.contains(wait.says), "\(wait.value): \(failure.message)")
            XCTAssertTrue(failure.message.contains("retry.max_delay (60 s)"), failure.message)
            XCTAssertTrue(events.retries.isEmpty, wait.value)
            XCTAssertEqual(server.requests.count, 1, "\(wait.value): nothing more is sent")
        }
    }

    /// A Retry-After within the maximum is still honoured, whatever the backoff would have been.
    func testRetryAfterWithinTheMaximumIsWaitedFor() async throws {
        let script = ResilienceTests.Script([MockBehavior(status: 503, headers: ["Retry-After": "0.2"])])
        let server = try MockServer { script.next($0) }
        defer { server.stop() }
        let events = await Events.recording(Self.patientEngine, turn(server))
        XCTAssertEqual(events.retries.map(\.delay), [0.2])
        XCTAssertNotNil(events.done)
    }

    /// Rate-limit headers that hold every request for 11 days fail the next turn before it is sent.
    func testRateLimitHeadersThatBlockForDaysFailTheNextTurnUnsent() async throws {
        let server = try MockServer { _ in
            MockBehavior(tokens: 3, headers: ["x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "999999s"])
        }
        defer { server.stop() }
        let engine = ConversationEngine(health: ProviderHealth(), retryPolicy: RetryPolicy(maxRetries: 3, baseDelay: 0.01, maxDelay: 60))
        let first = await Events.recording(engine, turn(server))
        XCTAssertNotNil(first.done)
        let second = await Events.recording(engine, turn(server))
        XCTAssertEqual(second.failure?.kind, .rateLimit)
        XCTAssertTrue(second.failure?.message.contains("rate-limit headers") ?? false, "\(String(describing: second.failure))")
        XCTAssertEqual(server.requests.count, 1)
    }

    // MARK: Deadlines

    /// One delta, then a byte at a time: bytes keep coming, but no whole event does, so the idle
    /// limit ends the turn with the delta kept.
    func testAByteAtATimeAfterOneDeltaTimesOut() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 6, dripAfter: 1, dripSeconds: 0.05) }
        defer { server.stop() }
        for type in [ProviderType.openai, .ollama] {
            let outcome = await TurnRunner(timeouts: TransportTimeouts(connect: 5, idle: 0.5))
                .run(turn(server, type).request, endpoint: endpoint(server, type))
            XCTAssertEqual(outcome.error?.kind, .timeout, "\(type)")
            XCTAssertTrue(outcome.error?.message.contains("stray bytes") ?? false, "\(type): \(String(describing: outcome.error))")
            XCTAssertEqual(outcome.text, MockServer.generatedDeltas(1).joined(), "\(type)")
        }
    }

    /// A steady stream that would run on and on is ended by `timeouts.turn`, with its text kept.
    func testTheTurnTimeoutBoundsASteadyStream() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 200, delayPerToken: 0.02) }
        defer { server.stop() }
        let outcome = await TurnRunner(timeouts: TransportTimeouts(connect: 5, idle: 5, total: 0.5))
            .run(turn(server).request, endpoint: endpoint(server))
        XCTAssertEqual(outcome.error?.kind, .timeout)
        XCTAssertTrue(outcome.error?.message.contains("timeouts.turn") ?? false, "\(String(describing: outcome.error))")
        XCTAssertFalse(outcome.text.isEmpty)
        XCTAssertTrue(MockServer.generatedDeltas(200).joined().hasPrefix(outcome.text))
    }

    // MARK: Memory

    static let openAIDelta = #"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Kept text. "}}]}"#
        + "\n\n"
    static let ollamaDelta = #"{"model":"m","message":{"role":"assistant","content":"Kept text. "},"done":false}"# + "\n"

    /// A body with one delta, then one line of `megabytes` MiB that never ends.
    static func flood(_ type: ProviderType, megabytes: Int) -> [UInt8] {
        let opening = type == .ollama ? ollamaDelta : openAIDelta + "data: "
        return Array(opening.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: megabytes << 20)
    }

    /// An endless line ends the stream as a bad response once it passes the limit, and the text
    /// before it is kept.
    func testALinePastTheLimitIsABadResponseThatKeepsTheText() async throws {
        for type in [ProviderType.openai, .ollama] {
            let server = try MockServer { _ in
                MockBehavior(replayBody: Self.flood(type, megabytes: 3),
                             replayContentType: type == .ollama ? "application/x-ndjson" : "text/event-stream", replayChunkSize: 65_536)
            }
            defer { server.stop() }
            let outcome = await TurnRunner(limits: StreamLimits(eventMiB: 1)).run(turn(server, type).request, endpoint: endpoint(server, type))
            XCTAssertEqual(outcome.error?.kind, .badResponse, "\(type)")
            XCTAssertTrue(outcome.error?.message.contains("1 MiB (limits.event_mib)") ?? false, "\(String(describing: outcome.error))")
            XCTAssertEqual(outcome.text, "Kept text. ", "\(type)")
            XCTAssertFalse(outcome.error?.kind.isRetryable ?? true)
        }
    }

    /// The gzip bomb: a small compressed body that inflates to one 64 MiB line is cut at the
    /// limit as it inflates, since the limit applies to what libcurl decodes.
    func testAGzipBombIsCutAtTheLimit() async throws {
        let compressed = try Self.gzip(Self.flood(.openai, megabytes: 64))
        XCTAssertLessThan(compressed.count, 1 << 20)
        let server = try MockServer { _ in
            MockBehavior(headers: ["Content-Encoding": "gzip"], replayBody: compressed, replayChunkSize: 16_384)
        }
        defer { server.stop() }
        let outcome = await TurnRunner(limits: StreamLimits(eventMiB: 2)).run(turn(server).request, endpoint: endpoint(server))
        XCTAssertEqual(outcome.error?.kind, .badResponse)
        XCTAssertEqual(outcome.text, "Kept text. ")
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-c"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let writer = Thread {
            input.fileHandleForWriting.write(Data(bytes))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let compressed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return [UInt8](compressed)
    }

    /// Text without end, in events each under the limit, is cut too.
    func testEndlessTextInSmallEventsIsCut() {
        let paragraph = String(repeating: "word ", count: 800)
        let event = #"data: {"choices":[{"index":0,"delta":{"content":"\#(paragraph)"}}]}"# + "\n\n"
        let events = String(repeating: event, count: 2_000)
        let outcome = TurnRunner.replay(Array(events.utf8), chunkSizes: [65_536], type: .openai, limits: StreamLimits(eventMiB: 1))
        XCTAssertEqual(outcome.error?.kind, .badResponse)
        XCTAssertTrue(outcome.error?.message.contains("4 × limits.event_mib") ?? false, "\(String(describing: outcome.error))")
        XCTAssertLessThanOrEqual(outcome.text.utf8.count, (4 << 20) + 65_536, "no more than one read past the limit")
    }

    // MARK: Redirects and echoed keys

    /// A redirect is not followed, so the key never goes to another host, and it is not retried:
    /// it is a bad response that names where it pointed.
    func testARedirectIsABadResponseNamingItsTarget() async throws {
        let server = try MockServer { _ in MockBehavior(status: 302, headers: ["Location": "https://elsewhere.example/v1/chat"]) }
        defer { server.stop() }
        let events = await Events.recording(Self.patientEngine, turn(server))
        let failure = try XCTUnwrap(events.failure)
        XCTAssertEqual(failure.kind, .badResponse)
        XCTAssertEqual(failure.status, 302)
        XCTAssertTrue(failure.message.contains("https://elsewhere.example/v1/chat"), failure.message)
        XCTAssertEqual(server.requests.count, 1)
    }

    /// An error body that quotes the key is reported with the key hidden, and cut when huge.
    func testAnEchoedKeyIsHiddenInTheError() async throws {
        let canary = "sk-canary-" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        Secrets.register([canary])
        let server = try MockServer { _ in
            MockBehavior(status: 401, errorMessage: "Incorrect API key provided: \(canary). " + String(repeating: "pad ", count: 5_000))
        }
        defer { server.stop() }
        let outcome = await TurnRunner().run(turn(server).request, endpoint: endpoint(server))
        let message = try XCTUnwrap(outcome.error?.message)
        XCTAssertFalse(message.contains(canary))
        XCTAssertTrue(message.contains(Secrets.masked(canary)), message)
        XCTAssertLessThan(message.count, ProviderError.longestMessage + 100)
    }
}
