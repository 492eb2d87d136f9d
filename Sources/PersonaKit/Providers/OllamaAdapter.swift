/// Ollama `/api/chat`, newline-delimited JSON.
///
/// The final object (`done: true`) carries `done_reason`, `prompt_eval_count` and `eval_count`.
/// A `{"error":…}` line is a failure. `/api/generate`'s `response` field is read too, so a server
/// behind a proxy that rewrites one into the other still works.
public struct OllamaAdapter: ProviderAdapter {
    public init() {}

    public var framing: StreamFraming { .newlineDelimitedJSON }

    public func makeRequest(_ request: ChatRequest, endpoint: ProviderEndpoint) -> HTTPRequest {
        let options = JSON.compact([
            ("temperature", request.temperature.map { .double($0) }),
            ("num_predict", request.maxTokens.map { .int($0) }),
        ])
        let body = JSON.compact([
            ("model", .string(request.model)),
            ("messages", .array(Self.wireMessages(request))),
            ("stream", .bool(true)),
            ("format", request.responseFormat?.schema),
            ("tools", request.tools.isEmpty ? nil : .array(request.tools.map { tool in
                .object(["type": .string("function"), "function": .object([
                    "name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters])])
            })),
            ("options", options.object?.members.isEmpty == false ? options : nil),
            ("keep_alive", endpoint.keepAlive.map { .string($0) }),
        ])
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Accept", "application/x-ndjson")])
        // Ollama itself has no auth; a key is sent only for a proxy in front of it that asks for one.
        if let key = endpoint.apiKey, !key.isEmpty { headers.add("Authorization", "Bearer \(key)") }
        for field in endpoint.extraHeaders { headers.add(field.name, field.value) }
        return HTTPRequest(url: endpoint.url("/api/chat"), headers: headers, body: body.serializedBytes)
    }

    /// The conversation in `/api/chat`'s shape: tool calls with their arguments as objects, and
    /// one `tool` message per result, naming its tool.
    static func wireMessages(_ request: ChatRequest) -> [JSON] {
        request.messagesPlacingSystem(systemRole: true).flatMap { message -> [JSON] in
            switch message.role {
            case .tool:
                return message.toolResults.map { result in
                    JSON.compact([("role", .string("tool")), ("content", .string(result.content)),
                                  ("tool_name", ChatMessage.toolName(for: result, in: request.messages).map { .string($0) })])
                }
            case .assistant where !message.toolCalls.isEmpty:
                let calls = message.toolCalls.map { call in
                    JSON.object(["function": .object(["name": .string(call.name), "arguments": call.arguments])])
                }
                return [.object(["role": .string("assistant"), "content": .string(message.text), "tool_calls": .array(calls)])]
            case .system, .user, .assistant:
                return [.object(["role": .string(message.role.rawValue), "content": .string(message.text)])]
            }
        }
    }

    public func decode(_ event: SSEEvent, into events: inout [StreamEvent]) {
        JSONTape.read(event, into: &events) { json, events in
            if let failure = ProviderErrorParser.streamFailure(in: json) { return events.append(failure) }
            let message = json["message"]
            if let thinking = message?["thinking"]?.string ?? json["thinking"]?.string, !thinking.isEmpty {
                events.append(.reasoning(thinking))
            }
            if let text = message?["content"]?.string ?? json["response"]?.string, !text.isEmpty {
                events.append(.delta(text))
            }
            for call in message?["tool_calls"]?.array ?? [] {
                let function = call["function"]
                events.append(.toolCall(ToolCallDelta(index: nil, id: call["id"]?.string, name: function?["name"]?.string,
                                                      arguments: function?["arguments"]?.serialized ?? "")))
            }
            if json["done"]?.bool == true {
                events.append(.finish(FinishReason(provider: json["done_reason"]?.string ?? "stop")))
                let usage = Usage(inputTokens: json["prompt_eval_count"]?.int,
                                  cachedInputTokens: json["prompt_eval_cached_count"]?.int,
                                  outputTokens: json["eval_count"]?.int)
                if !usage.isEmpty { events.append(.usage(usage)) }
            }
        }
    }
}
