import Foundation
import Yams

/// Prices for one band of a model, in picodollars per token (USD per million tokens × 10⁶),
/// so that every cost is a sum of whole numbers. A cached or cache-write price that is nil falls
/// back to the input price; a 1-hour write falls back to the 5-minute one.
public struct TokenPrices: Sendable, Equatable {
    public var input: Int64
    public var cachedInput: Int64?
    public var cacheWrite: Int64?
    public var cacheWrite1h: Int64?
    public var output: Int64

    public init(input: Int64, cachedInput: Int64? = nil, cacheWrite: Int64? = nil, cacheWrite1h: Int64? = nil, output: Int64) {
        self.input = input
        self.cachedInput = cachedInput
        self.cacheWrite = cacheWrite
        self.cacheWrite1h = cacheWrite1h
        self.output = output
    }

    /// Prices given in USD per million tokens, as price pages and `config.yaml` write them; nil
    /// when one has more than six decimals (finer than a picodollar per token) or is negative.
    public init?(usdPerMillion input: Decimal, cachedInput: Decimal? = nil, cacheWrite: Decimal? = nil, cacheWrite1h: Decimal? = nil,
                 output: Decimal) {
        func scaled(_ price: Decimal?) -> Int64?? {
            guard let price else { return .some(nil) }
            guard price >= 0, let picos = Self.picosPerToken(usdPerMillion: price) else { return nil }
            return .some(picos)
        }
        guard let input = scaled(input) ?? nil, let output = scaled(output) ?? nil,
              let cachedInput = scaled(cachedInput), let cacheWrite = scaled(cacheWrite), let cacheWrite1h = scaled(cacheWrite1h)
        else { return nil }
        self.init(input: input, cachedInput: cachedInput, cacheWrite: cacheWrite, cacheWrite1h: cacheWrite1h, output: output)
    }

    /// USD per million tokens in picodollars per token: exact, or nil past six decimals.
    public static func picosPerToken(usdPerMillion: Decimal) -> Int64? {
        guard let picos = Money.whole(usdPerMillion * Decimal(1_000_000)), picos >= 0, picos <= maximum else { return nil }
        return picos
    }

    /// Picodollars per token as USD per million tokens, exactly: `75000` reads `0.075`.
    public static func usdPerMillionText(_ picos: Int64) -> String {
        Money.exactText(picos * 1_000_000)
    }

    /// $1,000,000 per million tokens: a price past it is a typo, and below it no product of a
    /// price and a count that passed the usage check can overflow.
    static let maximum: Int64 = 1_000_000_000_000

    var resolvedCachedInput: Int64 { cachedInput ?? input }
    var resolvedCacheWrite: Int64 { cacheWrite ?? input }
    var resolvedCacheWrite1h: Int64 { cacheWrite1h ?? resolvedCacheWrite }
}

/// Where a price came from, for `persona models`.
public enum PriceSource: Sendable, Equatable, CustomStringConvertible {
    case bundled
    /// `persona prices update`, fetched on this day.
    case update(day: String)
    /// A LiteLLM file named by `--prices` or `prices_file`.
    case file(String)
    case config

    public var description: String {
        switch self {
        case .bundled: return "bundled"
        case .update(let day): return "update of \(day)"
        case .file(let path): return "file \(path)"
        case .config: return "config"
        }
    }
}

/// A model's entry in the catalog.
public struct ModelPrice: Sendable, Equatable {
    public var key: ModelRef
    /// Input and output together.
    public var contextWindow: Int?
    /// The most input a request may carry, where the provider limits it apart from the window
    /// (gpt-5: 272k of its 400k).
    public var maxInput: Int?
    public var maxOutput: Int?
    public var prices: TokenPrices
    /// Prices for the whole request once its prompt passes `longContext.threshold` tokens.
    public var longContext: LongContext?
    /// The day the provider retired the model (YYYY-MM-DD), and its successor.
    public var retired: String?
    public var replacedBy: String?
    public var source: PriceSource
    /// What the provider's batch API bills, where the catalog or config says; see `batchPrices`.
    public var batch: BatchPrices?

    /// Batch prices as a source gives them; a nil cached or cache-write price is the live one.
    public struct BatchPrices: Sendable, Equatable {
        public var input: Int64
        public var output: Int64
        public var cachedInput: Int64?
        public var cacheWrite: Int64?

