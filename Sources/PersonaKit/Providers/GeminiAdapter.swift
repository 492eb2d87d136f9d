/// Google Gemini `streamGenerateContent?alt=sse`.
///
/// The key travels in `x-goog-api-key`, never in the URL. `usageMetadata` repeats on chunks and
/// the last one wins; thoughts are billed as output, so they are added to `outputTokens`.
public struct GeminiAdapter: ProviderAdapter {
    public init() {}

    public var framing: StreamFraming { .serverSentEvents }

    public func makeRequest(_ request: ChatRequest, endpoint: ProviderEndpoint) -> HTTPRequest {
        let (system, conversation) = request.systemAndConversation
        let contents = Self.wireContents(conversation)
        let generationConfig = JSON.compact([
            ("maxOutputTokens", request.maxTokens.map { .int($0) }),
            ("temperature", request.temperature.map { .double($0) }),
            ("responseMimeType", request.responseFormat.map { _ in .string("application/json") }),
            ("responseJsonSchema", request.responseFormat?.schema),
        ])
        let tools: JSON? = request.tools.isEmpty ? nil : .array([.object(["functionDeclarations": .array(request.tools.map { tool in
            .object(["name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters])
        })])])
        let body = JSON.compact([
            ("tools", tools),
            ("systemInstruction", system.isEmpty ? nil : .object(["parts": .array([.object(["text": .string(system)])])])),
            ("contents", .array(contents)),
            ("generationConfig", generationConfig.object?.members.isEmpty == false ? generationConfig : nil),
        ])
        var model = request.model
        if model.hasPrefix("models/") { model.removeFirst("models/".count) }
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Accept", "text/event-stream")])
        if let key = endpoint.apiKey, !key.isEmpty { headers.add("x-goog-api-key", key) }
        for field in endpoint.extraHeaders { headers.add(field.name, field.value) }
        return HTTPRequest(url: endpoint.url("/v1beta/models/\(model):streamGenerateContent?alt=sse"),
                           headers: headers, body: body.serializedBytes)
    }

    /// The conversation as Gemini's `contents`: the assistant is the `model`, tool results go back
    /// as the user's `functionResponse` parts (naming the function), calls as `functionCall` parts.
    static func wireContents(_ conversation: [ChatMessage]) -> [JSON] {
        let roles = conversation.map { ChatMessage(role: $0.role == .tool ? .user : $0.role, parts: $0.parts) }
        return ChatMessage.mergingSameRoleRuns(roles).map { message in
            let parts = message.parts.map { part -> JSON in
                switch part {
                case .text(let text): return .object(["text": .string(text)])
                case .structured(let value): return .object(["text": .string(value.serialized)])
                case .toolCall(let call):
                    return .object(["functionCall": .object(["id": .string(call.id), "name": .string(call.name), "args": call.arguments])])
                case .toolResult(let result):
                    let name = ChatMessage.toolName(for: result, in: conversation) ?? result.callID
                    let response: JSON = .object([result.isError ? "error" : "result": .string(result.content)])
                    return .object(["functionResponse": .object(["id": .string(result.callID), "name": .string(name), "response": response])])
                }
            }
            return JSON.object(["role": .string(message.role == .assistant ? "model" : "user"), "parts": .array(parts)])
        }
    }

    public func decode(_ event: SSEEvent, into events: inout [StreamEvent]) {
        JSONTape.read(event, into: &events) { json, events in
            if let failure = ProviderErrorParser.streamFailure(in: json) { return events.append(failure) }
            if let candidate = json["candidates"]?[0] {
                for part in candidate["content"]?["parts"]?.array ?? [] {
                    if let call = part["functionCall"] {
                        events.append(.toolCall(ToolCallDelta(index: nil, id: call["id"]?.string, name: call["name"]?.string,
                                                              arguments: call["args"]?.serialized ?? "")))
                        continue
                    }
                    guard let text = part["text"]?.string, !text.isEmpty else { continue }
                    events.append(part["thought"]?.bool == true ? .reasoning(text) : .delta(text))
                }
                if let reason = candidate["finishReason"]?.string { events.append(.finish(FinishReason(provider: reason))) }
            } else if let blocked = json["promptFeedback"]?["blockReason"]?.string {
                events.append(.finish(FinishReason(kind: .contentFilter, raw: blocked)))
            }
            if let usage = json["usageMetadata"], usage.isObject {
                events.append(.usage(Self.usage(from: usage)))
            }
        }
    }

    static func usage(from json: JSONElement) -> Usage {
        let thoughts = json["thoughtsTokenCount"]?.int
        return Usage(inputTokens: json["promptTokenCount"]?.int,
                     cachedInputTokens: json["cachedContentTokenCount"]?.int,
                     outputTokens: Usage.adding(json["candidatesTokenCount"]?.int, thoughts),
                     reasoningTokens: thoughts)
    }
}
