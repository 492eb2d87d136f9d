import Foundation
import Yams

/// Prices for one band of a model, in USD per million tokens. Nil means "not offered"; a cached
/// or cache-write price that is nil falls back to the input price.
public struct TokenPrices: Sendable, Equatable {
    public var input: Decimal { didSet { scaled = Scaled(self) } }
    public var cachedInput: Decimal? { didSet { scaled = Scaled(self) } }
    public var cacheWrite: Decimal? { didSet { scaled = Scaled(self) } }
    public var output: Decimal { didSet { scaled = Scaled(self) } }
    /// The same prices as whole numbers, when that is exact; costs are then summed in integers.
    private(set) var scaled: Scaled?

    public init(input: Decimal, cachedInput: Decimal? = nil, cacheWrite: Decimal? = nil, output: Decimal) {
        self.input = input
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.output = output
        scaled = Scaled(self)
    }

    /// Prices in millionths of a micro-dollar per token (USD per million tokens × 10⁶), with the
    /// fallbacks resolved. A streaming pane re-prices its estimate on every token, and `Decimal`
    /// arithmetic cost more than the rest of the screen.
    struct Scaled: Sendable, Equatable {
        static let perMicroDollar: Int64 = 1_000_000
        var input: Int64
        var cachedInput: Int64
        var cacheWrite: Int64
        var output: Int64

        /// Nil when a price has more than six decimals or is out of range.
        init?(_ prices: TokenPrices) {
            guard let input = Self.whole(prices.input), let output = Self.whole(prices.output),
                  let cachedInput = Self.whole(prices.cachedInput ?? prices.input),
                  let cacheWrite = Self.whole(prices.cacheWrite ?? prices.input) else { return nil }
            (self.input, self.cachedInput, self.cacheWrite, self.output) = (input, cachedInput, cacheWrite, output)
        }

        private static func whole(_ price: Decimal) -> Int64? {
            let scaled = price * Decimal(perMicroDollar)
            guard scaled >= 0, scaled < Decimal(Int64(1) << 40) else { return nil }
            var copy = scaled
            var rounded = Decimal()
            NSDecimalRound(&rounded, &copy, 0, .plain)
            guard rounded == scaled else { return nil }
            return NSDecimalNumber(decimal: rounded).int64Value
        }
    }
}

/// A model's entry in the catalog.
public struct ModelPrice: Sendable, Equatable {
    public var key: ModelRef
    public var contextWindow: Int?
    public var maxOutput: Int?
    public var prices: TokenPrices
    /// Prices for the whole request once its prompt passes `longPromptThreshold` tokens.
    public var longPrompt: TokenPrices?

    public static let longPromptThreshold = 200_000

    public init(key: ModelRef, contextWindow: Int? = nil, maxOutput: Int? = nil, prices: TokenPrices, longPrompt: TokenPrices? = nil) {
        self.key = key
        self.contextWindow = contextWindow
        self.maxOutput = maxOutput
        self.prices = prices
        self.longPrompt = longPrompt
    }

    /// The band a prompt of `promptTokens` is billed in.
    public func band(forPrompt promptTokens: Int) -> TokenPrices {
        promptTokens > Self.longPromptThreshold ? longPrompt ?? prices : prices
    }
}

/// What a catalog source got wrong, for `persona config validate` and start-up warnings.
public struct CatalogIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let message: String
    public var description: String { "\(source): \(message)" }
}

/// Every known price: the bundled catalog, then a LiteLLM file, then the config's `prices:`.
public struct PriceCatalog: Sendable {
    private var entries: [ModelRef: ModelPrice] = [:]

    public init(_ prices: [ModelPrice] = []) {
        for price in prices { entries[price.key] = price }
    }

    public var all: [ModelPrice] {
        entries.values.sorted { ($0.key.provider, $0.key.model) < ($1.key.provider, $1.key.model) }
    }

    public mutating func add(_ price: ModelPrice) { entries[price.key] = price }

    /// The price of `provider:model`: exact, then without a date or version suffix, then the
    /// provider's `*` entry. Nil when unknown: such a model's cost is unknown, never zero.
    public func price(for model: ModelRef) -> ModelPrice? {
        let provider = model.provider.lowercased()
        var name = model.model
        if name.hasPrefix("models/") { name.removeFirst("models/".count) }
        for candidate in [name] + Self.familyNames(of: name) {
            if let price = entries[ModelRef(provider: provider, model: candidate)] { return price }
        }
        return entries[ModelRef(provider: provider, model: "*")]
    }

