import Foundation
import MockProvider
import XCTest

@testable import PersonaKit

/// Retries, Retry-After, the circuit breaker, rate limits and failover, over real libcurl.
final class ResilienceTests: XCTestCase {
    /// Hands out scripted behaviours in order, then `after` forever.
    final class Script: @unchecked Sendable {
        private let lock = NSLock()
        private var queue: [MockBehavior]
        private let after: MockBehavior
        init(_ queue: [MockBehavior], then after: MockBehavior = MockBehavior(tokens: 6)) {
            self.queue = queue
            self.after = after
        }
        func next(_ request: MockRequest) -> MockBehavior {
            lock.withLock { queue.isEmpty ? after : queue.removeFirst() }
        }
    }

    final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [TurnEvent] = []

        /// Runs the turn to its end and keeps every event it reported.
        static func recording(_ engine: ConversationEngine, _ turn: PlannedTurn) async -> Events {
            let events = Events()
            await engine.run(turn) { events.append($0) }
            return events
        }
        func append(_ event: TurnEvent) { lock.withLock { list.append(event) } }
        var all: [TurnEvent] { lock.withLock { list } }
        var retries: [(attempt: Int, delay: Double, reason: ProviderError, partial: String)] {
            all.compactMap { if case .retry(let retry) = $0.kind { return (retry.attempt, retry.delay, retry.reason, retry.partialText) }; return nil }
        }
        var done: TurnReport? { all.lazy.compactMap { if case .done(let report) = $0.kind { return report }; return nil }.first }
        var failure: ProviderError? { all.lazy.compactMap { if case .failed(let error, _) = $0.kind { return error }; return nil }.first }
    }

    func endpoint(_ server: MockServer, _ type: ProviderType = .openai, name: String = "openai") -> ProviderEndpoint {
        ProviderEndpoint(name: name, type: type, baseURL: server.baseURL + (type == .openai ? "/v1" : ""), apiKey: "k",
                         apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
    }

    func turn(_ server: MockServer, _ type: ProviderType = .openai, model: String = "gpt-4o-mini", fallbacks: [Route] = [],
              persona: String = "p") -> PlannedTurn {
        PlannedTurn(session: "test", persona: Persona(id: persona, name: persona, systemPrompt: "You are \(persona)."), endpoint: endpoint(server, type),
                    request: ChatRequest(model: model, system: "You are \(persona).", messages: [ChatMessage(role: .user, content: "go")]),
                    fallbacks: fallbacks)
    }

    func run(_ engine: ConversationEngine, _ turn: PlannedTurn) async -> Events {
        await Events.recording(engine, turn)
    }

    func testRateLimit429WithRetryAfterWaitsThenSucceeds() async throws {
        let script = Script([MockBehavior(status: 429, headers: ["Retry-After": "1"])])
        let server = try MockServer { script.next($0) }
        defer { server.stop() }
        let engine = ConversationEngine(retryPolicy: RetryPolicy(maxRetries: 3, baseDelay: 0.01, maxDelay: 5))
        let events = await run(engine, turn(server))
        XCTAssertEqual(events.retries.count, 1, "\(events.retries.map(\.reason))")
        XCTAssertEqual(events.retries.first?.delay, 1, "Retry-After wins over the backoff")
        XCTAssertEqual(events.retries.first?.reason.kind, .rateLimit)
        XCTAssertNotNil(events.done)
        let requests = server.requests
        XCTAssertEqual(requests.count, 2)
        guard requests.count == 2 else { return }
        XCTAssertGreaterThanOrEqual(requests[1].receivedAt - requests[0].receivedAt, 1.0)
    }

    func testRetryAfterMillisecondsAndHTTPDates() {
        let policy = RetryPolicy()
        var error = ProviderErrorParser.fromHTTP(status: 429, headers: HTTPHeaders([("retry-after-ms", "1500"), ("Retry-After", "9")]), body: [])
        XCTAssertEqual(policy.delay(beforeRetry: 1, after: error), 1.5)
        let date = Date().addingTimeInterval(30)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        error = ProviderErrorParser.fromHTTP(status: 503, headers: HTTPHeaders([("Retry-After", formatter.string(from: date))]), body: [])
        XCTAssertEqual(error.retryAfter ?? 0, 30, accuracy: 1.5)
    }

    func testServerErrorsAreRetriedWithGrowingDelaysThenReported() async throws {
        let server = try MockServer { _ in MockBehavior(status: 500) }
        defer { server.stop() }
        let engine = ConversationEngine(retryPolicy: RetryPolicy(maxRetries: 3, baseDelay: 0.05, maxDelay: 1))
        let events = await run(engine, turn(server))
        XCTAssertEqual(events.retries.map(\.attempt), [1, 2, 3])
        let delays = events.retries.map(\.delay)
        XCTAssertTrue(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 }, "\(delays)")
        XCTAssertLessThanOrEqual(delays[0], 0.05)
        XCTAssertGreaterThanOrEqual(delays[2], 0.1)
        XCTAssertEqual(events.failure?.kind, .server)
        XCTAssertEqual(server.requests.count, 4)
    }

    func testNonRetryableErrorsAreNotRetried() async throws {
        let server = try MockServer { _ in MockBehavior(status: 400) }
        defer { server.stop() }
        let events = await run(ConversationEngine(retryPolicy: RetryPolicy(maxRetries: 3, baseDelay: 0.01)), turn(server))
        XCTAssertTrue(events.retries.isEmpty)
        XCTAssertEqual(events.failure?.kind, .badRequest)
        XCTAssertEqual(server.requests.count, 1)
    }

    func testOverloadedMidStreamRestartsTheTurnWithoutDuplicatingText() async throws {
        let script = Script([MockBehavior(tokens: 12, errorAfter: 5)], then: MockBehavior(tokens: 12))
        let server = try MockServer { script.next($0) }
        defer { server.stop() }
        let events = await run(ConversationEngine(retryPolicy: RetryPolicy(maxRetries: 2, baseDelay: 0.01)), turn(server, .anthropic))
        XCTAssertEqual(events.retries.first?.reason.kind, .overloaded)
        XCTAssertEqual(events.retries.first?.partial, MockServer.generatedDeltas(5).joined())
        XCTAssertEqual(events.done?.text, MockServer.generatedDeltas(12).joined(), "the answer starts over, nothing glued on")
    }

    func testADroppedConnectionIsRetriedAndThePartialAttemptIsKeptAsFailed() async throws {
        let script = Script([MockBehavior(tokens: 10, dropAfter: 4)])
        let server = try MockServer { script.next($0) }
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("retry-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try PersonaDatabase(path: directory.appendingPathComponent("persona.db").path)
        let engine = ConversationEngine(retryPolicy: RetryPolicy(maxRetries: 2, baseDelay: 0.01))
        let participant = Participant(persona: Persona(id: "p", name: "P", systemPrompt: "You are p."), endpoint: endpoint(server),
                                      model: ModelRef(provider: "openai", model: "gpt-4o-mini"))
        let plan = DebatePlan(session: SessionInfo(id: "s1", mode: .parallel, topic: "go", roster: []), participants: [participant],
                              mode: .parallel, rounds: 1)
        var retried = false
        for await event in DebateRunner(engine: engine, store: SessionStore(database: database)).run(plan, message: "go") {
            if case .turn(let turn) = event, case .retry(let retry) = turn.kind {
                let reason = retry.reason
                retried = true
                XCTAssertEqual(reason.kind, .network)
            }
        }
        XCTAssertTrue(retried)
        let messages = try XCTUnwrap(try SessionStore(database: database).load("s1")).messages
        XCTAssertEqual(messages.map(\.status), [.complete, .failed, .complete])
        guard messages.count == 3 else { return }
        XCTAssertEqual(messages[1].text, MockServer.generatedDeltas(4).joined(), "the failed attempt keeps what streamed")
        XCTAssertEqual(messages[2].text, MockServer.generatedDeltas(6).joined())
    }

    func testAStallTimesOutAfterTheIdleLimitThenRetries() async throws {
        let script = Script([MockBehavior(tokens: 8, stallAfter: 3, stallSeconds: 2)])
        let server = try MockServer { script.next($0) }
        defer { server.stop() }
        let engine = ConversationEngine(runner: TurnRunner(timeouts: TransportTimeouts(connect: 5, idle: 0.3)),
                                        retryPolicy: RetryPolicy(maxRetries: 1, baseDelay: 0.01))
        let events = await run(engine, turn(server))
        XCTAssertEqual(events.retries.first?.reason.kind, .timeout)
        XCTAssertEqual(events.done?.text, MockServer.generatedDeltas(6).joined())
    }

    func testTheCircuitBreakerOpensFailsFastAndClosesAfterTheCooldown() async throws {
        let script = Script(Array(repeating: MockBehavior(status: 500), count: 5))
        let server = try MockServer { script.next($0) }
        defer { server.stop() }
        let health = ProviderHealth(failureThreshold: 5, cooldown: 0.5)
        let engine = ConversationEngine(health: health, retryPolicy: RetryPolicy(maxRetries: 0))
        for _ in 0..<5 {
            let events = await run(engine, turn(server))
            XCTAssertEqual(events.failure?.kind, .server)
        }
        let status = await health.status()
        XCTAssertEqual(status.first?.breaker, .open)
        let fast = await run(engine, turn(server))
        XCTAssertTrue(fast.failure?.message.contains("circuit breaker") ?? false, fast.failure?.message ?? "")
        XCTAssertEqual(server.requests.count, 5, "an open breaker sends nothing")

        try await Task.sleep(nanoseconds: 600_000_000)
        let trial = await run(engine, turn(server))
        XCTAssertNotNil(trial.done, "after the cool-down one trial goes through")
        XCTAssertEqual(server.requests.count, 6)
        let closed = await health.status()
        XCTAssertEqual(closed.first?.breaker, .closed)
    }

    func testAuthFailureFailsOverToTheFallbackWhoseAnswerCompletes() async throws {
        let server = try MockServer { request in
            request.model == "primary-model" ? MockBehavior(status: 401, errorMessage: "invalid key") : MockBehavior(tokens: 7)
        }
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("failover-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = try Ledger(path: directory.appendingPathComponent("persona.db").path)
        let engine = ConversationEngine(accounting: Accounting(catalog: PriceCatalog(), ledger: ledger),
                                        retryPolicy: RetryPolicy(maxRetries: 3, baseDelay: 0.01))
        let fallback = Route(endpoint: endpoint(server, .anthropic, name: "anthropic"), model: ModelRef(provider: "anthropic", model: "backup-model"))
        let events = await run(engine, turn(server, model: "primary-model", fallbacks: [fallback]))
        XCTAssertTrue(events.retries.isEmpty, "auth is not retried; it fails over at once")
        let failover = events.all.compactMap { if case .failover(let from, let reason) = $0.kind { return ($0.turn, from, $0.turn.model, reason) }; return nil }.first
        XCTAssertEqual(failover?.1.description, "openai:primary-model")
        XCTAssertEqual(failover?.2.description, "anthropic:backup-model")
        XCTAssertEqual(failover?.3.kind, .auth)
        XCTAssertEqual(failover?.0.providerType, .anthropic, "the event carries the new endpoint's facts")
        XCTAssertEqual(events.done?.text, MockServer.generatedDeltas(7).joined())
        let doneID = events.all.compactMap { if case .done = $0.kind { return $0.turn }; return nil }.first
        XCTAssertEqual(doneID?.model.model, "backup-model")
        XCTAssertEqual(try ledger.entries(limit: 5).map { "\($0.provider):\($0.model)" }, ["anthropic:backup-model", "openai:primary-model"],
                       "the ledger records the model actually used")
    }

    func testEightTurnsQueueUnderARateLimitAndAllComplete() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 3) }
        defer { server.stop() }
        let window = 0.4
        let health = ProviderHealth(limits: ["openai": RateLimit(requests: 2, window: window)])
        let engine = ConversationEngine(health: health)
        let queued = Events()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                let planned = turn(server, persona: "p\(index)")
                group.addTask { await engine.run(planned) { queued.append($0) } }
            }
        }
        let dones = queued.all.filter { if case .done = $0.kind { return true }; return false }
        XCTAssertEqual(dones.count, 8, "every turn completes")
        XCTAssertTrue(queued.all.contains { if case .queued = $0.kind { return true }; return false }, "turns waited their turn")
        let arrivals = server.requests.map(\.receivedAt).sorted()
        XCTAssertEqual(arrivals.count, 8)
        for (index, start) in arrivals.enumerated() {
            // A little slack for the time between leaving the limiter and reaching the server.
            let inWindow = arrivals[index...].filter { $0 < start + window - 0.03 }.count
            XCTAssertLessThanOrEqual(inWindow, 2, "at \(start): \(arrivals)")
        }
    }

    func testRateLimitHeadersHoldRequestsUntilTheReset() async throws {
        let script = Script([MockBehavior(tokens: 3, headers: ["x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "400ms"])])
        let server = try MockServer { script.next($0) }
        defer { server.stop() }
        let health = ProviderHealth()
        let engine = ConversationEngine(health: health)
        _ = await run(engine, turn(server))
        let second = await run(engine, turn(server))
        XCTAssertTrue(second.all.contains { if case .queued = $0.kind { return true }; return false })
        let requests = server.requests
        XCTAssertGreaterThanOrEqual(requests[1].receivedAt - requests[0].receivedAt, 0.35)
        let status = await health.status()
        XCTAssertEqual(status.first?.lastRateHeaders["x-ratelimit-remaining-requests"], "0")
        XCTAssertEqual(ProviderHealth.duration("6m0s"), 360)
        XCTAssertEqual(ProviderHealth.duration("1h2m3.5s"), 3723.5)
        XCTAssertEqual(ProviderHealth.duration("12ms"), 0.012)
    }
}

/// A server that generates one answer at a time gets one request at a time.
final class ConcurrencyGateTests: XCTestCase {
    /// The `local` preset as the app resolves it, pointed at the mock.
    func localEndpoint(_ server: MockServer) throws -> ProviderEndpoint {
        try ProviderDirectory(config: Config(), environment: ["LOCAL_BASE_URL": server.baseURL + "/v1"]).endpoint(for: "local")
    }

    func turns(endpoint: ProviderEndpoint, count: Int) -> [PlannedTurn] {
        (0..<count).map { index in
            PlannedTurn(session: "test", persona: Persona(id: "p\(index)", name: "P\(index)", systemPrompt: "You are P\(index)."), endpoint: endpoint,
                        request: ChatRequest(model: "mock+tokens=20+delay=0.01", system: "You are P\(index).",
                                             messages: [ChatMessage(role: .user, content: "go")]))
        }
    }

    func runAll(_ turns: [PlannedTurn], engine: ConversationEngine) async -> [ResilienceTests.Events] {
        await withTaskGroup(of: ResilienceTests.Events.self) { group in
            for turn in turns {
                group.addTask { await ResilienceTests.Events.recording(engine, turn) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    func testTheLocalProviderStreamsOneAnswerAtATime() async throws {
        let server = try MockServer()
        defer { server.stop() }
        let local = try localEndpoint(server)
        let results = await runAll(turns(endpoint: local, count: 3), engine: ConversationEngine())
        XCTAssertEqual(results.compactMap(\.done).count, 3)
        XCTAssertEqual(server.peakConcurrentStreams, 1)
    }

    func testOtherProvidersStreamInParallel() async throws {
        let server = try MockServer()
        defer { server.stop() }
        let openai = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKeyEnv: "OPENAI_API_KEY", keyRequired: false)
        let results = await runAll(turns(endpoint: openai, count: 3), engine: ConversationEngine())
        XCTAssertEqual(results.compactMap(\.done).count, 3)
        XCTAssertEqual(server.peakConcurrentStreams, 3)
    }

    func testStoppingAWaitingTurnLeavesTheQueue() async throws {
        let server = try MockServer()
        defer { server.stop() }
        let local = try localEndpoint(server)
        let engine = ConversationEngine()
        let planned = turns(endpoint: local, count: 2)
        let (streaming, waiting) = (planned[0], planned[1])
        let first = Task { await ResilienceTests.Events.recording(engine, streaming) }
        while server.requests.isEmpty { try await Task.sleep(nanoseconds: 5_000_000) }
        let second = Task { await ResilienceTests.Events.recording(engine, waiting) }
        try await Task.sleep(nanoseconds: 50_000_000)
        second.cancel()
        let stopped = await second.value
        XCTAssertEqual(stopped.failure?.kind, .cancelled)
        let finished = await first.value
        XCTAssertNotNil(finished.done)
        XCTAssertEqual(server.requests.count, 1, "the stopped turn never reached the server")
        let after = await ResilienceTests.Events.recording(engine, turns(endpoint: local, count: 1)[0])
        XCTAssertNotNil(after.done, "the slot was handed back")
    }
}
