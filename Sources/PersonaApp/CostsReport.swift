import Foundation
import PersonaKit

/// `persona costs`: the ledger as aligned tables or as JSON in the cost API's shapes. Every
/// amount comes from integer micro-dollars and is printed as an exact decimal.
public enum CostsReport {
    public enum Kind: String, CaseIterable, Sendable {
        case summary
        case daily
        case byProvider = "by-provider"
        case byModel = "by-model"
        case entries
    }

    public struct Options: Sendable {
        public var period = Ledger.Period()
        public var days = 7
        public var limit = 20
        public var json = false

        public init(period: Ledger.Period = Ledger.Period(), days: Int = 7, limit: Int = 20, json: Bool = false) {
            self.period = period
            self.days = days
            self.limit = limit
            self.json = json
        }
    }

    public static func render(_ kind: Kind, ledger: Ledger, options: Options) throws -> String {
        switch kind {
        case .summary: return try summary(ledger, options)
        case .daily: return try daily(ledger, options)
        case .byProvider: return try breakdown(ledger, options, byModel: false)
        case .byModel: return try breakdown(ledger, options, byModel: true)
        case .entries: return try entries(ledger, options)
        }
    }

    static func cost(_ micros: Int64) -> JSON { .number(Money.exactText(micros)) }

    /// An exact amount, marked `~` when some of it was priced from estimated counts.
    static func money(_ micros: Int64, estimated: Bool = false) -> String { (estimated ? "~$" : "$") + Money.exactText(micros) }

    static func money(_ totals: CostTotals) -> String { money(totals.micros, estimated: totals.estimated > 0) }

    static func iso(_ date: Date?) -> JSON {
        guard let date else { return .null }
        let formatter = ISO8601DateFormatter()
        return .string(formatter.string(from: date))
    }

    static func summary(_ ledger: Ledger, _ options: Options) throws -> String {
        let (totals, providers, models) = try ledger.summary(in: options.period)
        if options.json {
            return JSON.object([
                "total_cost": cost(totals.micros),
                "period": .object(["start": iso(options.period.start), "end": iso(options.period.end)]),
                "by_provider": .object(JSONObject(providers.map { .init(key: $0.key, value: cost($0.totals.micros)) })),
                "by_model": .object(JSONObject(models.map { .init(key: $0.key, value: cost($0.totals.micros)) })),
                "request_count": .int(totals.requests),
                "token_count": .object(["input": .int(totals.inputTokens), "output": .int(totals.outputTokens)]),
                "unpriced_requests": .int(totals.unpriced),
                "estimated_requests": .int(totals.estimated),
            ]).serialized + "\n"
        }
        return summaryLines(totals: totals, providers: providers, models: models, period: options.period).joined(separator: "\n") + "\n"
    }

    /// The summary as lines of text; the chat screen's F3 overlay shows these too.
    public static func summaryLines(totals: CostTotals, providers: [(key: String, totals: CostTotals)],
                                    models: [(key: String, totals: CostTotals)], period: Ledger.Period) -> [String] {
        var lines = ["Costs \(describe(period))",
                     "total  \(money(totals))  \(totals.requests) requests, \(totals.inputTokens) in, \(totals.outputTokens) out"]
        if totals.unpriced > 0 { lines.append("       plus \(totals.unpriced) requests of unknown price (shown as ?)") }
        if totals.estimated > 0 {
            lines.append("       \(totals.estimated) of them priced from estimated counts, with no usage reported (shown as ~)")
        }
        for (title, rows) in [("by provider", providers), ("by model", models)] where !rows.isEmpty {
            lines.append("")
            lines.append(title)
            lines += TextTable.render(header: [], rows: rows.map { ["  " + $0.key, money($0.totals), "\($0.totals.requests) req"] },
                                      maxWidths: [48, 16, 12]).split(separator: "\n").map(String.init)
        }
        return lines
    }

    public static func summaryLines(_ ledger: Ledger, period: Ledger.Period) throws -> [String] {
        let (totals, providers, models) = try ledger.summary(in: period)
        return summaryLines(totals: totals, providers: providers, models: models, period: period)
    }

    static func describe(_ period: Ledger.Period) -> String {
        let formatter = ISO8601DateFormatter()
        switch (period.start, period.end) {
        case (nil, nil): return "of all time"
        case (let start?, nil): return "since \(formatter.string(from: start))"
        case (nil, let end?): return "until \(formatter.string(from: end))"
        case (let start?, let end?): return "from \(formatter.string(from: start)) to \(formatter.string(from: end))"
        }
    }

    static func daily(_ ledger: Ledger, _ options: Options) throws -> String {
        let days = try ledger.daily(days: options.days)
        let total = days.reduce(0) { $0 + $1.micros }
        let average = Money.micros(Money.dollars(total) / Decimal(max(1, days.count)))
        let estimated = days.filter(\.estimated).map(\.day)
        if options.json {
            return JSON.object([
                "daily_costs": .object(JSONObject(days.map { .init(key: $0.day, value: cost($0.micros)) })),
                "total": cost(total),
                "average_daily": cost(average),
                "estimated_days": .array(estimated.map { .string($0) }),
            ]).serialized + "\n"
        }
        let rows = days.map { [$0.day, money($0.micros, estimated: $0.estimated)] }
            + [["total", money(total, estimated: !estimated.isEmpty)], ["average", money(average, estimated: !estimated.isEmpty)]]
        return TextTable.render(header: ["DAY", "COST"], rows: rows, maxWidths: [12, 20])
    }