    /// `gpt-4o-2024-08-06` → `gpt-4o`, `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`,
    /// `gemini-2.0-flash-001` → `gemini-2.0-flash`, `claude-3-5-haiku-latest` → `claude-3-5-haiku`.
    static func familyNames(of model: String) -> [String] {
        let patterns = [#"-\d{4}-\d{2}-\d{2}$"#, #"-\d{8}$"#, #"-latest$"#, #"-\d{3}$"#, #"-preview(-[0-9-]+)?$"#, #"@\d{8}$"#]
        var names: [String] = []
        var current = model
        for pattern in patterns {
            if let range = current.range(of: pattern, options: .regularExpression) {
                current.removeSubrange(range)
                names.append(current)
            }
        }
        return names
    }

    // MARK: Sources

    /// The catalog that ships with Persona (the `models.yaml` resource).
    public static func bundled() throws -> PriceCatalog {
        guard let url = bundledCatalogURL() else {
            throw CatalogIssue(source: "models.yaml", message: "the bundled price catalog was not found beside the binary")
        }
        return try parseYAML(try String(contentsOf: url, encoding: .utf8), source: url.path)
    }

    /// The resource bundle SwiftPM puts beside the binary, or the source checkout it was built from.
    static func bundledCatalogURL() -> URL? {
        let executable = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0])
        var directory = executable.deletingLastPathComponent()
        let bundle = directory.appendingPathComponent("Persona_PersonaKit.resources/models.yaml")
        if FileManager.default.fileExists(atPath: bundle.path) { return bundle }
        for _ in 0..<8 {
            let source = directory.appendingPathComponent("Sources/PersonaKit/Costs/models.yaml")
            if FileManager.default.fileExists(atPath: source.path) { return source }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    /// Parses the catalog's YAML: provider → model → fields.
    public static func parseYAML(_ text: String, source: String) throws -> PriceCatalog {
        guard let root = try Yams.compose(yaml: text), case .mapping(let providers) = root else {
            throw CatalogIssue(source: source, message: "expected a mapping of providers")
        }
        var catalog = PriceCatalog()
        for (providerNode, models) in providers {
            guard let provider = providerNode.string, case .mapping(let entries) = models else {
                throw CatalogIssue(source: source, message: "line \(providerNode.mark?.line ?? 0): expected provider: { model: {…} }")
            }
            for (modelNode, fields) in entries {
                guard let model = modelNode.string else { continue }
                let key = ModelRef(provider: provider.lowercased(), model: model)
                catalog.add(try parseEntry(fields, key: key, source: source))
            }
        }
        return catalog
    }

    private static func parseEntry(_ node: Node, key: ModelRef, source: String) throws -> ModelPrice {
        func fail(_ message: String) -> CatalogIssue {
            CatalogIssue(source: source, message: "line \(node.mark?.line ?? 0): \(key): \(message)")
        }
        guard case .mapping(let fields) = node else { throw fail("expected a mapping of prices") }
        func decimal(_ name: String, in mapping: Node.Mapping) throws -> Decimal? {
            guard let value = mapping[name] else { return nil }
            guard let text = value.string, let number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), number >= 0 else {
                throw fail("\(name) must be a price in USD per million tokens")
            }
            return number
        }
        func prices(_ mapping: Node.Mapping) throws -> TokenPrices {
            guard let input = try decimal("input", in: mapping), let output = try decimal("output", in: mapping) else {
                throw fail("needs at least input and output prices")
            }
            return TokenPrices(input: input, cachedInput: try decimal("cached_input", in: mapping),
                               cacheWrite: try decimal("cache_write", in: mapping), output: output)
        }
        var long: TokenPrices?
        if let tier = fields["above_200k"] {
            guard case .mapping(let tierFields) = tier else { throw fail("above_200k must be a mapping of prices") }
            long = try prices(tierFields)
        }
        return ModelPrice(key: key, contextWindow: fields["context_window"]?.int, maxOutput: fields["max_output"]?.int,
                          prices: try prices(fields), longPrompt: long)
    }

