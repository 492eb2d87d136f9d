import Foundation
import PersonaKit

/// `persona models`: the price catalog, each price exact and with the source it came from, and
/// the models the ledger has met that it cannot price.
public enum ModelsReport {
    public static func render(_ catalog: PriceCatalog, provider: String?, json: Bool, today: String = PriceUpdate.localDay()) -> String {
        let prices = catalog.all.filter { provider == nil || $0.key.provider == provider!.lowercased() }
        if json {
            return JSON.object(["models": .array(prices.map { entry(json: $0, today: today) })]).serialized + "\n"
        }
        let rows = prices.map { price -> [String] in
            let band = price.prices
            var notes: [String] = []
            if let long = price.longContext {
                notes.append(">\(long.threshold / 1000)k: \(dollars(long.prices.input)) in, \(dollars(long.prices.output)) out")
            }
            if let retired = price.retired {
                let replacement = price.replacedBy.map { "; use \($0)" } ?? ""
                notes.append((retired <= today ? "retired " : "retires ") + retired + replacement)
            }
            return [price.key.provider, price.key.model, count(price.contextWindow), count(price.maxInput), count(price.maxOutput),
                    dollars(band.input), dollars(band.cachedInput), dollars(band.cacheWrite), dollars(band.cacheWrite1h),
                    dollars(band.output), price.source.description, notes.joined(separator: "; ")]
        }
        return "USD per million tokens\n" + TextTable.render(
            header: ["PROVIDER", "MODEL", "CONTEXT", "MAX IN", "MAX OUT", "INPUT", "CACHED", "WRITE", "WRITE 1H", "OUTPUT", "SOURCE",
                     "NOTES"],
            rows: rows, maxWidths: [10, 30, 8, 8, 8, 9, 9, 9, 9, 9, 20, 48])
    }

    static func entry(json price: ModelPrice, today: String) -> JSON {
        func number(_ picos: Int64?) -> JSON { picos.map { .number(TokenPrices.usdPerMillionText($0)) } ?? .null }
        func tier(_ prices: TokenPrices) -> JSON {
            .object(["input": number(prices.input), "cached_input": number(prices.cachedInput), "cache_write": number(prices.cacheWrite),
                     "cache_write_1h": number(prices.cacheWrite1h), "output": number(prices.output)])
        }
        return .object([
            "provider": .string(price.key.provider), "model": .string(price.key.model),
            "context_window": price.contextWindow.map { .int($0) } ?? .null, "max_input": price.maxInput.map { .int($0) } ?? .null,
            "max_output": price.maxOutput.map { .int($0) } ?? .null,
            "input": number(price.prices.input), "cached_input": number(price.prices.cachedInput),
            "cache_write": number(price.prices.cacheWrite), "cache_write_1h": number(price.prices.cacheWrite1h),
            "output": number(price.prices.output),
            "long_context": price.longContext.map { .object(["threshold": .int($0.threshold), "prices": tier($0.prices)]) } ?? .null,
            "retired": price.retired.map { .string($0) } ?? .null, "replaced_by": price.replacedBy.map { .string($0) } ?? .null,
            "is_retired": .bool(price.isRetired(on: today)), "source": .string(price.source.description),
        ])
    }

    /// Models the ledger recorded at an unknown price that the catalog still cannot price, each
    /// with the entry to add under `prices:` in config.yaml.
    public static func unpriced(_ ledger: Ledger, catalog: PriceCatalog, json: Bool) throws -> String {
        let models = try ledger.unpricedModels().filter { catalog.price(for: $0.model) == nil }
        if json {
            return JSON.object(["unpriced": .array(models.map { model in
                .object(["model": .string(model.model.description), "requests": .int(model.requests)])
            })]).serialized + "\n"
        }
        guard !models.isEmpty else { return "Every model in the ledger has a price.\n" }
        var lines = ["These models cost an unknown amount. Add their prices (USD per million tokens) under prices: in config.yaml,",
                     "or run `persona prices update`:", ""]
        for model in models {
            lines.append("  # \(model.requests) request\(model.requests == 1 ? "" : "s") so far")
            lines.append("  \"\(model.model)\": { input: …, output: … }")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A price per million tokens, exactly, with cents at least: `$0.075`, `$0.80`, `$15.00`.
    static func dollars(_ picos: Int64?) -> String {
        guard let picos else { return "-" }
        var text = TokenPrices.usdPerMillionText(picos)
        let decimals = text.firstIndex(of: ".").map { text.distance(from: $0, to: text.endIndex) - 1 }
        if decimals == nil { text += "." }
        text += String(repeating: "0", count: max(0, 2 - (decimals ?? 0)))
        return "$" + text
    }

    static func count(_ value: Int?) -> String { value.map(String.init) ?? "-" }
}
