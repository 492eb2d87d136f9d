import Foundation

/// Reads LiteLLM's `model_prices_and_context_window.json`, the most complete public price list.
extension PriceCatalog {
    /// Imports the chat models of the providers Persona speaks to, refining the entries already
    /// in the catalog. Per-token prices become picodollars per token exactly (the numbers are read
    /// as decimals); a price finer than a picodollar, a float artefact such as
    /// `3.0001999999999996E-7`, is rounded to the nearest. Returns how many models it imported.
    @discardableResult
    public mutating func importLiteLLM(_ data: [UInt8], source: PriceSource) throws -> Int {
        let name = source.description
        let json: JSON
        do { json = try JSON.parse(data) } catch { throw CatalogIssue(source: name, message: "not valid JSON: \(error)") }
        guard let models = json.object else { throw CatalogIssue(source: name, message: "expected an object of models") }
        var imported = 0
        for member in models.members where member.key != "sample_spec" {
            let entry = member.value
            guard entry["mode"]?.string ?? "chat" == "chat",
                  let provider = Self.provider(fromLiteLLM: entry["litellm_provider"]?.string ?? "") else { continue }
            let model = Self.modelName(member.key, provider: provider)
            let price = try Self.liteLLMPrice(entry, key: ModelRef(provider: provider, model: model), source: source)
            guard let price else { continue }
            merge(price)
            imported += 1
        }
        return imported
    }

    /// One entry, or nil when it has no per-token chat prices. A negative or absurd price makes
    /// the whole file suspect, so it throws.
    static func liteLLMPrice(_ entry: JSON, key: ModelRef, source: PriceSource) throws -> ModelPrice? {
        func picos(_ field: String) throws -> Int64? {
            guard let perToken = entry[field]?.decimal else { return nil }
            var scaled = perToken * Decimal(Money.picosPerDollar)
            var rounded = Decimal()
            NSDecimalRound(&rounded, &scaled, 0, .plain)
            guard perToken >= 0, let value = Money.whole(rounded), value <= TokenPrices.maximum else {
                throw CatalogIssue(source: source.description, message: "\(key): \(field) is \(perToken), not a price")
            }
            return value
        }
        guard let input = try picos("input_cost_per_token"), let output = try picos("output_cost_per_token") else { return nil }
        let prices = TokenPrices(input: input, cachedInput: try picos("cache_read_input_token_cost"),
                                 cacheWrite: try picos("cache_creation_input_token_cost"),
                                 cacheWrite1h: try picos("cache_creation_input_token_cost_above_1hr"), output: output)
        var longContext: ModelPrice.LongContext?
        if let tier = longContextTier(entry), let longInput = try picos("input_cost_per_token_above_\(tier)_tokens"),
           let longOutput = try picos("output_cost_per_token_above_\(tier)_tokens"),
           let threshold = Int(tier.dropLast()).map({ $0 * 1000 }) {
            longContext = ModelPrice.LongContext(threshold: threshold, prices: TokenPrices(
                input: longInput, cachedInput: try picos("cache_read_input_token_cost_above_\(tier)_tokens"),
                cacheWrite: try picos("cache_creation_input_token_cost_above_\(tier)_tokens"),
                cacheWrite1h: try picos("cache_creation_input_token_cost_above_1hr_above_\(tier)_tokens"), output: longOutput))
        }
        let retired = entry["deprecation_date"]?.string.flatMap {
            $0.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression) != nil ? $0 : nil
        }
        var batch: ModelPrice.BatchPrices?
        if let batchInput = try picos("input_cost_per_token_batches"), let batchOutput = try picos("output_cost_per_token_batches") {
            batch = ModelPrice.BatchPrices(input: batchInput, output: batchOutput)
        }
        return ModelPrice(key: key, maxInput: entry["max_input_tokens"]?.int.flatMap { $0 > 0 ? $0 : nil },
                          maxOutput: entry["max_output_tokens"]?.int.flatMap { $0 > 0 ? $0 : nil }, prices: prices,
                          longContext: longContext, retired: retired,
                          replacedBy: entry["successor_model"]?.string.map { modelName($0, provider: key.provider) }, source: source,
                          batch: batch)
    }

    /// The smallest long-context tier an entry prices, as LiteLLM names it: `200k` in
    /// `input_cost_per_token_above_200k_tokens`.
    static func longContextTier(_ entry: JSON) -> String? {
        let prefix = "input_cost_per_token_above_"
        let tiers = (entry.object?.members ?? []).compactMap { member -> String? in
            guard member.key.hasPrefix(prefix), member.key.hasSuffix("k_tokens") else { return nil }
            let tier = member.key.dropFirst(prefix.count).dropLast("_tokens".count)
            // A threshold in thousands of tokens, positive and small enough to multiply by 1,000.
            guard let thousands = Int(tier.dropLast()), (1...1_000_000_000).contains(thousands) else { return nil }
            return String(tier)
        }
        return tiers.min { Int($0.dropLast())! < Int($1.dropLast())! }
    }

    /// `gemini/gemini-3.5-flash` → `gemini-3.5-flash`; `groq/openai/gpt-oss-20b` → `openai/gpt-oss-20b`.
    static func modelName(_ key: String, provider: String) -> String {
        guard let slash = key.firstIndex(of: "/"), key[..<slash].lowercased() == provider || key[..<slash] == "gemini" else { return key }
        return String(key[key.index(after: slash)...])
    }

    /// LiteLLM's provider names, mapped to Persona's.
    static func provider(fromLiteLLM name: String) -> String? {
        switch name {
        case "openai", "anthropic", "gemini", "groq", "mistral", "deepseek", "openrouter", "ollama": return name
        case "together_ai": return "together"
        case "vercel_ai_gateway": return "vercel"
        default: return nil
        }
    }
}