    /// Applies the config's `prices:` entries over the catalog; a partial entry changes only the
    /// fields it names.
    public mutating func apply(_ overrides: [String: PriceSettings]) {
        for (name, settings) in overrides {
            guard let key = try? ModelRef(parsing: name) else { continue }
            let existing = entries[key] ?? price(for: key).map { ModelPrice(key: key, contextWindow: $0.contextWindow,
                                                                             maxOutput: $0.maxOutput, prices: $0.prices,
                                                                             longPrompt: $0.longPrompt) }
            guard let input = settings.input ?? existing?.prices.input, let output = settings.output ?? existing?.prices.output else {
                continue
            }
            let prices = TokenPrices(input: input, cachedInput: settings.cachedInput ?? existing?.prices.cachedInput,
                                     cacheWrite: settings.cacheWrite ?? existing?.prices.cacheWrite, output: output)
            add(ModelPrice(key: key, contextWindow: settings.contextWindow ?? existing?.contextWindow,
                           maxOutput: settings.maxOutput ?? existing?.maxOutput, prices: prices,
                           longPrompt: existing?.longPrompt))
        }
    }

    /// Imports LiteLLM's `model_prices_and_context_window.json`: per-token prices become per-million
    /// prices, exactly (the numbers are read as decimals). Entries without chat prices are skipped.
    public mutating func importLiteLLM(_ data: [UInt8], source: String) throws -> Int {
        let json: JSON
        do { json = try JSON.parse(data) } catch { throw CatalogIssue(source: source, message: "not valid JSON: \(error)") }
        guard let models = json.object else { throw CatalogIssue(source: source, message: "expected an object of models") }
        var imported = 0
        let million = Decimal(1_000_000)
        for member in models.members where member.key != "sample_spec" {
            let entry = member.value
            guard let input = entry["input_cost_per_token"]?.decimal, let output = entry["output_cost_per_token"]?.decimal,
                  let provider = Self.provider(fromLiteLLM: entry["litellm_provider"]?.string ?? "") else { continue }
            var model = member.key
            if let slash = model.firstIndex(of: "/"), model[..<slash].lowercased() == provider || model[..<slash] == "gemini" {
                model = String(model[model.index(after: slash)...])
            }
            let prices = TokenPrices(input: input * million, cachedInput: entry["cache_read_input_token_cost"]?.decimal.map { $0 * million },
                                     cacheWrite: entry["cache_creation_input_token_cost"]?.decimal.map { $0 * million },
                                     output: output * million)
            var long: TokenPrices?
            if let longInput = entry["input_cost_per_token_above_200k_tokens"]?.decimal,
               let longOutput = entry["output_cost_per_token_above_200k_tokens"]?.decimal {
                long = TokenPrices(input: longInput * million,
                                   cachedInput: entry["cache_read_input_token_cost_above_200k_tokens"]?.decimal.map { $0 * million },
                                   cacheWrite: entry["cache_creation_input_token_cost_above_200k_tokens"]?.decimal.map { $0 * million },
                                   output: longOutput * million)
            }
            add(ModelPrice(key: ModelRef(provider: provider, model: model), contextWindow: entry["max_input_tokens"]?.int,
                           maxOutput: entry["max_output_tokens"]?.int, prices: prices, longPrompt: long))
            imported += 1
        }
        return imported
    }

    /// LiteLLM's provider names, mapped to Persona's.
    static func provider(fromLiteLLM name: String) -> String? {
        switch name {
        case "openai", "anthropic", "groq", "mistral", "deepseek", "openrouter", "ollama": return name
        case "gemini": return "gemini"
        case "together_ai": return "together"
        case "vercel_ai_gateway": return "vercel"
        default: return nil
        }
    }

    /// The catalog a command runs with: bundled, then the LiteLLM file (`--prices` or
    /// `prices_file`), then the config's `prices:`. Problems are returned, not fatal: a missing
    /// price makes a cost unknown.
    public static func load(config: Config, pricesFile: String?) -> (PriceCatalog, [CatalogIssue]) {
        var issues: [CatalogIssue] = []
        var catalog: PriceCatalog
        do { catalog = try bundled() } catch let issue as CatalogIssue {
            issues.append(issue)
            catalog = PriceCatalog()
        } catch {
            issues.append(CatalogIssue(source: "models.yaml", message: "\(error)"))
            catalog = PriceCatalog()
        }
        if let path = pricesFile ?? config.pricesFile {
            do {
                _ = try catalog.importLiteLLM(Array(try Data(contentsOf: URL(fileURLWithPath: path))), source: path)
            } catch let issue as CatalogIssue {
                issues.append(issue)
            } catch {
                issues.append(CatalogIssue(source: path, message: "cannot be read: \(error.localizedDescription)"))
            }
        }
        catalog.apply(config.prices)
        return (catalog, issues)
    }
}
