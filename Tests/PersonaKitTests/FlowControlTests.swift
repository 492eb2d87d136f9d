import MockProvider
import XCTest

@testable import PersonaKit

final class FlowControlTests: XCTestCase {
    /// A reader slower than the network pauses the transfer instead of buffering the whole
    /// response, gets every byte in the end, and is not mistaken for a stalled server.
    func testSlowReaderPausesTheTransferAndLosesNothing() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 20_000) }
        defer { server.stop() }
        let endpoint = ProviderEndpoint(name: "ollama", type: .ollama, baseURL: server.baseURL, apiKeyEnv: "X", keyRequired: false)
        let request = OllamaAdapter().makeRequest(ChatRequest(model: "m", system: "", messages: []), endpoint: endpoint)
        let stream = CurlTransport.shared.stream(request, timeouts: TransportTimeouts(connect: 5, idle: 0.2))

        var decoder = NDJSONDecoder()
        var text = ""
        var sawPause = false
        var chunks = 0
        for try await part in stream {
            guard case .body(let bytes) = part else { continue }
            chunks += 1
            if chunks == 1 { try await Task.sleep(nanoseconds: 600_000_000) }
            sawPause = sawPause || stream.channel.isPaused
            for line in decoder.feed(bytes) {
                for case .delta(let piece) in OllamaAdapter().decode(SSEEvent(data: line)) { text += piece }
            }
        }
        XCTAssertTrue(sawPause, "the reader fell behind, so the transfer should have paused")
        XCTAssertEqual(text, MockServer.generatedDeltas(20_000).joined())
    }

    func testAFullChannelPausesUntilTheReaderTakesItsBytes() async throws {
        let resumed = expectation(description: "the transfer is resumed")
        let channel = ResponseChannel(cancel: {}, resume: { resumed.fulfill() })
        let chunk = [UInt8](repeating: 0x61, count: ResponseChannel.highWater - 10)
        channel.put(chunk)
        XCTAssertEqual(channel.room, 10)
        channel.put([0x62])
        XCTAssertEqual(channel.room, 9)
        channel.pauseForReader()
        XCTAssertTrue(channel.isPaused)
        let part = try await channel.next()
        XCTAssertEqual(part, .body(chunk + [0x62]), "bytes of two passes reach the reader together")
        XCTAssertFalse(channel.isPaused)
        XCTAssertEqual(channel.room, ResponseChannel.highWater)
        await fulfillment(of: [resumed], timeout: 1)
    }

    /// Chunks that arrive in one pass reach the reader as one, after the head, and the end follows them.
    func testAReaderGetsTheHeadThenEverythingThatWaitsThenTheEnd() async throws {
        let channel = ResponseChannel(cancel: {}, resume: {})
        channel.receive(head: HTTPResponseHead(status: 200, headers: HTTPHeaders()))
        for piece in ["data: a\n", "\n", "data: b\n\n"] { channel.put(Array(piece.utf8)) }
        channel.finish(error: TransportError(kind: .network, message: "reset"))
        let head = try await channel.next()
        XCTAssertEqual(head, .head(HTTPResponseHead(status: 200, headers: HTTPHeaders())))
        let body = try await channel.next()
        XCTAssertEqual(body, .body(Array("data: a\n\ndata: b\n\n".utf8)))
        do {
            _ = try await channel.next()
            XCTFail("the transfer's error should end the stream")
        } catch let error as TransportError {
            XCTAssertEqual(error.kind, .network)
        }
        let afterEnd = try await channel.next()
        XCTAssertNil(afterEnd)
    }

    func testAWaitingReaderWakesOnPublishAndStoppingCancelsTheTransfer() async throws {
        let cancelled = expectation(description: "the transfer is cancelled")
        let channel = ResponseChannel(cancel: { cancelled.fulfill() }, resume: {})
        let reader = Task { try await channel.next() }
        try await Task.sleep(nanoseconds: 20_000_000)
        channel.put(Array("x".utf8))
        channel.publish()
        let first = try await reader.value
        XCTAssertEqual(first, .body(Array("x".utf8)))
        let second = Task { try await channel.next() }
        second.cancel()
        let afterCancel = try await second.value
        XCTAssertNil(afterCancel)
        await fulfillment(of: [cancelled], timeout: 1)
    }
}

