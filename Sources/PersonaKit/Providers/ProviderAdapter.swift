import Foundation

/// How a provider frames its stream on the wire.
public enum StreamFraming: Sendable {
    case serverSentEvents
    case newlineDelimitedJSON
}

/// The wire formats Persona speaks. Every OpenAI-compatible preset uses `.openai`.
public enum ProviderType: String, Sendable, CaseIterable {
    case openai
    case anthropic
    case gemini
    case ollama
}

/// How an OpenAI-compatible server departs from OpenAI's API; the preset says, the endpoint carries it.
public struct ServerQuirks: Sendable, Equatable {
    public var sendsStreamOptions: Bool
    public var tokenLimitField: String
    /// When false the system prompt opens the first user turn instead, as Gemma's template does.
    public var acceptsSystemRole: Bool
    /// Servers that generate one answer at a time get their requests queued here, where no
    /// timeout runs, rather than on their socket.
    public var maxConcurrentRequests: Int?
    /// When false the server knows only `response_format: {type: "json_object"}`, so a schema
    /// travels in the system prompt instead.
    public var acceptsJSONSchema: Bool
    /// Whether the server has OpenAI's files and batches API (`persona batch` then uses it, at
    /// batch prices); without it a job runs live.
    public var batchAPI: Bool

    public init(sendsStreamOptions: Bool = true, tokenLimitField: String = "max_tokens", acceptsSystemRole: Bool = true,
                maxConcurrentRequests: Int? = nil, acceptsJSONSchema: Bool = true, batchAPI: Bool = false) {
        self.batchAPI = batchAPI
        self.sendsStreamOptions = sendsStreamOptions
        self.tokenLimitField = tokenLimitField
        self.acceptsSystemRole = acceptsSystemRole
        self.maxConcurrentRequests = maxConcurrentRequests
        self.acceptsJSONSchema = acceptsJSONSchema
    }
}

/// Where and how to reach one configured provider.
public struct ProviderEndpoint: Sendable, Equatable {
    public var name: String
    public var type: ProviderType
    public var baseURL: String
    /// Never printed, logged or put in a URL; it travels in a header only.
    public var apiKey: String?
    /// The environment variable the key comes from, named in errors.
    public var apiKeyEnv: String
    public var keyRequired: Bool
    public var quirks: ServerQuirks
    /// Ollama's `keep_alive`.
    public var keepAlive: String?
    public var extraHeaders: HTTPHeaders

    public init(name: String, type: ProviderType, baseURL: String, apiKey: String? = nil, apiKeyEnv: String,
                keyRequired: Bool, quirks: ServerQuirks = ServerQuirks(), keepAlive: String? = nil,
                extraHeaders: HTTPHeaders = HTTPHeaders()) {
        self.name = name
        self.type = type
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.apiKeyEnv = apiKeyEnv
        self.keyRequired = keyRequired
        self.quirks = quirks
        self.keepAlive = keepAlive
        self.extraHeaders = extraHeaders
    }

    /// Adds what a request that is not a stream (the models list, the batch APIs) carries: the
    /// key in the provider's own header, Anthropic's API version, and the endpoint's headers.
    public func addAccessHeaders(to headers: inout HTTPHeaders) {
        switch type {
        case .anthropic:
            if let apiKey, !apiKey.isEmpty { headers.add("x-api-key", apiKey) }
            headers.add("anthropic-version", AnthropicAdapter.apiVersion)
        case .gemini:
            if let apiKey, !apiKey.isEmpty { headers.add("x-goog-api-key", apiKey) }
        case .openai, .ollama:
            if let apiKey, !apiKey.isEmpty { headers.add("Authorization", "Bearer \(apiKey)") }
        }
        for field in extraHeaders { headers.add(field.name, field.value) }
    }

    /// `baseURL` joined with `path`, with exactly one slash between them.
    public func url(_ path: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + (path.hasPrefix("/") ? path : "/" + path)
    }
}

/// Maps between Persona's requests and events and one provider's wire format.
///
/// Both functions are pure, so an adapter is tested without a network.
public protocol ProviderAdapter: Sendable {
    var framing: StreamFraming { get }
    func makeRequest(_ request: ChatRequest, endpoint: ProviderEndpoint) -> HTTPRequest
    /// Maps one decoded wire event (an SSE event, or one NDJSON line as its `data`), appending to
    /// `events`: a stream reader keeps one array for all its events instead of one per event.
    func decode(_ event: SSEEvent, into events: inout [StreamEvent])
}

extension ProviderAdapter {
    /// What one wire event says, in an array of its own.
    public func decode(_ event: SSEEvent) -> [StreamEvent] {
        var events: [StreamEvent] = []
        decode(event, into: &events)
        return events
    }
}

extension JSONTape {
    /// Lends `body` the root of `event`'s data; when the data is not JSON, appends the failure
    /// that says so to `events` instead.
    static func read(_ event: SSEEvent, into events: inout [StreamEvent], _ body: (JSONElement, inout [StreamEvent]) -> Void) {
        do {
            try read(event.data) { body($0, &events) }
        } catch {
            events.append(ProviderErrorParser.malformed(event, error))
        }
    }
}

