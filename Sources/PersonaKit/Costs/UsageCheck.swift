/// A turn's token counts after checking: the provider's where they were believable, estimates
/// elsewhere, and why any were refused.
public struct CheckedUsage: Sendable, Equatable {
    public var usage: Usage
    /// Whether the prompt's counts (input, cached, written) are estimates.
    public var inputEstimated: Bool
    public var outputEstimated: Bool
    /// Why the provider's figures were not believed; nil when they were, or when none came.
    public var note: String?
}

/// A provider's usage is evidence, not truth (DESIGN.md §5). A count that is negative, above
/// 2⁵³, inconsistent with the others, or more than the request could have produced is not kept
/// as fact: the turn is priced from estimates instead, marked `~`, and the reason recorded.
public enum UsageCheck {
    /// Counts above this lose precision in JSON and in any double; none is real.
    public static let countLimit = 1 << 53

    public static func check(_ reported: Usage, request: ChatRequest, answer: String, reasoning: String, price: ModelPrice?,
                             type: ProviderType) -> CheckedUsage {
        check(reported, bounds: Bounds(request, price: price, type: type), answer: answer, reasoning: reasoning, price: price, type: type)
    }

    /// What a request could have produced, kept apart from the request: a batch result is checked
    /// long after its request was built, by whichever process downloads it.
    public struct Bounds: Sendable, Equatable {
        /// The largest prompt the request could have been (`promptLimit`).
        public var prompt: Int
        /// The most output it allowed (`outputLimit`); nil when nothing bounds it.
        public var output: Int?
        /// The prompt's size estimated from its text, for when no count is believed.
        public var estimatedInput: Int

        public init(prompt: Int, output: Int?, estimatedInput: Int) {
            self.prompt = prompt
            self.output = output
            self.estimatedInput = estimatedInput
        }

        public init(_ request: ChatRequest, price: ModelPrice?, type: ProviderType) {
            self.init(prompt: UsageCheck.promptLimit(request, price: price), output: UsageCheck.outputLimit(request, price: price, type: type),
                      estimatedInput: TokenEstimator.estimate(request))
        }
    }

    public static func check(_ reported: Usage, bounds: Bounds, answer: String, reasoning: String, price: ModelPrice?,
                             type: ProviderType) -> CheckedUsage {
        var problems: [String] = []
        func plausible(_ name: String, _ value: Int?) -> Int? {
            guard let value else { return nil }
            if value < 0 {
                problems.append("\(name) \(value) is negative")
                return nil
            }
            if value > countLimit {
                problems.append("\(name) \(value) is above 2^53")
                return nil
            }
            return value
        }
        var usage = Usage(inputTokens: plausible("input_tokens", reported.inputTokens),
                          cachedInputTokens: plausible("cached_input_tokens", reported.cachedInputTokens),
                          cacheWriteTokens: plausible("cache_write_tokens", reported.cacheWriteTokens),
                          cacheWrite1hTokens: plausible("cache_write_1h_tokens", reported.cacheWrite1hTokens),
                          outputTokens: plausible("output_tokens", reported.outputTokens),
                          reasoningTokens: plausible("reasoning_tokens", reported.reasoningTokens))
        var promptDoubted = usage.inputTokens == nil && reported.inputTokens != nil
            || usage.cachedInputTokens == nil && reported.cachedInputTokens != nil
            || usage.cacheWriteTokens == nil && reported.cacheWriteTokens != nil

        if let written1h = usage.cacheWrite1hTokens, written1h > usage.cacheWriteTokens ?? 0 {
            problems.append("cache_write_1h_tokens \(written1h) exceed cache_write_tokens \(usage.cacheWriteTokens ?? 0)")
            usage.cacheWrite1hTokens = nil
            promptDoubted = true
        }
        if let thinking = usage.reasoningTokens, let output = usage.outputTokens, thinking > output {
            problems.append("reasoning_tokens \(thinking) exceed output_tokens \(output)")
            usage.reasoningTokens = nil
        }
        let cached = usage.cachedInputTokens ?? 0
        let written = usage.cacheWriteTokens ?? 0
        if type != .anthropic, let input = usage.inputTokens, cached + written > input {
            // Elsewhere the cache counts are parts of the prompt's.
            problems.append("cached and written tokens \(cached + written) exceed input_tokens \(input)")
            (usage.cachedInputTokens, usage.cacheWriteTokens, usage.cacheWrite1hTokens) = (nil, nil, nil)
            promptDoubted = true
        }
        if let input = usage.inputTokens {
            let prompt = type == .anthropic ? input + (usage.cachedInputTokens ?? 0) + (usage.cacheWriteTokens ?? 0) : input
            let limit = bounds.prompt
            if prompt > limit {
                problems.append("a prompt of \(prompt) tokens is more than this request could hold (at most \(limit))")
                usage = Usage(outputTokens: usage.outputTokens, reasoningTokens: usage.reasoningTokens)
                promptDoubted = true
            }
        }
        if let output = usage.outputTokens, let limit = bounds.output, output > limit {
            problems.append("output_tokens \(output) exceed the \(limit) the request allowed")
            (usage.outputTokens, usage.reasoningTokens) = (nil, nil)
        }

        var checked = estimated(usage, input: bounds.estimatedInput, answer: answer, reasoning: reasoning)
        checked.inputEstimated = checked.inputEstimated || promptDoubted
        if let price, (CostCalculator.picos(checked.usage, price: price, type: type) ?? Int64.max) > Money.requestCeiling {
            problems.append("the counts would cost more than \(Money.format(picos: Money.requestCeiling))")
            checked = estimated(Usage(), input: bounds.estimatedInput, answer: answer, reasoning: reasoning)
        }
        if !problems.isEmpty { checked.note = "usage not believed: " + problems.joined(separator: "; ") + "; priced from estimates" }
        return checked
    }

    /// Fills the counts that are missing with estimates from the text.
    static func estimated(_ usage: Usage, input: Int, answer: String, reasoning: String) -> CheckedUsage {
        var filled = usage
        if filled.inputTokens == nil { filled.inputTokens = input }
        if filled.outputTokens == nil { filled.outputTokens = TokenEstimator.estimate(answer) + TokenEstimator.estimate(reasoning) }
        return CheckedUsage(usage: filled, inputEstimated: usage.inputTokens == nil, outputEstimated: usage.outputTokens == nil, note: nil)
    }

    /// The largest prompt the request could have been: no tokenizer makes more tokens than bytes,
    /// plus room for message framing and a provider's own preamble (Anthropic's tool prompt), and
    /// never more than the model accepts.
    static func promptLimit(_ request: ChatRequest, price: ModelPrice?) -> Int {
        let bytes = request.system.utf8.count + request.messages.reduce(0) { $0 + $1.promptText.utf8.count + 8 }
            + request.definitionsText.utf8.count + 1024
        guard let room = price?.maxInput ?? price?.contextWindow else { return bytes }
        return min(bytes, room + room / 20 + 64)
    }

    /// The most output the request allowed, with a margin for providers that round; nil when
    /// nothing bounds it.
    static func outputLimit(_ request: ChatRequest, price: ModelPrice?, type: ProviderType) -> Int? {
        let cap = request.maxTokens ?? (type == .anthropic ? AnthropicAdapter.defaultMaxTokens : nil) ?? price?.maxOutput
        return cap.map { $0 + max(64, $0 / 20) }
    }
}