        public init(input: Int64, output: Int64, cachedInput: Int64? = nil, cacheWrite: Int64? = nil) {
            self.input = input
            self.output = output
            self.cachedInput = cachedInput
            self.cacheWrite = cacheWrite
        }
    }

    public struct LongContext: Sendable, Equatable {
        public var threshold: Int
        public var prices: TokenPrices

        public init(threshold: Int, prices: TokenPrices) {
            self.threshold = threshold
            self.prices = prices
        }
    }

    public init(key: ModelRef, contextWindow: Int? = nil, maxInput: Int? = nil, maxOutput: Int? = nil, prices: TokenPrices,
                longContext: LongContext? = nil, retired: String? = nil, replacedBy: String? = nil, source: PriceSource = .bundled,
                batch: BatchPrices? = nil) {
        self.batch = batch
        self.key = key
        self.contextWindow = contextWindow
        self.maxInput = maxInput
        self.maxOutput = maxOutput
        self.prices = prices
        self.longContext = longContext
        self.retired = retired
        self.replacedBy = replacedBy
        self.source = source
    }

    /// The band a prompt of `promptTokens` is billed in.
    public func band(forPrompt promptTokens: Int) -> TokenPrices {
        guard let longContext, promptTokens > longContext.threshold else { return prices }
        return longContext.prices
    }

    /// The most prompt a request may carry when it leaves room for `maxOutput` tokens of answer.
    public func promptRoom(maxOutput: Int?) -> Int? {
        let window = contextWindow.map { $0 - (maxOutput ?? 0) }
        switch (maxInput, window) {
        case (let input?, let window?): return min(input, window)
        case (let input?, nil): return input
        case (nil, let window): return window
        }
    }

    /// Whether the provider has retired the model by `day` (YYYY-MM-DD, local).
    public func isRetired(on day: String) -> Bool {
        guard let retired else { return false }
        return retired <= day
    }

    /// `other`'s fields over these, where `other` has them: a newer source refines an entry
    /// without erasing what it does not know.
    func refined(by other: ModelPrice) -> ModelPrice {
        ModelPrice(key: key, contextWindow: other.contextWindow ?? contextWindow, maxInput: other.maxInput ?? maxInput,
                   maxOutput: other.maxOutput ?? maxOutput, prices: other.prices, longContext: other.longContext ?? longContext,
                   retired: other.retired ?? retired, replacedBy: other.replacedBy ?? replacedBy, source: other.source,
                   batch: other.batch ?? batch)
    }

    /// The providers whose batch APIs bill half the live input and output price when no batch
    /// price is given.
    public static let halfPriceBatchProviders: Set<String> = ["openai", "anthropic", "gemini"]

    /// This model's prices as its provider's batch API bills them: the catalog's batch prices,
    /// else half the live input and output price (rounded up to a whole picodollar per token)
    /// for OpenAI, Anthropic and Gemini. Cache reads and writes keep their live prices unless a
    /// batch price names them. Nil when no batch price is known: the provider has no batch API,
    /// or its discount is not in the catalog.
    public func batchPrices() -> ModelPrice? {
        func half(_ picos: Int64) -> Int64 { picos / 2 + picos % 2 }
        func batched(_ live: TokenPrices, _ explicit: BatchPrices?) -> TokenPrices {
            TokenPrices(input: explicit?.input ?? half(live.input), cachedInput: explicit?.cachedInput ?? live.resolvedCachedInput,
                        cacheWrite: explicit?.cacheWrite ?? live.resolvedCacheWrite,
                        cacheWrite1h: explicit?.cacheWrite ?? live.resolvedCacheWrite1h, output: explicit?.output ?? half(live.output))
        }
        guard batch != nil || Self.halfPriceBatchProviders.contains(key.provider) else { return nil }
        var priced = self
        priced.prices = batched(prices, batch)
        // An explicit batch price is for the base band; a long prompt's band is halved from its live price.
        priced.longContext = longContext.map { LongContext(threshold: $0.threshold, prices: batched($0.prices, nil)) }
        return priced
    }
}

/// What a catalog source got wrong, for `persona config validate` and start-up warnings.
public struct CatalogIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let message: String
    public var description: String { "\(source): \(message)" }

    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }
}

/// Every known price: the bundled catalog, then the fetched update, then a LiteLLM file, then
/// the config's `prices:`; each later source refines the entries of the earlier ones.
public struct PriceCatalog: Sendable {
    private var entries: [ModelRef: ModelPrice] = [:]

    public init(_ prices: [ModelPrice] = []) {
        for price in prices { entries[price.key] = price }
    }

