import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaGateway

/// A client that reads slower than the model writes holds the turn back through its `ReadPace`:
/// what waits for it stays near `TurnEvents.backlogLimit`, the transfer pauses, and once the
/// client reads again every token arrives and the turn ends as answered, not stopped.
final class GatewayBackPressureTests: XCTestCase {
    func testASlowReaderHoldsTheUpstreamBackAndLosesNothing() async throws {
        let tokens = 200_000
        let server = try MockServer { _ in MockBehavior(tokens: tokens) }
        defer { server.stop() }
        let engine = ConversationEngine()
        let turn = PlannedTurn(session: "slow", persona: Persona(id: "p", name: "P", systemPrompt: ""),
                               endpoint: ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "k",
                                                          apiKeyEnv: "OPENAI_API_KEY", keyRequired: true),
                               request: ChatRequest(model: "m", system: "", messages: [ChatMessage(role: .user, content: "go")]))
        let events = TurnEvents(engine: engine, turn: turn)
        // The client reads nothing: once the backlog is full the turn is held back, and stays so.
        for _ in 0..<600 where !events.pace.isHeld { try await Task.sleep(nanoseconds: 50_000_000) }
        XCTAssertTrue(events.pace.isHeld, "a full backlog holds the turn back")
        try await Task.sleep(nanoseconds: 500_000_000)
        var text = ""
        var ending: TurnEvent.Kind?
        func collect(_ batch: [TurnEvent]) {
            for event in batch {
                switch event.kind {
                case .delta(let delta): text += delta
                case .done, .failed: ending = event.kind
                default: break
                }
            }
        }
        collect(events.take() ?? [])
        let waited = text.utf8.count
        let whole = MockServer.generatedDeltas(tokens).joined()
        XCTAssertGreaterThan(waited, TurnEvents.backlogLimit, "the backlog fills up to its limit first")
        XCTAssertLessThan(waited, TurnEvents.backlogLimit + (64 << 10), "then the turn stops reading: \(waited) of \(whole.utf8.count) bytes")
        while true {
            let batch = await events.nextBatch()
            if batch.isEmpty { break }
            collect(batch)
        }
        XCTAssertEqual(text, whole, "every token arrives once the client reads")
        guard case .done = ending else { return XCTFail("the turn ended as \(String(describing: ending))") }
    }
}