public enum Adapters {
    public static func adapter(for type: ProviderType) -> any ProviderAdapter {
        switch type {
        case .openai: return OpenAIAdapter()
        case .anthropic: return AnthropicAdapter()
        case .gemini: return GeminiAdapter()
        case .ollama: return OllamaAdapter()
        }
    }
}

/// Turns an HTTP error response, or an error object inside a stream, into a `ProviderError`.
///
/// It reads every provider's error shape: OpenAI `{"error":{"message","type","code"}}`, Anthropic
/// `{"type":"error","error":{"type","message"}}`, Gemini `{"error":{"code","message","status","details"}}`
/// (sometimes wrapped in an array), and Ollama `{"error":"…"}`.
public enum ProviderErrorParser {
    public static func fromHTTP(status: Int, headers: HTTPHeaders, body: [UInt8]) -> ProviderError {
        if (300..<400).contains(status) {
            // Not followed: the request carries the key, and it must not leave for another host.
            let target = headers["location"].map { "to \($0)" } ?? "without a Location"
            return ProviderError(kind: .badResponse, status: status, message: "the server answered with a redirect (HTTP \(status)) "
                + "\(target), which Persona does not follow so that keys never leave for another host; check the base URL")
        }
        let json = try? JSON.parse(body)
        var error: ProviderError
        if let json, let parsed = fromErrorObject(json, status: status) {
            error = parsed
        } else {
            let text = String(decoding: body.prefix(500), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let message = text.isEmpty ? "HTTP \(status) with an empty body" : text
            error = ProviderError(kind: ProviderError.kind(forStatus: status, message: message), status: status,
                                  message: message)
        }
        error.status = status
        if let wait = headers.retryAfterSeconds() { error.retryAfter = wait }
        return error
    }

    /// Reads an error object; `status` is the HTTP status, or nil for an error inside a stream.
    public static func fromErrorObject<Value: JSONReadable>(_ json: Value, status: Int?) -> ProviderError? {
        if let first = json.array?.first { return fromErrorObject(first, status: status) }
        guard let errorValue = json["error"] else { return nil }
        var message: String
        var providerType: String?
        var embeddedStatus: Int?
        var retryAfter: Double?
        var authFailure = false
        if let text = errorValue.string {
            message = text
        } else {
            message = errorValue["message"]?.string ?? errorValue.serialized
            providerType = errorValue["type"]?.string
            embeddedStatus = errorValue["status_code"]?.int ?? errorValue["code"]?.int
            if let googleStatus = errorValue["status"]?.string {
                switch googleStatus {
                case "UNAUTHENTICATED", "PERMISSION_DENIED": authFailure = true
                case "RESOURCE_EXHAUSTED": embeddedStatus = embeddedStatus ?? 429
                case "UNAVAILABLE": embeddedStatus = embeddedStatus ?? 503
                case "DEADLINE_EXCEEDED": embeddedStatus = embeddedStatus ?? 504
                case "NOT_FOUND": embeddedStatus = embeddedStatus ?? 404
                default: break
                }
            }
            for detail in errorValue["details"]?.array ?? [] {
                if detail["reason"]?.string == "API_KEY_INVALID" { authFailure = true }
                if let delay = detail["retryDelay"]?.string, delay.hasSuffix("s"), let seconds = Double(delay.dropLast()) {
                    retryAfter = seconds
                }
            }
        }
        if message.isEmpty { message = "the provider reported an error without a message" }
        let effectiveStatus = status.flatMap { $0 >= 400 ? $0 : nil } ?? embeddedStatus
        var kind: ProviderError.Kind
        if authFailure {
            kind = .auth
        } else if let effectiveStatus {
            kind = ProviderError.kind(forStatus: effectiveStatus, message: message, providerType: providerType)
        } else if let providerType {
            kind = ProviderError.kind(forStatus: 500, message: message, providerType: providerType)
            if providerType == "invalid_request_error" {
                kind = ProviderError.isContextLengthMessage(message.lowercased()) ? .contextLength : .badRequest
            }
        } else {
            // An error in the middle of a stream with nothing to classify it: the server failed.
            kind = ProviderError.isContextLengthMessage(message.lowercased()) ? .contextLength : .server
        }
        return ProviderError(kind: kind, status: status, message: message, retryAfter: retryAfter)
    }

    /// The failure an `{"error":…}` payload inside a stream stands for, if it is one.
    static func streamFailure<Value: JSONReadable>(in json: Value) -> StreamEvent? {
        guard json["error"] != nil, let failure = fromErrorObject(json, status: nil) else { return nil }
        return .failure(failure)
    }

    /// The failure for a stream payload that is not valid JSON.
    static func malformed(_ event: SSEEvent, _ error: Error) -> StreamEvent {
        let preview = String(decoding: event.data.prefix(120), as: UTF8.self)
        return .failure(ProviderError(kind: .server, message: "malformed event from the provider (\(error)): \(preview)"))
    }
}

extension JSON {
    /// Builds a JSON object, dropping members whose value is nil.
    static func compact(_ members: [(String, JSON?)]) -> JSON {
        .object(JSONObject(members.compactMap { key, value in value.map { JSONObject.Member(key: key, value: $0) } }))
    }
}
