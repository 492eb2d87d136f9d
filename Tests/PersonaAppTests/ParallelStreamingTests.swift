import Foundation
import MockProvider
import PersonaApp
import PersonaKit
import XCTest

/// Many personas stream at once through one transfer thread.
final class ParallelStreamingTests: XCTestCase {
    func testEightPersonasStreamTwoThousandTokensEachIntactOnOneTransferThread() async throws {
        let server = try MockServer { request in
            // Each persona gets its own text, so a mixed-up stream would show.
            let persona = (try? JSON.parse(request.body)["messages"]?[0]?["content"]?.string) ?? ""
            let words = MockServer.generatedDeltas(2000).map { "\(persona.prefix(2))\($0)" }
            return MockBehavior(text: words.joined(), chunkSize: words[0].count)
        }
        defer { server.stop() }
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "k",
                                        apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
        let turns = (0..<8).map { index in
            PlannedTurn(session: "test", persona: Persona(id: "p\(index)", name: "P\(index)", systemPrompt: "P\(index)"), endpoint: endpoint,
                        request: ChatRequest(model: "mock", system: "P\(index)", messages: [ChatMessage(role: .user, content: "go")]))
        }
        var texts: [String: String] = [:]
        var deltas: [String: String] = [:]
        var transferThreadsSeen: Set<Int> = []
        for await event in ConversationEngine().runParallel(turns) {
            let id = event.turn
            switch event.kind {
            case .delta(let text):
                deltas[id.personaID, default: ""] += text
                if deltas[id.personaID]!.count % 997 == 0 { transferThreadsSeen.insert(Self.transferThreadCount()) }
            case .done(let report):
                texts[id.personaID] = report.text
            case .failed(let error, _):
                XCTFail("\(id.personaID): \(error)")
            case .started, .sent, .usage, .queued, .retry, .failover, .repair, .toolCall, .toolResult:
                break
            }
        }
        transferThreadsSeen.insert(Self.transferThreadCount())
        XCTAssertEqual(texts.count, 8)
        for index in 0..<8 {
            let expected = MockServer.generatedDeltas(2000).map { "P\(index)\($0)" }.joined()
            XCTAssertEqual(texts["p\(index)"], expected, "p\(index)")
            XCTAssertEqual(deltas["p\(index)"], expected)
        }
        XCTAssertEqual(transferThreadsSeen, [1], "every stream shares the one transfer thread")
        XCTAssertEqual(server.requests.count, 8)
    }

    /// Threads of this process named like the transfer thread.
    static func transferThreadCount() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.trimmingCharacters(in: .whitespacesAndNewlines) == CurlTransport.threadName
        }.count
    }
}
