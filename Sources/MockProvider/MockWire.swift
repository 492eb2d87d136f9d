import Foundation

/// Writes each provider's real stream format, event by event.
struct MockWire {
    let format: MockWireFormat
    let model: String
    /// The tool an Anthropic answer is given through, when the request forced one.
    var answerTool: String? = nil

    var contentType: String {
        format == .ollama ? "application/x-ndjson" : "text/event-stream"
    }

    func opening(inputTokens: Int, behavior: MockBehavior) -> [String] {
        switch format {
        case .openai:
            return [sse(#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":\#(q(model)),"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#)]
        case .anthropic:
            return [
                sse(#"{"type":"message_start","message":{"id":"msg_mock","type":"message","role":"assistant","model":\#(q(model)),"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(inputTokens),"cache_creation_input_tokens":\#(behavior.cacheWriteTokens),"cache_read_input_tokens":\#(behavior.cachedInputTokens),"output_tokens":1}}}"#, event: "message_start"),
                answerTool.map { tool in
                    sse(#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_mock","name":\#(q(tool)),"input":{}}}"#, event: "content_block_start")
                } ?? sse(#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#, event: "content_block_start"),
                sse(#"{"type": "ping"}"#, event: "ping"),
            ]
        case .gemini, .ollama:
            return []
        }
    }

    func delta(_ text: String, index: Int, inputTokens: Int, behavior: MockBehavior) -> String {
        switch format {
        case .openai:
            let field = behavior.refusal ? #""content":null,"refusal""# : #""content""#
            return sse(#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":\#(q(model)),"choices":[{"index":0,"delta":{\#(field):\#(q(text))},"finish_reason":null}]}"#)
        case .anthropic:
            if answerTool != nil {
                return sse(#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":\#(q(text))}}"#, event: "content_block_delta")
            }
            return sse(#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(q(text))}}"#, event: "content_block_delta")
        case .gemini:
            return sse(#"{"candidates":[{"content":{"parts":[{"text":\#(q(text))}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":\#(inputTokens),"candidatesTokenCount":\#(index + 1),"totalTokenCount":\#(inputTokens &+ index &+ 1)},"modelVersion":\#(q(model))}"#, crlf: true)
        case .ollama:
            return #"{"model":\#(q(model)),"created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":\#(q(text))},"done":false}"# + "\n"
        }
    }

    func closing(inputTokens: Int, outputTokens: Int, behavior: MockBehavior) -> [String] {
        let usage = !behavior.omitUsage
        switch format {
        case .openai:
            var events = [sse(#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":\#(q(model)),"choices":[{"index":0,"delta":{},"finish_reason":\#(q(behavior.toolCalls.isEmpty ? "stop" : "tool_calls"))}]}"#)]
            if usage {
                events.append(sse(#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":\#(q(model)),"choices":[],"usage":{"prompt_tokens":\#(inputTokens),"completion_tokens":\#(outputTokens),"total_tokens":\#(inputTokens &+ outputTokens),"prompt_tokens_details":{"cached_tokens":\#(behavior.cachedInputTokens)},"completion_tokens_details":{"reasoning_tokens":\#(behavior.reasoningTokens)}}}"#))
            }
            events.append(sse("[DONE]"))
            return events
        case .anthropic:
            let usageJSON = usage ? #","usage":{"output_tokens":\#(outputTokens)}"# : ""
            return [
                sse(#"{"type":"content_block_stop","index":0}"#, event: "content_block_stop"),
                sse(#"{"type":"message_delta","delta":{"stop_reason":\#(q(behavior.refusal ? "refusal" : answerTool != nil || !behavior.toolCalls.isEmpty ? "tool_use" : "end_turn")),"stop_sequence":null}\#(usageJSON)}"#, event: "message_delta"),
                sse(#"{"type":"message_stop"}"#, event: "message_stop"),
            ]
        case .gemini:
            // Gemini reports thoughts apart from the answer's tokens.
            let answerTokens = outputTokens &- behavior.reasoningTokens
            let thoughts = behavior.reasoningTokens > 0 ? #","thoughtsTokenCount":\#(behavior.reasoningTokens)"# : ""
            let cached = behavior.cachedInputTokens > 0 ? #","cachedContentTokenCount":\#(behavior.cachedInputTokens)"# : ""
            let usageJSON = usage ? #","usageMetadata":{"promptTokenCount":\#(inputTokens),"candidatesTokenCount":\#(answerTokens),"totalTokenCount":\#(inputTokens &+ outputTokens)\#(thoughts)\#(cached)}"# : ""
            return [sse(#"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}]\#(usageJSON),"modelVersion":\#(q(model))}"#, crlf: true)]
        case .ollama:
            let cached = behavior.cachedInputTokens != 0 ? #","prompt_eval_cached_count":\#(behavior.cachedInputTokens)"# : ""
            let counts = usage ? #","prompt_eval_count":\#(inputTokens),"eval_count":\#(outputTokens)\#(cached)"# : ""
            return [#"{"model":\#(q(model)),"created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":1000000\#(counts)}"# + "\n"]
        }
    }

    /// The calls of `behavior.toolCalls`, after the text: OpenAI's partial arguments by index,
    /// Anthropic's tool_use blocks of input_json_delta partials, Gemini's functionCall parts all in
    /// one chunk, Ollama's message.tool_calls.
    func toolCalls(_ behavior: MockBehavior) -> [String] {
        let calls = behavior.toolCalls
        guard !calls.isEmpty else { return [] }
        func halves(_ text: String) -> [String] {
            let middle = text.index(text.startIndex, offsetBy: text.count / 2)
            return [String(text[..<middle]), String(text[middle...])]
        }
        switch format {
        case .openai:
            return calls.enumerated().flatMap { index, call in
                [sse(#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":\#(q(model)),"choices":[{"index":0,"delta":{"tool_calls":[{"index":\#(index),"id":\#(q(call.id)),"type":"function","function":{"name":\#(q(call.name)),"arguments":""}}]},"finish_reason":null}]}"#)]
                    + halves(call.arguments).map { piece in
                        sse(#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":\#(q(model)),"choices":[{"index":0,"delta":{"tool_calls":[{"index":\#(index),"function":{"arguments":\#(q(piece))}}]},"finish_reason":null}]}"#)
                    }
            }
        case .anthropic:
            return calls.enumerated().flatMap { position, call in
                let index = position + 1
                return [sse(#"{"type":"content_block_start","index":\#(index),"content_block":{"type":"tool_use","id":\#(q(call.id)),"name":\#(q(call.name)),"input":{}}}"#, event: "content_block_start")]
                    + halves(call.arguments).map { piece in
                        sse(#"{"type":"content_block_delta","index":\#(index),"delta":{"type":"input_json_delta","partial_json":\#(q(piece))}}"#, event: "content_block_delta")
                    }
                    + [sse(#"{"type":"content_block_stop","index":\#(index)}"#, event: "content_block_stop")]
            }
        case .gemini:
            let parts = calls.map { #"{"functionCall":{"name":\#(q($0.name)),"args":\#($0.arguments)}}"# }.joined(separator: ",")
            return [sse(#"{"candidates":[{"content":{"parts":[\#(parts)],"role":"model"},"index":0}],"modelVersion":\#(q(model))}"#, crlf: true)]
        case .ollama:
            let list = calls.map { #"{"function":{"name":\#(q($0.name)),"arguments":\#($0.arguments)}}"# }.joined(separator: ",")
            return [#"{"model":\#(q(model)),"created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"","tool_calls":[\#(list)]},"done":false}"# + "\n"]
        }
    }

    func streamError(message: String) -> String {
        switch format {
        case .openai:
            return sse(#"{"error":{"message":\#(q(message)),"type":"server_error","code":"server_error"}}"#)
        case .anthropic:
            return sse(#"{"type":"error","error":{"type":"overloaded_error","message":\#(q(message))}}"#, event: "error")
        case .gemini:
            return sse(#"{"error":{"code":503,"message":\#(q(message)),"status":"UNAVAILABLE"}}"#, crlf: true)
        case .ollama:
            return #"{"error":\#(q(message))}"# + "\n"
        }
    }

    func malformed() -> String {
        switch format {
        case .ollama: return "{\"model\":\"broken\",\"message\":{\"content\":\n"
        default: return sse("{\"choices\":[{\"delta\":{\"content\":")
        }
    }

    /// The error body each provider sends with a failing status.
    func errorBody(status: Int, message: String) -> String {
        switch format {
        case .openai:
            let type = status == 429 ? "rate_limit_exceeded" : status == 401 ? "invalid_request_error" : "server_error"
            return #"{"error":{"message":\#(q(message)),"type":\#(q(type)),"param":null,"code":\#(status)}}"#
        case .anthropic:
            let type: String
            switch status {
            case 401: type = "authentication_error"
            case 403: type = "permission_error"
            case 404: type = "not_found_error"
            case 429: type = "rate_limit_error"
            case 529: type = "overloaded_error"
            case 400: type = "invalid_request_error"
            default: type = "api_error"
            }
            return #"{"type":"error","error":{"type":\#(q(type)),"message":\#(q(message))}}"#
        case .gemini:
            let statusName: String
            switch status {
            case 400: statusName = "INVALID_ARGUMENT"
            case 401: statusName = "UNAUTHENTICATED"
            case 403: statusName = "PERMISSION_DENIED"
            case 404: statusName = "NOT_FOUND"
            case 429: statusName = "RESOURCE_EXHAUSTED"
            case 503: statusName = "UNAVAILABLE"
            default: statusName = "INTERNAL"
            }
            return #"{"error":{"code":\#(status),"message":\#(q(message)),"status":\#(q(statusName))}}"#
        case .ollama:
            return #"{"error":\#(q(message))}"#
        }
    }

    private func sse(_ data: String, event: String? = nil, crlf: Bool = false) -> String {
        let newline = crlf ? "\r\n" : "\n"
        var out = ""
        if let event { out += "event: \(event)" + newline }
        return out + "data: " + data + newline + newline
    }
}

/// A JSON string literal.
func q(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
