import Foundation

/// Every way a turn can fail, typed so that retry, failover and exit codes can reason about it.
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case auth
        case badRequest = "bad_request"
        case contextLength = "context_length"
        case notFound = "not_found"
        case rateLimit = "rate_limit"
        case overloaded
        case server
        case network
        case timeout
        case budget
        /// The cost ledger could not record the request; nothing more is sent.
        case ledger
        /// The response was not one a provider sends: a redirect, an event past the size limit.
        case badResponse = "bad_response"
        /// A tool server could not start, or the model asked for tools past `max_tool_steps`.
        case tools
        case cancelled

        public var isRetryable: Bool {
            switch self {
            case .rateLimit, .overloaded, .server, .network, .timeout: return true
            case .auth, .badRequest, .contextLength, .notFound, .budget, .ledger, .badResponse, .tools, .cancelled: return false
            }
        }
    }

    public var kind: Kind
    /// The HTTP status, when the failure came with one. Errors inside a 200 stream keep 200.
    public var status: Int?
    /// The provider's own words, or ours for transport failures; known secrets are hidden in it,
    /// and it is cut at `longestMessage` characters.
    public var message: String {
        didSet { if message != oldValue { message = Self.clean(message) } }
    }
    /// How long the provider asked us to wait, from `Retry-After`, `retry-after-ms` or a body hint.
    public var retryAfter: Double?

    public var retryable: Bool { kind.isRetryable }

    public init(kind: Kind, status: Int? = nil, message: String, retryAfter: Double? = nil) {
        self.kind = kind
        self.status = status
        self.message = Self.clean(message)
        self.retryAfter = retryAfter
    }

    /// A provider's error body may be megabytes, and may quote the key it was sent.
    public static let longestMessage = 2000

    static func clean(_ message: String) -> String {
        let redacted = Secrets.redact(message)
        guard redacted.count > longestMessage else { return redacted }
        return String(redacted.prefix(longestMessage)) + "… (\(redacted.count - longestMessage) more characters)"
    }

    public static let stoppedByUser = ProviderError(kind: .cancelled, message: "stopped by the user")

    public var description: String {
        var text = kind.rawValue
        if let status { text += " (HTTP \(status))" }
        return text + ": " + message
    }

    /// The kind an HTTP status stands for, refined by the provider's message.
    public static func kind(forStatus status: Int, message: String, providerType: String? = nil) -> Kind {
        let lowered = message.lowercased()
        if let providerType {
            switch providerType {
            case "overloaded_error": return .overloaded
            case "rate_limit_error": return .rateLimit
            case "authentication_error", "permission_error": return .auth
            case "not_found_error": return .notFound
            case "api_error": return .server
            default: break
            }
        }
        switch status {
        case 401, 403: return .auth
        case 404: return .notFound
        case 408: return .timeout
        case 413: return isContextLengthMessage(lowered) ? .contextLength : .badRequest
        case 429: return .rateLimit
        case 529: return .overloaded
        case 400, 409, 422:
            return isContextLengthMessage(lowered) ? .contextLength : .badRequest
        case 500...599: return .server
        default: return status >= 400 && status < 500 ? .badRequest : .server
        }
    }

    static func isContextLengthMessage(_ lowered: String) -> Bool {
        ["context length", "context_length", "context window", "maximum context", "prompt is too long",
         "too many tokens", "input is too long", "exceeds the maximum number of tokens",
         "token limit", "reduce the length"].contains { lowered.contains($0) }
    }
}
