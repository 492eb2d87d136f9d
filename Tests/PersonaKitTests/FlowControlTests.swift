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
            sawPause = sawPause || stream.flow.isPaused
            for line in decoder.feed(bytes) {
                for case .delta(let piece) in OllamaAdapter().decode(SSEEvent(data: line)) { text += piece }
            }
        }
        XCTAssertTrue(sawPause, "the reader fell behind, so the transfer should have paused")
        XCTAssertEqual(text, MockServer.generatedDeltas(20_000).joined())
    }

    func testAdmitAndConsumeCrossTheWaterMarks() {
        let flow = FlowControl()
        XCTAssertTrue(flow.admit(FlowControl.highWater))
        XCTAssertFalse(flow.admit(1))
        XCTAssertTrue(flow.isPaused)
        XCTAssertFalse(flow.consumed(FlowControl.highWater - FlowControl.lowWater - 1))
        XCTAssertTrue(flow.consumed(1))
        XCTAssertFalse(flow.isPaused)
        XCTAssertTrue(flow.admit(1))
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
}
