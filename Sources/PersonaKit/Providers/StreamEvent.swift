/// Token counts reported by a provider. Every field is optional because providers report them
/// piecemeal: Anthropic sends input in `message_start` and output in `message_delta`, Gemini repeats
/// a growing `usageMetadata`. `merged(with:)` applies the rule all of them share: latest value wins.
///
/// `outputTokens` is always the billed output, including any reasoning; `reasoningTokens` is the
/// part of it spent thinking. Gemini reports thoughts apart, so its adapter adds them in.
/// `cacheWrite1hTokens` is the part of `cacheWriteTokens` written for an hour (Anthropic).
///
/// These are the provider's claims, evidence to check (`UsageCheck`) before they are priced.
public struct Usage: Sendable, Equatable {
    public var inputTokens: Int?
    public var cachedInputTokens: Int?
    public var cacheWriteTokens: Int?
    public var cacheWrite1hTokens: Int?
    public var outputTokens: Int?
    public var reasoningTokens: Int?

    public init(inputTokens: Int? = nil, cachedInputTokens: Int? = nil, cacheWriteTokens: Int? = nil, cacheWrite1hTokens: Int? = nil,
                outputTokens: Int? = nil, reasoningTokens: Int? = nil) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.cacheWrite1hTokens = cacheWrite1hTokens
        self.outputTokens = outputTokens
        self.reasoningTokens = reasoningTokens
    }

    public func merged(with newer: Usage) -> Usage {
        Usage(inputTokens: newer.inputTokens ?? inputTokens,
              cachedInputTokens: newer.cachedInputTokens ?? cachedInputTokens,
              cacheWriteTokens: newer.cacheWriteTokens ?? cacheWriteTokens,
              cacheWrite1hTokens: newer.cacheWrite1hTokens ?? cacheWrite1hTokens,
              outputTokens: newer.outputTokens ?? outputTokens,
              reasoningTokens: newer.reasoningTokens ?? reasoningTokens)
    }

    public var isEmpty: Bool {
        inputTokens == nil && cachedInputTokens == nil && cacheWriteTokens == nil && cacheWrite1hTokens == nil
            && outputTokens == nil && reasoningTokens == nil
    }

    /// The sum of two counts as a provider reports them; saturates rather than traps, and the
    /// usage check then refuses the result as impossible.
    public static func adding(_ a: Int?, _ b: Int?) -> Int? {
        guard a != nil || b != nil else { return nil }
        let (sum, overflow) = (a ?? 0).addingReportingOverflow(b ?? 0)
        return overflow ? ((a ?? 0) < 0 ? Int.min : Int.max) : sum
    }
}

/// Why a model stopped, normalised across providers; the provider's own word is kept in `raw`.
public struct FinishReason: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case stop
        case length
        case toolCalls = "tool_calls"
        case contentFilter = "content_filter"
        /// The model declined to answer (OpenAI's `delta.refusal`, Anthropic's `stop_reason: refusal`).
        case refusal
        case other
    }

    public var kind: Kind
    public var raw: String

    public init(kind: Kind, raw: String) {
        self.kind = kind
        self.raw = raw
    }

    /// Maps each provider's vocabulary: OpenAI `stop`/`length`, Anthropic `end_turn`/`max_tokens`,
    /// Gemini `STOP`/`MAX_TOKENS`/`SAFETY`, Ollama `stop`/`length`.
    public init(provider raw: String) {
        self.raw = raw
        switch raw.lowercased() {
        case "stop", "end_turn", "stop_sequence", "eos", "finish_reason_unspecified": kind = .stop
        case "length", "max_tokens", "model_context_window_exceeded": kind = .length
        case "tool_calls", "tool_use", "function_call", "pause_turn": kind = .toolCalls
        case "refusal": kind = .refusal
        case "content_filter", "safety", "recitation", "blocklist", "prohibited_content", "spii",
             "image_safety":
            kind = .contentFilter
        default: kind = .other
        }
    }

    public var description: String { kind == .other ? raw : kind.rawValue }
}

/// What an adapter makes of one decoded wire event.
public enum StreamEvent: Sendable, Equatable {
    /// Answer text, to be shown and kept.
    case delta(String)
    /// Thinking text; it is billed as output but is not part of the answer.
    case reasoning(String)
    /// The model's refusal, kept apart from the answer.
    case refusal(String)
    /// A piece of a tool call: its start (id and name) or more of its arguments' JSON text.
    case toolCall(ToolCallDelta)
    case usage(Usage)
    case finish(FinishReason)
    case failure(ProviderError)
}

/// A piece of a streamed tool call. Pieces of one call share its `index`; the first names it.
/// A call that arrives whole (Gemini, Ollama) has no index.
public struct ToolCallDelta: Sendable, Equatable {
    public var index: Int?
    public var id: String?
    public var name: String?
    /// More of the arguments' JSON text.
    public var arguments: String

    public init(index: Int?, id: String? = nil, name: String? = nil, arguments: String) {
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}