    public var all: [ModelPrice] {
        entries.values.sorted { ($0.key.provider, $0.key.model) < ($1.key.provider, $1.key.model) }
    }

    public mutating func add(_ price: ModelPrice) { entries[price.key] = price }

    /// Adds `price`, or refines the entry already there.
    public mutating func merge(_ price: ModelPrice) {
        entries[price.key] = entries[price.key].map { $0.refined(by: price) } ?? price
    }

    /// The price of `provider:model`: exact, then without a date or version suffix, then the
    /// provider's `*` entry. Nil when unknown: such a model's cost is unknown, never zero.
    public func price(for model: ModelRef) -> ModelPrice? {
        let provider = model.provider.lowercased()
        var name = model.model
        if name.hasPrefix("models/") { name.removeFirst("models/".count) }
        if let price = entries[ModelRef(provider: provider, model: name)] { return price }
        // Family names take regular expressions: only a model not priced by its own name needs them.
        for candidate in Self.familyNames(of: name) {
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

    /// The model that replaces a retired one, followed through its successors while they are
    /// retired too; nil when `model` is not retired on `day` or nothing replaces it.
    public func replacement(for model: ModelRef, on day: String) -> ModelRef? {
        var current = model
        var seen: Set<ModelRef> = []
        while let price = price(for: current), price.isRetired(on: day), let next = price.replacedBy, seen.insert(current).inserted {
            current = ModelRef(provider: model.provider, model: next)
        }
        return current == model ? nil : current
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
                throw CatalogIssue(source: source, message: "line \(line(providerNode)): expected provider: { model: {…} }")
            }
            for (modelNode, fields) in entries {
                guard let model = modelNode.string else { continue }
                let key = ModelRef(provider: provider.lowercased(), model: model)
                catalog.add(try parseEntry(fields, key: key, source: source))
            }
        }
        return catalog
    }

    private static func line(_ node: Node) -> Int { (node.mark?.line ?? 0) }

    static let entryKeys: Set<String> = [
        "context_window", "max_input", "max_output", "input", "cached_input", "cache_write", "cache_write_1h", "output",
        "long_context_threshold", "long_context", "retired", "replaced_by", "batch_input", "batch_output", "batch_cached_input",
        "batch_cache_write",
    ]