final class ReadingBacklogTests: XCTestCase {
    /// A pass's backlog empties only when every reader it brought something has come back for more,
    /// and says so once.
    func testTheBacklogEmptiesWhenEveryReaderHasDealtWithItsPass() async throws {
        let backlog = ReadingBacklog()
        let caughtUp = expectation(description: "caught up")
        caughtUp.expectedFulfillmentCount = 1
        caughtUp.assertForOverFulfill = true
        backlog.onCaughtUp { caughtUp.fulfill() }
        let first = ResponseChannel(backlog: backlog, cancel: {}, resume: {})
        let second = ResponseChannel(backlog: backlog, cancel: {}, resume: {})
        let idle = ResponseChannel(backlog: backlog, cancel: {}, resume: {})

        backlog.beginPass()
        for channel in [first, second] { channel.put(Array("x".utf8)) }
        for channel in [first, second, idle] { channel.publish() }
        backlog.endPass()
        XCTAssertFalse(backlog.isEmpty, "two readers have bytes to deal with")

        _ = try await first.next()
        XCTAssertFalse(backlog.isEmpty, "taking the bytes is not dealing with them")
        let firstBack = Task { try await first.next() }
        try await Task.sleep(nanoseconds: 20_000_000)
        XCTAssertFalse(backlog.isEmpty, "the second reader has not come back")
        _ = try await second.next()
        second.stopReading()
        await fulfillment(of: [caughtUp], timeout: 1)
        XCTAssertTrue(backlog.isEmpty)

        backlog.beginPass()
        backlog.endPass()
        XCTAssertTrue(backlog.isEmpty, "a pass that brought nothing does not call the hook")
        firstBack.cancel()
        _ = try await firstBack.value
    }
}

final class CadenceTests: XCTestCase {
    func testTicksAreMultiplesOfTheIntervalStrictlyAfter() {
        let cadence = Cadence(seconds: 0.010)
        XCTAssertEqual(cadence.nanoseconds, 10_000_000)
        XCTAssertEqual(cadence.tick(after: 0), 10_000_000)
        XCTAssertEqual(cadence.tick(after: 25_000_000), 30_000_000)
        XCTAssertEqual(cadence.tick(after: 30_000_000), 40_000_000)
    }

    func testTheTransportKeepsTheCadenceItIsGiven() {
        let transport = CurlTransport.shared
        let before = transport.cadence
        defer { transport.cadence = before }
        transport.cadence = Cadence(seconds: 1.0 / 60)
        XCTAssertEqual(transport.cadence, Cadence(seconds: 1.0 / 60))
    }

    /// With a tick a minute away, a request still starts at once, and its first token comes at
    /// the first-token cadence, though its opening events (Anthropic's `message_start`) came
    /// 0.3 s before it and the response was flowing. Cancelling wakes the thread as well.
    func testNeitherTheStartNorTheFirstTokenWaitsForTheTick() async throws {
        let server = try MockServer()
        defer { server.stop() }
        readAtCadence(seconds: 60, firstToken: 0.001)
        let endpoint = ProviderEndpoint(name: "anthropic", type: .anthropic, baseURL: server.baseURL, apiKey: "sk-test",
                                        apiKeyEnv: "ANTHROPIC_API_KEY", keyRequired: true)
        let firstToken = expectation(description: "the first token")
        firstToken.assertForOverFulfill = false
        let turn = Task {
            await TurnRunner().run(ChatRequest(model: "mock+tokens=20+ttft=0.3+delay=0.05", system: "", messages: [ChatMessage(role: .user, content: "hi")]),
                                   endpoint: endpoint) { event in
                if case .delta = event { firstToken.fulfill() }
            }
        }
        await fulfillment(of: [firstToken], timeout: 20)
        turn.cancel()
        let ended = expectation(description: "the end of the cancelled turn")
        let outcome = Shared<TurnOutcome?>(nil)
        Task {
            outcome.value = await turn.value
            ended.fulfill()
        }
        await fulfillment(of: [ended], timeout: 20)
        XCTAssertEqual(outcome.value?.error?.kind, .cancelled)
    }