    static func breakdown(_ ledger: Ledger, _ options: Options, byModel: Bool) throws -> String {
        let rows = try ledger.breakdown(byModel: byModel, in: options.period)
        if options.json {
            return JSON.object(["costs": .object(JSONObject(rows.map { row in
                .init(key: row.key, value: .object([
                    "total": cost(row.totals.micros), "request_count": .int(row.totals.requests),
                    "input_tokens": .int(row.totals.inputTokens), "output_tokens": .int(row.totals.outputTokens),
                    "estimated_requests": .int(row.totals.estimated),
                ]))
            }))]).serialized + "\n"
        }
        return TextTable.render(
            header: [byModel ? "MODEL" : "PROVIDER", "COST", "REQUESTS", "INPUT", "OUTPUT"],
            rows: rows.map { [$0.key, money($0.totals) + ($0.totals.unpriced > 0 ? " +?" : ""), "\($0.totals.requests)",
                              "\($0.totals.inputTokens)", "\($0.totals.outputTokens)"] },
            maxWidths: [48, 18, 9, 12, 12])
    }

    static func entries(_ ledger: Ledger, _ options: Options) throws -> String {
        let entries = try ledger.entries(limit: options.limit, in: options.period)
        let total = entries.reduce(Int64(0)) { $0 + ($1.costMicros ?? 0) }
        if options.json {
            return JSON.object([
                "entries": .array(entries.map { entry in
                    .object([
                        "provider": .string(entry.provider), "model": .string(entry.model),
                        "input_tokens": .int(entry.inputTokens), "output_tokens": .int(entry.outputTokens),
                        "cost": entry.costMicros.map(cost) ?? .null, "timestamp": iso(entry.timestamp),
                        "request_id": .int(Int(entry.id ?? 0)), "session": .string(entry.session), "persona": .string(entry.persona),
                        "status": .string(entry.status.rawValue), "estimated": .bool(entry.estimated),
                    ])
                }),
                "total": cost(total),
            ]).serialized + "\n"
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return TextTable.render(
            header: ["ID", "TIME", "PERSONA", "MODEL", "IN", "OUT", "COST", "STATUS"],
            rows: entries.map { entry in
                ["\(entry.id ?? 0)", formatter.string(from: entry.timestamp), entry.persona, "\(entry.provider):\(entry.model)",
                 (entry.estimated ? "~" : "") + "\(entry.inputTokens)", (entry.estimated ? "~" : "") + "\(entry.outputTokens)",
                 entry.costMicros.map { money($0) } ?? "?", entry.status.rawValue]
            }, maxWidths: [8, 19, 14, 40, 9, 9, 14, 9])
    }

    /// `persona models`: the catalog, per provider.
    public static func models(_ catalog: PriceCatalog, provider: String?, json: Bool) -> String {
        let prices = catalog.all.filter { provider == nil || $0.key.provider == provider!.lowercased() }
        func number(_ value: Decimal?) -> JSON { value.map { .decimal($0) } ?? .null }
        func tier(_ prices: TokenPrices) -> JSON {
            .object(["input": .decimal(prices.input), "cached_input": number(prices.cachedInput),
                     "cache_write": number(prices.cacheWrite), "output": .decimal(prices.output)])
        }
        if json {
            return JSON.object(["models": .array(prices.map { price in
                .object([
                    "provider": .string(price.key.provider), "model": .string(price.key.model),
                    "context_window": price.contextWindow.map { .int($0) } ?? .null,
                    "max_output": price.maxOutput.map { .int($0) } ?? .null,
                    "input": .decimal(price.prices.input), "cached_input": number(price.prices.cachedInput),
                    "cache_write": number(price.prices.cacheWrite), "output": .decimal(price.prices.output),
                    "above_200k": price.longPrompt.map(tier) ?? .null,
                ])
            })]).serialized + "\n"
        }
        func dollars(_ value: Decimal?) -> String {
            guard let value else { return "-" }
            let formatter = NumberFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.minimumFractionDigits = 2
            formatter.maximumFractionDigits = 6
            formatter.minimumIntegerDigits = 1
            return "$" + (formatter.string(from: NSDecimalNumber(decimal: value)) ?? "\(value)")
        }
        let rows = prices.map { price in
            [price.key.provider, price.key.model, price.contextWindow.map(String.init) ?? "-", price.maxOutput.map(String.init) ?? "-",
             dollars(price.prices.input), dollars(price.prices.cachedInput), dollars(price.prices.cacheWrite), dollars(price.prices.output),
             price.longPrompt.map { ">200k: \(dollars($0.input)) in, \(dollars($0.output)) out" } ?? ""]
        }
        return "USD per million tokens\n" + TextTable.render(
            header: ["PROVIDER", "MODEL", "CONTEXT", "MAX OUT", "INPUT", "CACHED", "CACHE WRITE", "OUTPUT", "LONG PROMPTS"],
            rows: rows, maxWidths: [10, 28, 8, 8, 8, 8, 11, 8, 36])
    }
}