    private static func parseEntry(_ node: Node, key: ModelRef, source: String) throws -> ModelPrice {
        func fail(_ message: String, at place: Node? = nil) -> CatalogIssue {
            CatalogIssue(source: source, message: "line \(line(place ?? node)): \(key): \(message)")
        }
        guard case .mapping(let fields) = node else { throw fail("expected a mapping of prices") }
        for (name, _) in fields {
            guard let text = name.string, entryKeys.contains(text) else { throw fail("unknown field '\(name.string ?? "?")'", at: name) }
        }
        func decimal(_ name: String, in mapping: Node.Mapping) throws -> Decimal? {
            guard let value = mapping[name] else { return nil }
            guard let text = value.string, let number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), number >= 0 else {
                throw fail("\(name) must be a price in USD per million tokens", at: value)
            }
            return number
        }
        func prices(_ mapping: Node.Mapping) throws -> TokenPrices {
            guard let input = try decimal("input", in: mapping), let output = try decimal("output", in: mapping) else {
                throw fail("needs at least input and output prices")
            }
            guard let prices = TokenPrices(usdPerMillion: input, cachedInput: try decimal("cached_input", in: mapping),
                                           cacheWrite: try decimal("cache_write", in: mapping),
                                           cacheWrite1h: try decimal("cache_write_1h", in: mapping), output: output) else {
                throw fail("prices may have at most six decimals (USD per million tokens) and be under $1,000,000")
            }
            return prices
        }
        func count(_ name: String) throws -> Int? {
            guard let value = fields[name] else { return nil }
            guard let number = value.int, number > 0 else { throw fail("\(name) must be a whole number of tokens", at: value) }
            return number
        }
        func day(_ name: String) throws -> String? {
            guard let value = fields[name] else { return nil }
            guard let text = value.string, text.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression) != nil else {
                throw fail("\(name) must be a date such as 2026-11-30", at: value)
            }
            return text
        }
        var longContext: ModelPrice.LongContext?
        if let tier = fields["long_context"] {
            guard case .mapping(let tierFields) = tier else { throw fail("long_context must be a mapping of prices", at: tier) }
            guard let threshold = try count("long_context_threshold") else { throw fail("long_context needs long_context_threshold") }
            longContext = ModelPrice.LongContext(threshold: threshold, prices: try prices(tierFields))
        }
        var batch: ModelPrice.BatchPrices?
        if let batchInput = try decimal("batch_input", in: fields), let batchOutput = try decimal("batch_output", in: fields) {
            func scaled(_ value: Decimal?) throws -> Int64? {
                guard let value else { return nil }
                guard let picos = TokenPrices.picosPerToken(usdPerMillion: value) else { throw fail("batch prices may have at most six decimals") }
                return picos
            }
            batch = ModelPrice.BatchPrices(input: try scaled(batchInput)!, output: try scaled(batchOutput)!,
                                           cachedInput: try scaled(try decimal("batch_cached_input", in: fields)),
                                           cacheWrite: try scaled(try decimal("batch_cache_write", in: fields)))
        } else if fields["batch_input"] != nil || fields["batch_output"] != nil {
            throw fail("batch prices need both batch_input and batch_output")
        }
        return ModelPrice(key: key, contextWindow: try count("context_window"), maxInput: try count("max_input"),
                          maxOutput: try count("max_output"), prices: try prices(fields), longContext: longContext,
                          retired: try day("retired"), replacedBy: fields["replaced_by"]?.string, source: .bundled, batch: batch)
    }

    /// Applies the config's `prices:` entries over the catalog; a partial entry changes only the
    /// fields it names.
    public mutating func apply(_ overrides: [String: PriceSettings]) {
        for (name, settings) in overrides {
            guard let key = try? ModelRef(parsing: name) else { continue }
            let existing = entries[key] ?? price(for: key)
            guard let input = settings.input ?? existing?.prices.input, let output = settings.output ?? existing?.prices.output else {
                continue
            }
            let prices = TokenPrices(input: input, cachedInput: settings.cachedInput ?? existing?.prices.cachedInput,
                                     cacheWrite: settings.cacheWrite ?? existing?.prices.cacheWrite,
                                     cacheWrite1h: settings.cacheWrite1h ?? existing?.prices.cacheWrite1h, output: output)
            add(ModelPrice(key: key, contextWindow: settings.contextWindow ?? existing?.contextWindow,
                           maxInput: settings.maxInput ?? existing?.maxInput, maxOutput: settings.maxOutput ?? existing?.maxOutput,
                           prices: prices, longContext: existing?.longContext, retired: existing?.retired,
                           replacedBy: existing?.replacedBy, source: .config, batch: Self.batchOverride(settings, existing: existing?.batch)))
        }
    }

    /// The config's batch prices over the catalog's: both `batch_input` and `batch_output`, or
    /// either beside a batch price already known.
    private static func batchOverride(_ settings: PriceSettings, existing: ModelPrice.BatchPrices?) -> ModelPrice.BatchPrices? {
        guard let input = settings.batchInput ?? existing?.input, let output = settings.batchOutput ?? existing?.output else { return existing }
        return ModelPrice.BatchPrices(input: input, output: output, cachedInput: settings.batchCachedInput ?? existing?.cachedInput,
                                      cacheWrite: settings.batchCacheWrite ?? existing?.cacheWrite)
    }

    /// The catalog a command runs with: bundled, then the fetched update in `home`, then the
    /// LiteLLM file (`--prices` or `prices_file`), then the config's `prices:`. Problems are
    /// returned, not fatal: a missing price makes a cost unknown.
    public static func load(config: Config, pricesFile: String?, home: String? = nil) -> (PriceCatalog, [CatalogIssue]) {
        var issues: [CatalogIssue] = []
        var catalog: PriceCatalog
        do { catalog = try bundled() } catch let issue as CatalogIssue {
            issues.append(issue)
            catalog = PriceCatalog()
        } catch {
            issues.append(CatalogIssue(source: "models.yaml", message: "\(error)"))
            catalog = PriceCatalog()
        }
        if let home, let update = PriceUpdate.stored(home: home) {
            do {
                _ = try catalog.importLiteLLM(Array(try Data(contentsOf: URL(fileURLWithPath: update.file))),
                                              source: .update(day: update.day))
            } catch {
                issues.append(CatalogIssue(source: update.file, message: "\(error)"))
            }
        }
        if let path = pricesFile ?? config.pricesFile {
            do {
                _ = try catalog.importLiteLLM(Array(try Data(contentsOf: URL(fileURLWithPath: path))), source: .file(path))
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
