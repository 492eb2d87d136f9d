import Foundation

/// Turns a request's usage into dollars by its provider's billing rules (DESIGN.md §5).
///
/// The exact cost is a `Decimal`; it is rounded once, half up, to whole micro-dollars, and that
/// rounded figure is what the ledger stores and every screen and report shows.
public enum CostCalculator {
    static let million = Decimal(1_000_000)

    /// The exact cost of `usage`, or nil when the usage lacks a count the formula needs.
    ///
    /// - OpenAI and every OpenAI-compatible provider: `(prompt − cached)·in + cached·cached_in +
    ///   completion·out`; reasoning is part of the completion.
    /// - Anthropic: `input·in + cache_read·cached_in + cache_write·write + output·out`; its input
    ///   count already excludes the cache.
    /// - Gemini: like OpenAI (the prompt count includes cached tokens); thoughts are output, and
    ///   `Usage.outputTokens` already includes them.
    /// - Ollama: like OpenAI, and its catalog prices are zero.
    public static func exactCost(_ usage: Usage, price: ModelPrice, type: ProviderType) -> Decimal? {
        guard let tokens = BilledTokens(usage, type: type) else { return nil }
        let band = price.band(forPrompt: tokens.prompt)
        return (Decimal(tokens.input) * band.input + Decimal(tokens.cached) * (band.cachedInput ?? band.input)
            + Decimal(tokens.written) * (band.cacheWrite ?? band.input) + Decimal(tokens.output) * band.output) / million
    }

    /// The counts a bill is made of: tokens at the input, cached-input, cache-write and output
    /// prices, and the prompt's size, which picks the price band.
    struct BilledTokens {
        var input: Int
        var cached: Int
        var written: Int
        var output: Int
        var prompt: Int

        init?(_ usage: Usage, type: ProviderType) {
            guard let input = usage.inputTokens, let output = usage.outputTokens else { return nil }
            cached = usage.cachedInputTokens ?? 0
            written = usage.cacheWriteTokens ?? 0
            self.output = output
            switch type {
            case .anthropic:
                // Anthropic's input count already excludes the cache.
                self.input = input
                prompt = input + cached + written
            case .openai, .gemini, .ollama:
                // Cached and cache-write tokens are parts of the prompt count here.
                self.input = max(0, input - cached - written)
                prompt = input
            }
        }
    }

    /// The cost in whole micro-dollars, rounded half up.
    public static func micros(_ usage: Usage, price: ModelPrice, type: ProviderType) -> Int64? {
        if let micros = integerMicros(usage, price: price, type: type) { return micros }
        return exactCost(usage, price: price, type: type).map(Money.micros)
    }

    /// `exactCost` rounded to micro-dollars, in integers: the same figure, when the prices are
    /// exact in `TokenPrices.Scaled` and nothing overflows; nil sends the caller to `Decimal`.
    static func integerMicros(_ usage: Usage, price: ModelPrice, type: ProviderType) -> Int64? {
        guard let tokens = BilledTokens(usage, type: type),
              tokens.input >= 0, tokens.cached >= 0, tokens.written >= 0, tokens.output >= 0, tokens.prompt >= 0,
              let band = price.band(forPrompt: tokens.prompt).scaled else { return nil }
        var total: Int64 = 0
        for (count, each) in [(tokens.input, band.input), (tokens.cached, band.cachedInput), (tokens.written, band.cacheWrite),
                              (tokens.output, band.output)] {
            let (cost, overflow) = Int64(count).multipliedReportingOverflow(by: each)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(cost)
            guard !sumOverflow else { return nil }
            total = sum
        }
        let perMicroDollar = TokenPrices.Scaled.perMicroDollar
        return total / perMicroDollar + (total % perMicroDollar >= perMicroDollar / 2 ? 1 : 0)
    }
}

