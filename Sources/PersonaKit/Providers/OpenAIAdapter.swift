/// OpenAI Chat Completions, spoken by OpenAI and every OpenAI-compatible preset.
///
/// Usage comes in a last chunk with empty `choices` when `stream_options.include_usage` is set;
/// Groq also reports it in `x_groq.usage`. Errors arrive as `event: error` or as `{"error":…}` data.
public struct OpenAIAdapter: ProviderAdapter {
    public init() {}

    public var framing: StreamFraming { .serverSentEvents }

    public func makeRequest(_ original: ChatRequest, endpoint: ProviderEndpoint) -> HTTPRequest {
        var request = original
        let reasoningModel = Self.isReasoningModel(request.model) && endpoint.type == .openai && endpoint.name == "openai"
        var responseFormat: JSON?
        if let format = request.responseFormat {
            if endpoint.quirks.acceptsJSONSchema {
                responseFormat = .object(["type": .string("json_schema"), "json_schema": .object([
                    "name": .string(format.name), "schema": format.strict ? Self.strict(format.schema) : format.schema,
                    "strict": .bool(format.strict)])])
            } else {
                responseFormat = .object(["type": .string("json_object")])
                request.system = [request.system, Self.schemaInstruction(format)].filter { !$0.isEmpty }.joined(separator: "\n\n")
            }
        }
        let body = JSON.compact([
            ("model", .string(request.model)),
            ("messages", .array(Self.wireMessages(request, systemRole: endpoint.quirks.acceptsSystemRole))),
            ("stream", .bool(true)),
            ("stream_options", endpoint.quirks.sendsStreamOptions ? .object(["include_usage": .bool(true)]) : nil),
            (endpoint.quirks.tokenLimitField, request.maxTokens.map { .int($0) }),
            // OpenAI's reasoning models accept only the default temperature.
            ("temperature", reasoningModel ? nil : request.temperature.map { .double($0) }),
            ("response_format", responseFormat),
            ("tools", request.tools.isEmpty ? nil : .array(request.tools.map { tool in
                .object(["type": .string("function"), "function": .object([
                    "name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters])])
            })),
        ])
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Accept", "text/event-stream")])
        if let key = endpoint.apiKey, !key.isEmpty { headers.add("Authorization", "Bearer \(key)") }
        for field in endpoint.extraHeaders { headers.add(field.name, field.value) }
        return HTTPRequest(url: endpoint.url("/chat/completions"), headers: headers, body: body.serializedBytes)
    }

    /// The conversation in Chat Completions' shape: text as a string, tool calls with their
    /// arguments as JSON text, and one `tool` message per result.
    static func wireMessages(_ request: ChatRequest, systemRole: Bool) -> [JSON] {
        request.messagesPlacingSystem(systemRole: systemRole).flatMap { message -> [JSON] in
            switch message.role {
            case .tool:
                return message.toolResults.map { result in
                    .object(["role": .string("tool"), "tool_call_id": .string(result.callID), "content": .string(result.content)])
                }
            case .assistant where !message.toolCalls.isEmpty:
                let text = message.text
                let calls = message.toolCalls.map { call in
                    JSON.object(["id": .string(call.id), "type": .string("function"),
                                 "function": .object(["name": .string(call.name), "arguments": .string(call.arguments.serialized)])])
                }
                return [.object(["role": .string("assistant"), "content": text.isEmpty ? .null : .string(text), "tool_calls": .array(calls)])]
            case .system, .user, .assistant:
                return [.object(["role": .string(message.role.rawValue), "content": .string(message.text)])]
            }
        }
    }

    /// A schema as strict mode takes it: every property required, no others allowed, and no
    /// length limits, which strict mode refuses (the persona's own schema still checks them).
    static func strict(_ schema: JSON) -> JSON {
        switch schema {
        case .array(let items):
            return .array(items.map(strict))
        case .object(var object):
            for key in ["minLength", "maxLength"] { object[key] = nil }
            let isObjectSchema = object["properties"] != nil || object["type"] == .string("object")
                || object["type"]?.array?.contains(.string("object")) == true
            for key in ["properties", "items", "anyOf"] {
                guard let value = object[key] else { continue }
                if key == "properties", let properties = value.object {
                    object[key] = .object(JSONObject(properties.members.map { .init(key: $0.key, value: strict($0.value)) }))
                } else {
                    object[key] = strict(value)
                }
            }
            if isObjectSchema {
                object["required"] = .array((object["properties"]?.object?.keys ?? []).map { .string($0) })
                object["additionalProperties"] = .bool(false)
            }
            return .object(object)
        default:
            return schema
        }
    }

    /// For a server in JSON mode, which must be told the shape in words.
    static func schemaInstruction(_ format: ResponseFormat) -> String {
        "Answer with one JSON object and nothing else. It must match this JSON Schema:\n" + format.schema.serialized
    }

    static func isReasoningModel(_ model: String) -> Bool {
        let lowered = model.lowercased()
        return lowered.hasPrefix("o1") || lowered.hasPrefix("o3") || lowered.hasPrefix("o4") || lowered.hasPrefix("gpt-5")
    }

    public func decode(_ event: SSEEvent, into events: inout [StreamEvent]) {
        if event.data.elementsEqual("[DONE]".utf8) { return }
        JSONTape.read(event, into: &events) { json, events in
            // OpenRouter's error chunk may carry the usage of the failed generation too.
            let failure = ProviderErrorParser.streamFailure(in: json)
            if let failure { events.append(failure) }
            for choice in failure == nil ? json["choices"]?.array ?? [] : [] {
                // With `n > 1` only the first choice is the persona's answer.
                if let index = choice["index"]?.int, index != 0 { continue }
                if let delta = choice["delta"] {
                    if let reasoning = delta["reasoning_content"]?.string ?? delta["reasoning"]?.string, !reasoning.isEmpty {
                        events.append(.reasoning(reasoning))
                    }
                    if let text = delta["content"]?.string, !text.isEmpty { events.append(.delta(text)) }
                    if let refusal = delta["refusal"]?.string, !refusal.isEmpty { events.append(.refusal(refusal)) }
                    for call in delta["tool_calls"]?.array ?? [] {
                        let function = call["function"]
                        events.append(.toolCall(ToolCallDelta(index: call["index"]?.int ?? 0, id: call["id"]?.string,
                                                              name: function?["name"]?.string,
                                                              arguments: function?["arguments"]?.string ?? "")))
                    }
                }
                if let reason = choice["finish_reason"]?.string { events.append(.finish(FinishReason(provider: reason))) }
            }
            if let usage = json["usage"], usage.isObject {
                events.append(.usage(Self.usage(from: usage)))
            } else if let usage = json["x_groq"]?["usage"], usage.isObject {
                events.append(.usage(Self.usage(from: usage)))
            }
        }
    }

    /// DeepSeek reports its cache hits as `prompt_cache_hit_tokens`.
    static func usage(from json: JSONElement) -> Usage {
        Usage(inputTokens: json["prompt_tokens"]?.int,
              cachedInputTokens: json["prompt_tokens_details"]?["cached_tokens"]?.int ?? json["prompt_cache_hit_tokens"]?.int,
              cacheWriteTokens: json["prompt_tokens_details"]?["cache_write_tokens"]?.int,
              outputTokens: json["completion_tokens"]?.int,
              reasoningTokens: json["completion_tokens_details"]?["reasoning_tokens"]?.int)
    }
}
