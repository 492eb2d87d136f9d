/// Google Gemini `streamGenerateContent?alt=sse`.
///
/// The key travels in `x-goog-api-key`, never in the URL. `usageMetadata` repeats on chunks and
/// the last one wins; thoughts are billed as output, so they are added to `outputTokens`.
public struct GeminiAdapter: ProviderAdapter {
    public init() {}

    public var framing: StreamFraming { .serverSentEvents }

    public func makeRequest(_ request: ChatRequest, endpoint: ProviderEndpoint) -> HTTPRequest {
        let contents = ChatMessage.mergingSameRoleRuns(request.messages).map { message in
            JSON.object([
                "role": .string(message.role == .assistant ? "model" : "user"),
                "parts": .array([.object(["text": .string(message.content)])]),
            ])
        }
        let generationConfig = JSON.compact([
            ("maxOutputTokens", request.maxTokens.map { .int($0) }),
            ("temperature", request.temperature.map { .double($0) }),
        ])
        let body = JSON.compact([
            ("systemInstruction", request.system.isEmpty
                ? nil : .object(["parts": .array([.object(["text": .string(request.system)])])])),
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

    public func decode(_ event: SSEEvent, into events: inout [StreamEvent]) {
        JSONTape.read(event, into: &events) { json, events in
            if let failure = ProviderErrorParser.streamFailure(in: json) { return events.append(failure) }
            if let candidate = json["candidates"]?[0] {
                for part in candidate["content"]?["parts"]?.array ?? [] {
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