/// Conversions between dollars and the integer micro-dollars money is kept in.
public enum Money {
    public static func micros(_ dollars: Decimal) -> Int64 {
        var scaled = dollars * CostCalculator.million
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    public static func dollars(_ micros: Int64) -> Decimal {
        Decimal(sign: micros < 0 ? .minus : .plus, exponent: -6, significand: Decimal(micros.magnitude))
    }

    /// Dollars as the screen shows them: two decimals from a dollar, four from a cent, and six
    /// below, so that a small spend never reads as $0.0000.
    public static func format(_ amount: Decimal) -> String {
        // A NumberFormatter per call cost more than the rest of a status line, so the digits come
        // from the rounded amount as an integer.
        let places = amount >= 1 ? 2 : amount >= cent || amount == 0 ? 4 : 6
        var scaled = amount * Decimal(placeValues[places / 2 - 1])
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        let units = NSDecimalNumber(decimal: rounded).int64Value
        var bytes: [UInt8] = []
        append(units: units.magnitude, negative: units < 0, places: places, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let cent = Decimal(string: "0.01")!

    /// `format` for whole micro-dollars, in integers only.
    public static func format(micros: Int64) -> String {
        var bytes: [UInt8] = []
        append(micros: micros, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `format(micros:)` appended to `bytes` as ASCII; returns how many bytes, which is also how
    /// many columns. The chat screen writes several amounts on every frame, with no String each.
    @discardableResult
    public static func append(micros: Int64, to bytes: inout [UInt8]) -> Int {
        let places = micros >= 1_000_000 ? 2 : micros >= 10_000 || micros == 0 ? 4 : 6
        let step = 1_000_000 / placeValues[places / 2 - 1]
        // Half away from zero, as `NSDecimalRound(.plain)` rounds.
        return append(units: (micros.magnitude + step / 2) / step, negative: micros < 0, places: places, to: &bytes)
    }

    /// Units per dollar at two, four and six decimals.
    private static let placeValues: [UInt64] = [100, 10_000, 1_000_000]

    /// `$` and `units` hundredths, ten-thousandths or millionths of a dollar, with all `places` shown.
    @discardableResult
    private static func append(units: UInt64, negative: Bool, places: Int, to bytes: inout [UInt8]) -> Int {
        let start = bytes.count
        bytes.append(UInt8(ascii: "$"))
        if negative { bytes.append(UInt8(ascii: "-")) }
        let divisor = placeValues[places / 2 - 1]
        Digits.append(units / divisor, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        Digits.append(units % divisor, minimumCount: places, to: &bytes)
        return bytes.count - start
    }

    /// The exact decimal text of a micro-dollar amount, for JSON: `0.001234`, never a float.
    public static func exactText(_ micros: Int64) -> String {
        NSDecimalNumber(decimal: dollars(micros)).stringValue
    }

    /// Reads `1.50` or `$1.50` exactly.
    public static func parse(_ text: String) -> Decimal? {
        var cleaned = text.trimmingCharacters(in: .whitespaces)
        if cleaned.hasPrefix("$") { cleaned.removeFirst() }
        guard let value = Decimal(string: cleaned, locale: Locale(identifier: "en_US_POSIX")), value >= 0,
              cleaned.allSatisfy({ $0.isNumber || $0 == "." }) else { return nil }
        return value
    }
}

/// Decimal digits written as ASCII bytes, for figures formatted on every frame.
public enum Digits {
    /// Appends `value`'s digits, zero-padded on the left to at least `minimumCount` of them; returns
    /// how many it appended.
    @discardableResult
    public static func append(_ value: UInt64, minimumCount: Int = 1, to bytes: inout [UInt8]) -> Int {
        var scale: UInt64 = 1
        var count = 1
        while scale <= value / 10 {
            scale *= 10
            count += 1
        }
        for _ in count..<max(count, minimumCount) { bytes.append(UInt8(ascii: "0")) }
        while scale > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / scale % 10))
            scale /= 10
        }
        return max(count, minimumCount)
    }
}
