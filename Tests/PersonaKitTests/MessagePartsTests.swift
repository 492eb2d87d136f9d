import XCTest

@testable import PersonaKit

/// Messages made of parts, as each adapter writes them on the wire.
final class MessagePartsTests: XCTestCase {
    static let call = ToolCall(id: "call_1", name: "get_weather", arguments: .object(["city": .string("Paris")]))

    /// A user question, an assistant that calls a tool, the result, a structured value and a follow-up.
    static let request = ChatRequest(model: "m", system: "Be brief.", messages: [
        ChatMessage(role: .user, content: "Weather in Paris?"),
        ChatMessage(role: .assistant, parts: [.text("Let me look."), .toolCall(call)]),
        ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "call_1", content: "18 C, clear"))]),
        ChatMessage(role: .assistant, parts: [.structured(.object(["temperature": .int(18)]))]),
        ChatMessage(role: .system, content: "Answer in French."),
        ChatMessage(role: .user, content: "Thanks."),
    ])

    func body(_ type: ProviderType, _ request: ChatRequest = request, quirks: ServerQuirks = ServerQuirks()) throws -> JSON {
        let endpoint = ProviderEndpoint(name: type.rawValue, type: type, baseURL: "http://127.0.0.1:1", apiKeyEnv: "K", keyRequired: false,
                                        quirks: quirks)
        return try JSON.parse(Adapters.adapter(for: type).makeRequest(request, endpoint: endpoint).body)
    }

    func testOpenAIWritesToolCallsAsTextArgumentsAndResultsAsToolMessages() throws {
        let messages = try XCTUnwrap(body(.openai)["messages"]?.array)
        XCTAssertEqual(messages.map { $0["role"]?.string }, ["system", "user", "assistant", "tool", "assistant", "system", "user"])
        XCTAssertEqual(messages[0]["content"]?.string, "Be brief.")
        XCTAssertEqual(messages[2]["content"]?.string, "Let me look.")
        let call = try XCTUnwrap(messages[2]["tool_calls"]?[0])
        XCTAssertEqual(call["id"]?.string, "call_1")
        XCTAssertEqual(call["type"]?.string, "function")
        XCTAssertEqual(call["function"]?["name"]?.string, "get_weather")
        XCTAssertEqual(call["function"]?["arguments"]?.string, #"{"city":"Paris"}"#, "OpenAI takes the arguments as JSON text")
        XCTAssertEqual(messages[3]["tool_call_id"]?.string, "call_1")
        XCTAssertEqual(messages[3]["content"]?.string, "18 C, clear")
        XCTAssertEqual(messages[4]["content"]?.string, #"{"temperature":18}"#)
        XCTAssertEqual(messages[5]["content"]?.string, "Answer in French.")
    }

    func testAServerWithoutASystemRoleGetsEverySystemTextAtTheHeadOfTheFirstUserMessage() throws {
        let messages = try XCTUnwrap(body(.openai, quirks: ServerQuirks(acceptsSystemRole: false))["messages"]?.array)
        XCTAssertFalse(messages.contains { $0["role"]?.string == "system" })
        XCTAssertEqual(messages[0]["content"]?.string, "Be brief.\n\nAnswer in French.\n\nWeather in Paris?")
    }

    func testAnthropicPutsToolUseInTheAssistantTurnAndResultsInTheUsersTurn() throws {
        let json = try body(.anthropic)
        XCTAssertEqual(json["system"]?.string, "Be brief.\n\nAnswer in French.", "system messages join the system field")
        let messages = try XCTUnwrap(json["messages"]?.array)
        XCTAssertEqual(messages.map { $0["role"]?.string }, ["user", "assistant", "user", "assistant", "user"])
        let blocks = try XCTUnwrap(messages[1]["content"]?.array)
        XCTAssertEqual(blocks.map { $0["type"]?.string }, ["text", "tool_use"])
        XCTAssertEqual(blocks[1]["input"]?["city"]?.string, "Paris", "Anthropic takes the arguments as an object")
        let result = try XCTUnwrap(messages[2]["content"]?[0])
        XCTAssertEqual(result["type"]?.string, "tool_result")
        XCTAssertEqual(result["tool_use_id"]?.string, "call_1")
        XCTAssertNil(result["is_error"], "only a failed tool says so")
        XCTAssertEqual(messages[4]["content"]?.string, "Thanks.", "text alone stays a string")
    }

    func testAnthropicMergesResultsAndTextOfOneTurnAndMarksTheLastBlockForTheCache() throws {
        var request = Self.request
        request.messages = [
            ChatMessage(role: .assistant, parts: [.toolCall(Self.call), .toolCall(ToolCall(id: "call_2", name: "get_time", arguments: .object([:])))]),
            ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "call_1", content: "18 C"))]),
            ChatMessage(role: .tool, parts: [.toolResult(ToolResult(callID: "call_2", content: "no clock", isError: true))]),
            ChatMessage(role: .user, content: "And now?"),
        ]
        request.promptCache = PromptCachePlan(throughLastMessage: true)
        let messages = try XCTUnwrap(body(.anthropic, request)["messages"]?.array)
        XCTAssertEqual(messages.count, 2, "both results and the question are one user turn")
        let blocks = try XCTUnwrap(messages[1]["content"]?.array)
        XCTAssertEqual(blocks.map { $0["type"]?.string }, ["tool_result", "tool_result", "text"])
        XCTAssertEqual(blocks[1]["is_error"]?.bool, true)
        XCTAssertNotNil(blocks[2]["cache_control"])
        XCTAssertNil(blocks[0]["cache_control"])
    }

    func testGeminiWritesFunctionCallsAndNamedFunctionResponses() throws {
        let json = try body(.gemini)
        XCTAssertEqual(json["systemInstruction"]?["parts"]?[0]?["text"]?.string, "Be brief.\n\nAnswer in French.")
        let contents = try XCTUnwrap(json["contents"]?.array)
        XCTAssertEqual(contents.map { $0["role"]?.string }, ["user", "model", "user", "model", "user"])
        let call = try XCTUnwrap(contents[1]["parts"]?[1]?["functionCall"])
        XCTAssertEqual(call["name"]?.string, "get_weather")
        XCTAssertEqual(call["args"]?["city"]?.string, "Paris")
        let response = try XCTUnwrap(contents[2]["parts"]?[0]?["functionResponse"])
        XCTAssertEqual(response["name"]?.string, "get_weather", "named from the call it answers")
        XCTAssertEqual(response["response"]?["result"]?.string, "18 C, clear")
    }

    func testOllamaWritesArgumentsAsObjectsAndNamesEachResultsTool() throws {
        let messages = try XCTUnwrap(body(.ollama)["messages"]?.array)
        XCTAssertEqual(messages.map { $0["role"]?.string }, ["system", "user", "assistant", "tool", "assistant", "system", "user"])
        XCTAssertEqual(messages[2]["tool_calls"]?[0]?["function"]?["arguments"]?["city"]?.string, "Paris")
        XCTAssertEqual(messages[3]["tool_name"]?.string, "get_weather")
        XCTAssertEqual(messages[3]["content"]?.string, "18 C, clear")
    }

    func testMergingJoinsTextPartsAndKeepsOthersInOrder() {
        let merged = ChatMessage.mergingSameRoleRuns([
            ChatMessage(role: .user, content: "one"),
            ChatMessage(role: .user, parts: [.text("two"), .toolResult(ToolResult(callID: "c", content: "r"))]),
            ChatMessage(role: .user, content: "three"),
        ])
        XCTAssertEqual(merged, [ChatMessage(role: .user, parts: [.text("one\n\ntwo"), .toolResult(ToolResult(callID: "c", content: "r")),
                                                                 .text("three")])])
    }

    func testEstimatesCountToolCallsAndResults() {
        let plain = TokenEstimator.estimate(ChatRequest(model: "m", system: "", messages: [ChatMessage(role: .user, content: "Hi")]))
        XCTAssertGreaterThan(TokenEstimator.estimate(Self.request), plain + 10)
        XCTAssertTrue(Self.request.messages[1].promptText.contains(#"get_weather {"city":"Paris"}"#))
    }
}
