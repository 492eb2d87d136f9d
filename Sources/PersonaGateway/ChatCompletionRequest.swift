import Foundation
import PersonaKit

/// A refusal of the gateway's, as an HTTP status and a message for the client. The message never
/// holds a provider's key: it passes `Secrets.redact` on its way out.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String
    /// OpenAI's error `type`: invalid_request_error, authentication_error, …
    public var type: String
    /// The request field at fault, when one is.
    public var field: String?

    public init(_ status: Int, _ message: String, type: String = "invalid_request_error", field: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.field = field
    }

    public var description: String { message }

    static func badField(_ field: String, _ problem: String) -> GatewayError {
        GatewayError(400, "\(field): \(problem)", field: field)
    }

    /// A turn or request that failed before it said anything, with the status that says why.
    init(_ error: ProviderError) {
        self.init(Self.status(of: error), error.description, type: error.kind == .budget ? "insufficient_quota" : "upstream_error")
    }

    static func status(of error: ProviderError) -> Int {
        switch error.kind {
        case .budget: return 402
        case .rateLimit: return 429
        case .badRequest, .contextLength: return 400
        case .notFound: return 404
        case .timeout: return 504
        case .ledger, .overloaded: return 503
        case .cancelled: return 499
        default: return 502
        }
    }

    /// A provider switched off at run time (`PATCH /providers/{id}`), with nowhere else to go.
    static func disabled(_ provider: String) -> GatewayError {
        GatewayError(503, "\(provider) is disabled (PATCH /api/v1/providers/\(provider) with {\"enabled\": true} enables it), "
            + "and the request has no fallback", type: "provider_disabled")
    }
}

/// A request body, read and checked: OpenAI's chat completion, or the seed API's `generate`
/// (`prompt`, `system_prompt`) and `chat` (`messages`). Only OpenAI's needs a model; the seed's
/// take one from `X-Model` and `X-Provider`, else `default_model`.
struct ChatCompletionRequest: Sendable {
    enum Shape: Sendable {
        case openAI, generate, chat
    }

    var model: String?
    /// The system and developer messages, joined.
    var system: String?
    var messages: [ChatMessage]
    var maxTokens: Int?
    var temperature: Double?
    var stream: Bool
    var includeUsage: Bool

    static func parse(_ bytes: [UInt8], shape: Shape = .openAI) throws(GatewayError) -> ChatCompletionRequest {
        let json: JSON
        do { json = try JSON.parse(bytes) } catch { throw GatewayError(400, "the body is not JSON: \(error)") }
        guard json.isObject else { throw GatewayError(400, "the body must be a JSON object") }
        var model: String?
        if let value = json["model"], !value.isNull {
            guard let text = value.string, !text.isEmpty else { throw .badField("model", "a string such as openai:gpt-4o-mini or persona/skeptic") }
            model = text
        } else if shape == .openAI {
            throw .badField("model", "required, a string such as openai:gpt-4o-mini or persona/skeptic")
        }
        var system: [String] = []
        var messages: [ChatMessage] = []
        if shape == .generate {
            guard let prompt = json["prompt"]?.string, !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw .badField("prompt", "required, a non-empty string")
            }
            if let value = json["system_prompt"], !value.isNull {
                guard let text = value.string else { throw .badField("system_prompt", "a string") }
                system.append(text)
            }
            messages = [ChatMessage(role: .user, content: prompt)]
        } else {
            guard let items = json["messages"]?.array, !items.isEmpty else { throw .badField("messages", "required, a non-empty list") }
            for (index, item) in items.enumerated() {
                let field = "messages[\(index)]"
                guard let roleText = item["role"]?.string else { throw .badField(field + ".role", "required") }
                let text = try content(item["content"], field: field + ".content")
                switch roleText {
                case "system", "developer": system.append(text)
                case "user": messages.append(ChatMessage(role: .user, content: text))
                case "assistant": messages.append(ChatMessage(role: .assistant, content: text))
                default: throw .badField(field + ".role", "\(roleText) is not supported here; use system, developer, user or assistant")
                }
            }
            guard messages.contains(where: { $0.role == .user }) else { throw .badField("messages", "needs a user message") }
        }
        var maxTokens: Int?
        for key in ["max_completion_tokens", "max_tokens"] {
            guard let value = json[key], !value.isNull else { continue }
            guard let count = value.int, count > 0 else { throw .badField(key, "a whole number above 0") }
            maxTokens = count
        }
        var temperature: Double?
        if let value = json["temperature"], !value.isNull {
            guard let number = value.double, (0...2).contains(number) else { throw .badField("temperature", "a number from 0 to 2") }
            temperature = number
        }
        if let value = json["stream"], !value.isNull, value.bool == nil { throw .badField("stream", "true or false") }
        if let n = json["n"]?.int, n != 1 { throw .badField("n", "only 1 answer per request") }
        return ChatCompletionRequest(model: model, system: system.isEmpty ? nil : system.joined(separator: "\n\n"), messages: messages,
                                     maxTokens: maxTokens, temperature: temperature, stream: json["stream"]?.bool ?? false,
                                     includeUsage: json["stream_options"]?["include_usage"]?.bool ?? false)
    }

    /// A message's text: a string, or a list of text parts.
    private static func content(_ value: JSON?, field: String) throws(GatewayError) -> String {
        guard let value, !value.isNull else { throw .badField(field, "required") }
        if let text = value.string { return text }
        guard let parts = value.array else { throw .badField(field, "a string or a list of parts") }
        var texts: [String] = []
        for (index, part) in parts.enumerated() {
            guard part["type"]?.string == "text", let text = part["text"]?.string else {
                throw .badField("\(field)[\(index)]", "only text parts ({\"type\": \"text\", \"text\": …}) are supported here")
            }
            texts.append(text)
        }
        return texts.joined(separator: "\n")
    }
}
