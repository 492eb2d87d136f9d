import Foundation
import MockProvider
import XCTest

@testable import PersonaKit

/// The built-in tools, the knowledge index, and a tool loop stopped in the middle of a call.
final class ToolTests: XCTestCase {
    func calc(_ expression: String) throws -> String { Calculator.text(try Calculator.evaluate(expression)) }

    func testTheCalculatorIsExact() throws {
        XCTAssertEqual(try calc("0.1 + 0.2"), "0.3")
        XCTAssertEqual(try calc("35 * 110"), "3850")
        XCTAssertEqual(try calc("2 + 3 × 4 − 6 ÷ 3"), "12")
        XCTAssertEqual(try calc("(1 + 2) * 3"), "9")
        XCTAssertEqual(try calc("2^10"), "1024")
        XCTAssertEqual(try calc("2 ** -2"), "0.25")
        XCTAssertEqual(try calc("-2^2"), "-4")
        XCTAssertEqual(try calc("2^3^2"), "512", "powers group to the right")
        XCTAssertEqual(try calc("17 % 5"), "2")
        XCTAssertEqual(try calc("200 * 15%"), "30")
        XCTAssertEqual(try calc("50% + 1"), "1.5")
        XCTAssertEqual(try calc("sqrt(144)"), "12")
        XCTAssertEqual(try calc("sqrt(2)"), "1.41421356237309504880168872421")
        XCTAssertEqual(try calc("round(2 / 3, 4)"), "0.6667")
        XCTAssertEqual(try calc("round(2.5)"), "3")
        XCTAssertEqual(try calc("1_000_000 * 1.07"), "1070000")
        XCTAssertEqual(try calc("abs(-3)"), "3")
        for (bad, message) in [("1 / 0", "division by zero"), ("2 ^ 0.3", "only whole powers are exact; use sqrt(x) for a square root"),
                               ("sqrt(-1)", "the square root of a negative number is not a real number"), ("(1 + 2", "a '(' is never closed"),
                               ("1 +", "the expression ends where a number was expected"), ("rm -rf /", "'rm' must be followed by '('"), ("log(2)", "unknown function 'log' (known: sqrt(x), round(x), round(x, places), abs(x))"),
                               ("2 $ 3", "'$' is not part of arithmetic"), ("10 ^ 100000", "a power above 10000 is too large"),
                               ("9 ^ 9999", "the result is too large for 38 digits")] {
            XCTAssertThrowsError(try Calculator.evaluate(bad), bad) { error in
                XCTAssertEqual("\(error)", message, bad)
            }
        }
        XCTAssertThrowsError(try Calculator.evaluate(String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500)))
    }

    func testAKeyInAToolCallsArgumentsIsHidden() throws {
        let key = "sk-proj-argstest-0123456789abcdefghijklmnop"
        Secrets.register([key])
        let chunk = #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"echo","arguments":"{\"text\":\"\#(key)\"}"}}]},"finish_reason":"tool_calls"}]}"#
        let outcome = TurnRunner.replay(Array("data: \(chunk)\n\ndata: [DONE]\n\n".utf8), chunkSizes: [64], type: .openai)
        let text = try XCTUnwrap(outcome.toolCalls.first?.arguments["text"]?.string)
        XCTAssertFalse(text.contains(key), text)
        XCTAssertFalse(text.isEmpty)
    }

    func testCurrentTimeNamesItsZone() throws {
        let noon = Date(timeIntervalSince1970: 1_796_385_600)  // 2026-12-04T12:00:00Z
        XCTAssertEqual(try Builtins.time(in: "UTC", now: noon), "2026-12-04T12:00:00Z (Friday, UTC)")
        XCTAssertEqual(try Builtins.time(in: "Asia/Tokyo", now: noon), "2026-12-04T21:00:00+09:00 (Friday, Asia/Tokyo)")
        XCTAssertThrowsError(try Builtins.time(in: "Mars/Olympus", now: noon))
    }

    func testKnowledgeIsSearchedWithItsFileAndLineAndIndexedAgainWhenAFileChanges() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knowledge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("notes"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let returns = folder.appendingPathComponent("returns.md")
        try "# Returns\n\nCustomers may return goods within 30 days.\n\nRefunds go to the original card.\n"
            .write(to: returns, atomically: true, encoding: .utf8)
        try "Shipping takes five working days.\n".write(to: folder.appendingPathComponent("notes/shipping.txt"), atomically: true, encoding: .utf8)
        try "ignored".write(to: folder.appendingPathComponent("image.png"), atomically: true, encoding: .utf8)
        let database = folder.appendingPathComponent("persona.db").path
        let knowledge = KnowledgeBase(path: database)

        let found = try knowledge.search("how many days to return goods", in: folder.path)
        XCTAssertTrue(found.hasPrefix("\(returns.path):3\nCustomers may return goods within 30 days."), found)
        XCTAssertTrue(try knowledge.search("shipping", in: folder.path).contains("notes/shipping.txt:1\nShipping takes five working days."))
        XCTAssertEqual(try knowledge.search("zebra", in: folder.path), "No passage in the knowledge folder matches 'zebra'.")

        // A changed file is read again; a removed one is forgotten.
        try "# Returns\n\nCustomers may return goods within 60 days now.\n".write(to: returns, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("notes/shipping.txt"))
        let again = try knowledge.search("return goods", in: folder.path)
        XCTAssertTrue(again.contains("within 60 days now"), again)
        XCTAssertFalse(again.contains("30 days"), again)
        XCTAssertEqual(try knowledge.search("shipping", in: folder.path), "No passage in the knowledge folder matches 'shipping'.")
    }

    func testStoppingTheTurnDuringAToolCallEndsItAsStopped() async throws {
        let server = try MockServer { request in
            var behavior = MockBehavior()
            behavior.toolCalls = [MockToolCall(id: "s", name: "slow_wait", arguments: "{}")]
            return request.bodyText.contains("\"role\":\"tool\"") ? MockBehavior(text: "never") : behavior
        }
        defer { server.stop() }
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("slow-\(UUID().uuidString).py")
        try """
            import json, sys, time
            for line in sys.stdin:
                m = json.loads(line)
                r = None
                if m.get("method") == "initialize": r = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "s", "version": "1"}}
                elif m.get("method") == "tools/list": r = {"tools": [{"name": "wait", "description": "", "inputSchema": {"type": "object"}}]}
                elif m.get("method") == "tools/call": time.sleep(30)
                if r is not None:
                    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": r}) + "\\n"); sys.stdout.flush()
            """.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("logs-\(UUID().uuidString)").path
        let toolBox = ToolBox(servers: ["slow": MCPServerSettings(command: "python3", args: [script.path])], logsDirectory: logs)
        let engine = ConversationEngine(toolBox: toolBox, toolSettings: ToolSettings(timeout: 60))
        var persona = Persona(id: "p", name: "P", systemPrompt: "s")
        persona.tools = ["slow"]
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "k", apiKeyEnv: "K",
                                        keyRequired: false)
        let turn = PlannedTurn(session: "s", persona: persona, endpoint: endpoint,
                               request: ChatRequest(model: "m", system: "s", messages: [ChatMessage(role: .user, content: "go")]))
        let events = Shared<[TurnEvent]>([])
        let running = Task { await engine.run(turn) { event in events.withLock { $0.append(event) } } }
        let deadline = Date().addingTimeInterval(20)
        while !events.value.contains(where: { if case .toolCall = $0.kind { true } else { false } }), Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        let stoppedAt = Date()
        running.cancel()
        await running.value
        XCTAssertLessThan(Date().timeIntervalSince(stoppedAt), 5, "the call does not hold the turn")
        guard case .failed(let error, let report)? = events.value.last?.kind else { return XCTFail("\(events.value.map(\.kind))") }
        XCTAssertEqual(error.kind, .cancelled)
        XCTAssertEqual(report.steps, 1)
        guard case .toolResult(let activity)? = events.value.dropLast().last?.kind else { return XCTFail("\(events.value.map(\.kind))") }
        XCTAssertEqual(activity.result?.isError, true)
        XCTAssertEqual(server.requests.count, 1, "no further step is sent")
        await toolBox.shutdown()
    }
}
