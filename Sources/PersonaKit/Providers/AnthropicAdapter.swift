/// Anthropic Messages.
///
/// `message_start.message.usage` carries input and cache counts; `message_delta.usage` is
/// cumulative and may repeat them, so each is emitted as a usage event and merged, latest wins.
/// `ping` is ignored, `thinking_delta` is reasoning, and `event: error` is a failure.
public struct AnthropicAdapter: ProviderAdapter {
    public static let apiVersion = "2023-06-01"
    /// Anthropic requires `max_tokens`; this is used when neither persona nor catalog sets one.
    public static let defaultMaxTokens = 4096

    public init() {}

    public var framing: StreamFraming { .serverSentEvents }

    public func makeRequest(_ request: ChatRequest, endpoint: ProviderEndpoint) -> HTTPRequest {
        let (systemText, conversation) = request.systemAndConversation
        let marker = request.promptCache.map(Self.cacheControl)
        let messages = Self.wireMessages(conversation, cacheControl: request.promptCache?.throughLastMessage == true ? marker : nil)
        let system: JSON? = systemText.isEmpty ? nil
            : marker.map { .array([Self.block(.text(systemText), cacheControl: $0)]) } ?? .string(systemText)
        let body = JSON.compact([
            ("model", .string(request.model)),
            ("max_tokens", .int(request.maxTokens ?? Self.defaultMaxTokens)),
            ("system", system),
            ("messages", .array(messages)),
            ("stream", .bool(true)),
            ("temperature", request.temperature.map { .double($0) }),
        ] + Self.tools(request))
        var headers = HTTPHeaders([
            ("Content-Type", "application/json"),
            ("Accept", "text/event-stream"),
            ("anthropic-version", Self.apiVersion),
        ])
        if let key = endpoint.apiKey, !key.isEmpty { headers.add("x-api-key", key) }
        for field in endpoint.extraHeaders { headers.add(field.name, field.value) }
        return HTTPRequest(url: endpoint.url("/v1/messages"), headers: headers, body: body.serializedBytes)
    }

    /// The tools the model may call. A schema becomes one more tool, whose input is the answer:
    /// the model must call it, or, with other tools beside it, call some tool (and answer with it in the end).
    static func tools(_ request: ChatRequest) -> [(String, JSON?)] {
        var tools = request.tools.map { tool in
            JSON.object(["name": .string(tool.name), "description": .string(tool.description), "input_schema": tool.parameters])
        }
        var choice: JSON?
        if let format = request.responseFormat {
            tools.append(.object(["name": .string(format.name), "description": .string("Give the answer in this shape."),
                                  "input_schema": format.schema]))
            choice = request.tools.isEmpty ? .object(["type": .string("tool"), "name": .string(format.name)]) : .object(["type": .string("any")])
        }
        return [("tools", tools.isEmpty ? nil : .array(tools)), ("tool_choice", choice)]
    }

    /// A breakpoint: Anthropic caches the prompt up to and including the block that carries it,
    /// and a later request with the same prefix reads it at a tenth of the input price.
    static func cacheControl(_ plan: PromptCachePlan) -> JSON {
        plan.oneHour ? .object(["type": .string("ephemeral"), "ttl": .string("1h")]) : .object(["type": .string("ephemeral")])
    }

    /// The conversation as Messages: tool results go back in the user's turn, and a message of
    /// text alone is a string, unless it carries the cache breakpoint (`cacheControl`, on the
    /// last block of the last message).
    static func wireMessages(_ conversation: [ChatMessage], cacheControl: JSON?) -> [JSON] {
        let merged = ChatMessage.mergingSameRoleRuns(conversation.map { ChatMessage(role: $0.role == .tool ? .user : $0.role, parts: $0.parts) })
        return merged.enumerated().map { index, message in
            let marker = index == merged.count - 1 ? cacheControl : nil
            let content: JSON
            if marker == nil, message.parts.allSatisfy({ if case .text = $0 { true } else { false } }) {
                content = .string(message.text)
            } else {
                content = .array(message.parts.enumerated().map { position, part in
                    block(part, cacheControl: position == message.parts.count - 1 ? marker : nil)
                })
            }
            return JSON.object(["role": .string(message.role.rawValue), "content": content])
        }
    }

    static func block(_ part: ContentPart, cacheControl: JSON?) -> JSON {
        var fields: [(String, JSON?)]
        switch part {
        case .text(let text): fields = [("type", .string("text")), ("text", .string(text))]
        case .structured(let value): fields = [("type", .string("text")), ("text", .string(value.serialized))]
        case .toolCall(let call):
            fields = [("type", .string("tool_use")), ("id", .string(call.id)), ("name", .string(call.name)), ("input", call.arguments)]
        case .toolResult(let result):
            fields = [("type", .string("tool_result")), ("tool_use_id", .string(result.callID)), ("content", .string(result.content)),
                      ("is_error", result.isError ? .bool(true) : nil)]
        }
        return JSON.compact(fields + [("cache_control", cacheControl)])
    }

    public func decode(_ event: SSEEvent, into events: inout [StreamEvent]) {
        JSONTape.read(event, into: &events) { json, events in
            switch json["type"]?.string ?? event.name {
            case "message_start":
                if let usage = json["message"]?["usage"] { events.append(.usage(Self.usage(from: usage))) }
            case "content_block_start":
                guard let block = json["content_block"] else { return }
                switch block["type"]?.string {
                case "text": if let text = block["text"]?.string, !text.isEmpty { events.append(.delta(text)) }
                case "tool_use":
                    // The input streams as `input_json_delta`; one given whole at the start is kept.
                    let input = block["input"].map { $0.serialized == "{}" ? "" : $0.serialized } ?? ""
                    events.append(.toolCall(ToolCallDelta(index: json["index"]?.int ?? 0, id: block["id"]?.string,
                                                          name: block["name"]?.string, arguments: input)))
                default: break
                }
            case "content_block_delta":
                guard let delta = json["delta"] else { return }
                switch delta["type"]?.string {
                case "text_delta": if let text = delta["text"]?.string, !text.isEmpty { events.append(.delta(text)) }
                case "thinking_delta": if let text = delta["thinking"]?.string, !text.isEmpty { events.append(.reasoning(text)) }
                case "input_json_delta":
                    if let partial = delta["partial_json"]?.string, !partial.isEmpty {
                        events.append(.toolCall(ToolCallDelta(index: json["index"]?.int ?? 0, arguments: partial)))
                    }
                default: break
                }
            case "message_delta":
                if let reason = json["delta"]?["stop_reason"]?.string { events.append(.finish(FinishReason(provider: reason))) }
                if let usage = json["usage"] { events.append(.usage(Self.usage(from: usage))) }
            case "error":
                if let failure = ProviderErrorParser.fromErrorObject(json, status: nil) { events.append(.failure(failure)) }
            default:
                break
            }
        }
    }

    /// `cache_creation` splits the cache writes by how long they last; the 1-hour ones cost more.
    static func usage(from json: JSONElement) -> Usage {
        Usage(inputTokens: json["input_tokens"]?.int,
              cachedInputTokens: json["cache_read_input_tokens"]?.int,
              cacheWriteTokens: json["cache_creation_input_tokens"]?.int,
              cacheWrite1hTokens: json["cache_creation"]?["ephemeral_1h_input_tokens"]?.int,
              outputTokens: json["output_tokens"]?.int)
    }
}
