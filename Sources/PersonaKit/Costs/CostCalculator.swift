/// Turns a request's usage into picodollars by its provider's billing rules (DESIGN.md §5).
///
/// Prices are whole picodollars per token, so a cost is a sum of products of integers: exact,
/// with no rounding anywhere. Every product and sum is checked; nil means the usage lacks a
/// count the formula needs, holds a negative one, or is too large to be a real bill.
public enum CostCalculator {
    /// - OpenAI and every OpenAI-compatible provider: `(prompt − cached − written)·in + cached·cached_in
    ///   + written·write + completion·out`; reasoning is part of the completion.
    /// - Anthropic: `input·in + cache_read·cached_in + write_5m·write + write_1h·write_1h + output·out`;
    ///   its input count already excludes the cache.
    /// - Gemini: like OpenAI (the prompt count includes cached tokens); thoughts are output, and
    ///   `Usage.outputTokens` already includes them.
    /// - Ollama: like OpenAI, and its catalog prices are zero.
    public static func picos(_ usage: Usage, price: ModelPrice, type: ProviderType) -> Int64? {
        guard let tokens = BilledTokens(usage, type: type) else { return nil }
        let band = price.band(forPrompt: tokens.prompt)
        var total: Int64 = 0
        for (count, each) in [(tokens.input, band.input), (tokens.cached, band.resolvedCachedInput),
                              (tokens.written5m, band.resolvedCacheWrite), (tokens.written1h, band.resolvedCacheWrite1h),
                              (tokens.output, band.output)] {
            let (cost, overflow) = Int64(count).multipliedReportingOverflow(by: each)
            guard !overflow, let sum = Money.sum(total, cost) else { return nil }
            total = sum
        }
        return total
    }

    /// What caching saved: the cached tokens at the input price, less what they cost at the
    /// cached price. Cache writes, which cost more than input, are in the request's cost.
    public static func cacheSavings(_ usage: Usage, price: ModelPrice, type: ProviderType) -> Int64? {
        guard let tokens = BilledTokens(usage, type: type) else { return nil }
        let band = price.band(forPrompt: tokens.prompt)
        let (saved, overflow) = Int64(tokens.cached).multipliedReportingOverflow(by: band.input - band.resolvedCachedInput)
        return overflow ? nil : saved
    }

    /// The counts a bill is made of: tokens at the input, cached-input, cache-write (5-minute and
    /// 1-hour) and output prices, and the prompt's size, which picks the price band.
    struct BilledTokens {
        var input: Int
        var cached: Int
        var written5m: Int
        var written1h: Int
        var output: Int
        var prompt: Int

        init?(_ usage: Usage, type: ProviderType) {
            guard let input = usage.inputTokens, let output = usage.outputTokens else { return nil }
            let cached = usage.cachedInputTokens ?? 0
            let written = usage.cacheWriteTokens ?? 0
            let written1h = min(usage.cacheWrite1hTokens ?? 0, written)
            guard input >= 0, output >= 0, cached >= 0, written >= 0, written1h >= 0 else { return nil }
            (self.cached, self.written1h, written5m, self.output) = (cached, written1h, written - written1h, output)
            switch type {
            case .anthropic:
                // Anthropic's input count already excludes the cache.
                guard let prompt = Money.sum(Int64(input), Int64(cached)).flatMap({ Money.sum($0, Int64(written)) }),
                      let fits = Int(exactly: prompt) else { return nil }
                self.input = input
                self.prompt = fits
            case .openai, .gemini, .ollama:
                // Cached and cache-write tokens are parts of the prompt count here.
                guard cached <= input, written <= input - cached else { return nil }
                self.input = input - cached - written
                prompt = input
            }
        }
    }
}