    /// Once a stream has its first token, its reading passes go back to the cadence: twenty
    /// tokens 50 ms apart, read at a 1 s cadence, come in a few passes, where the first-token
    /// cadence of 1 ms would read each token in a pass of its own.
    func testAStreamThatHasItsFirstTokenIsReadAtTheCadence() async throws {
        let server = try MockServer()
        defer { server.stop() }
        readAtCadence(seconds: 1, firstToken: 0.001)
        let passes = Shared(0)
        CurlTransport.shared.onCaughtUp { passes.withLock { $0 += 1 } }
        defer { CurlTransport.shared.onCaughtUp(nil) }
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "sk-test",
                                        apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
        let outcome = await TurnRunner().run(ChatRequest(model: "mock+tokens=20+delay=0.05", system: "",
                                                         messages: [ChatMessage(role: .user, content: "hi")]),
                                             endpoint: endpoint) { _ in }
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.text, MockServer.generatedDeltas(20).joined())
        XCTAssertLessThanOrEqual(passes.value, 10, "passes that brought something")
    }

    /// With both cadences ten minutes long, a response that lands whole is read as it lands: while
    /// a response waits for its first token, bytes that wake the thread are read at once, where
    /// other bytes wait for the tick.
    func testWhileAResponseWaitsForItsFirstTokenItsBytesAreReadAsTheyLand() async throws {
        var whole = MockBehavior(replayBody: MockServer.streamBody(.openai, model: "mock", deltas: ["Tea ", "please"]))
        whole.replayInOneWrite = true
        let server = try MockServer { [whole] _ in whole }
        defer { server.stop() }
        readAtCadence(seconds: 600, firstToken: 600)
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "sk-test",
                                        apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
        let answered = expectation(description: "the whole answer")
        let outcome = Shared<TurnOutcome?>(nil)
        let turn = Task {
            outcome.value = await TurnRunner().run(ChatRequest(model: "mock", system: "", messages: [ChatMessage(role: .user, content: "hi")]),
                                                   endpoint: endpoint) { _ in }
            answered.fulfill()
        }
        await fulfillment(of: [answered], timeout: 30)
        turn.cancel()
        XCTAssertNil(outcome.value?.error)
        XCTAssertEqual(outcome.value?.text, "Tea please")
    }

    /// A request, a cancellation or a reader's job that wakes the thread from its wait for sockets
    /// is dealt with at once, as it is during the wait for the tick; bytes wait for the tick unless
    /// a response waits for its first token. (Which of them ends the wait is a race the tests of
    /// the whole transport cannot set up; the one above shows the bytes' case end to end.)
    func testWhatIsAskedOfTheTransferThreadDoesNotWaitForTheTick() {
        XCTAssertTrue(CurlTransport.passesAtOnce(after: .wakeUp, awaitingFirstToken: false))
        XCTAssertTrue(CurlTransport.passesAtOnce(after: .socket, awaitingFirstToken: true))
        XCTAssertFalse(CurlTransport.passesAtOnce(after: .socket, awaitingFirstToken: false))
        XCTAssertFalse(CurlTransport.passesAtOnce(after: .timeout, awaitingFirstToken: true))
    }

    /// Sets the shared transport's cadences for the rest of the test.
    private func readAtCadence(seconds: Double, firstToken: Double) {
        let transport = CurlTransport.shared
        let before = (transport.cadence, transport.firstTokenCadence)
        addTeardownBlock { (transport.cadence, transport.firstTokenCadence) = before }
        transport.cadence = Cadence(seconds: seconds)
        transport.firstTokenCadence = Cadence(seconds: firstToken)
    }
}

final class TransferThreadExecutorTests: XCTestCase {
    static func threadName() -> String {
        (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines) ?? ""
    }

    /// Readers decode on the transfer thread; the turn's task is back on its own executor afterwards,
    /// where the ledger and the transcript may take their time.
    func testATurnReadsOnTheTransferThreadAndReturnsToItsOwnExecutor() async throws {
        let server = try MockServer()
        defer { server.stop() }
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "sk-test",
                                        apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
        let threads = Collected()
        let outcome = await TurnRunner().run(ChatRequest(model: "mock+tokens=20", system: "", messages: [ChatMessage(role: .user, content: "hi")]),
                                             endpoint: endpoint) { progress in
            if case .delta = progress { threads.append(Self.threadName() + "\n") }
        }
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.text, MockServer.generatedDeltas(20).joined())
        XCTAssertEqual(Set(threads.joined.split(separator: "\n")), [Substring(CurlTransport.threadName)])
        XCTAssertNotEqual(Self.threadName(), CurlTransport.threadName)
    }

    /// A task that keeps yielding on the transfer thread neither stalls the thread nor starves.
    func testATaskThatKeepsYieldingStillFinishes() async {
        let rounds = await withTaskExecutorPreference(CurlTransport.shared.readers) { () async -> Int in
            var count = 0
            for _ in 0..<100 {
                await Task.yield()
                if Self.threadName() == CurlTransport.threadName { count += 1 }
            }
            return count
        }
        XCTAssertEqual(rounds, 100)
    }
}

extension ResponseChannel {
    /// Hands `bytes` over as a reading pass does.
    func put(_ bytes: [UInt8]) {
        var pass = bytes
        receive(body: &pass)
    }
}
