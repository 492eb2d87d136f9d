import Foundation
import PersonaKit

/// `persona costs`: the ledger as aligned tables or as JSON in the cost API's shapes. Every
/// amount is exact, from integer picodollars; a price that is unknown reads `?` (`null` in JSON),
/// never zero, and a sum that holds an estimate reads `~`.
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

    /// The known part of a total, exactly; null when nothing of it has a price.
    static func cost(_ totals: CostTotals) -> JSON {
        totals.unpriced == totals.requests && totals.requests > 0 ? .null : EventJSON.amount(totals.picos)
    }

    /// An exact amount, marked `~` when some of it was priced from estimated counts.
    static func money(_ picos: Int64, estimated: Bool = false) -> String { (estimated ? "~$" : "$") + Money.exactText(picos) }

    /// A total as text: `$0.0123`, `~$0.0123`, `$0.0123 +?` when some rows have no price, `$?`
    /// when none has.
    static func money(_ totals: CostTotals) -> String {
        if totals.unpriced > 0, totals.unpriced == totals.requests { return "$?" }
        return money(totals.picos, estimated: totals.estimated > 0) + (totals.unpriced > 0 ? " +?" : "")
    }

    static func iso(_ date: Date?) -> JSON {
        guard let date else { return .null }
        return .string(ISO8601DateFormatter().string(from: date))
    }

    static func summary(_ ledger: Ledger, _ options: Options) throws -> String {
        let (totals, providers, models) = try ledger.summary(in: options.period)
        let batch = try ledger.batchTotals(in: options.period)
        if options.json {
            return JSON.object([
                "total_cost": cost(totals),
                "period": .object(["start": iso(options.period.start), "end": iso(options.period.end)]),
                "by_provider": .object(JSONObject(providers.map { .init(key: $0.key, value: cost($0.totals)) })),
                "by_model": .object(JSONObject(models.map { .init(key: $0.key, value: cost($0.totals)) })),
                "request_count": .int(totals.requests),
                "token_count": .object(["input": .int(totals.inputTokens), "output": .int(totals.outputTokens)]),
                "unpriced_requests": .int(totals.unpriced),
                "estimated_requests": .int(totals.estimated),
                "saved_by_caching": .object([
                    "total": EventJSON.amount(totals.cacheSavedPicos),
                    "by_provider": .object(JSONObject(providers.map { .init(key: $0.key, value: EventJSON.amount($0.totals.cacheSavedPicos)) })),
                ]),
                "batch": .object(["total": EventJSON.amount(batch.picos), "requests": .int(batch.requests),
                                  "live_price": EventJSON.amount(batch.livePicos), "saved": EventJSON.amount(batch.savedPicos)]),
            ]).serialized + "\n"
        }
        return summaryLines(totals: totals, providers: providers, models: models, period: options.period, batch: batch)
            .joined(separator: "\n") + "\n"
    }

    /// The summary as lines of text; the chat screen's F3 overlay shows these too.
    public static func summaryLines(totals: CostTotals, providers: [(key: String, totals: CostTotals)],
                                    models: [(key: String, totals: CostTotals)], period: Ledger.Period,
                                    batch: Ledger.BatchTotals = Ledger.BatchTotals()) -> [String] {
        var lines = ["Costs \(describe(period))", "total  " + line(totals)]
        if totals.unpriced > 0 { lines.append("       \(totals.unpriced) of them of unknown price (shown as ?)") }
        if totals.estimated > 0 {
            lines.append("       \(totals.estimated) of them priced from estimated counts, with no usage reported or believed (shown as ~)")
        }
        if totals.cacheSavedPicos > 0 { lines.append("       saved by caching: " + money(totals.cacheSavedPicos)) }
        if batch.requests > 0 {
            lines.append("       batch jobs: \(money(batch.picos)) in \(batch.requests) requests; saved \(money(batch.savedPicos)) against "
                + "live prices (\(money(batch.livePicos)))")
        }
        for (title, rows) in [("by provider", providers), ("by model", models)] where !rows.isEmpty {
            lines.append("")
            lines.append(title)
            lines += TextTable.render(header: [], rows: rows.map { row in
                ["  " + row.key, money(row.totals), "\(row.totals.requests) req",
                 title == "by provider" && row.totals.cacheSavedPicos > 0 ? "saved by caching " + money(row.totals.cacheSavedPicos) : ""]
            }, maxWidths: [48, 22, 12, 40]).split(separator: "\n").map { String($0).trimmingTrailingSpaces }
        }
        return lines
    }

    /// `$0.0123  4 requests, 1000 in, 200 out`.
    static func line(_ totals: CostTotals) -> String {
        "\(money(totals))  \(totals.requests) requests, \(totals.inputTokens) in, \(totals.outputTokens) out"
    }

    /// F3: this session, split by persona, and today, then everything the ledger holds; the
    /// same queries as `persona costs` and the header.
    public static func overlayLines(_ ledger: Ledger, session: String, names: [String: String] = [:]) throws -> [String] {
        let (totals, providers, models) = try ledger.summary(in: Ledger.Period())
        let personas = try ledger.totalsByPersona(session: session)
        let width = personas.map { (names[$0.persona] ?? $0.persona).count }.max() ?? 0
        let split = personas.map { entry in
            let name = names[entry.persona] ?? entry.persona
            return "  " + name + String(repeating: " ", count: width - name.count + 2) + line(entry.totals)
        }
        return ["This session  " + line(try ledger.totals(session: session))] + split
            + ["Today         " + line(try ledger.totals(in: .day())), ""]
            + summaryLines(totals: totals, providers: providers, models: models, period: Ledger.Period(), batch: try ledger.batchTotals())
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
        var total = CostTotals()
        for day in days {
            guard total.add(day.totals) else {
                throw LedgerError(path: ledger.path, reason: "its costs add up to more than Persona can keep exactly")
            }
        }
        // An average is not a ledger amount: it is rounded, half up, to the picodollar.
        let average = (total.picos + Int64(days.count) / 2) / Int64(max(1, days.count))
        let estimated = days.filter { $0.totals.estimated > 0 }.map(\.day)
        if options.json {
            return JSON.object([
                "daily_costs": .object(JSONObject(days.map { .init(key: $0.day, value: EventJSON.amount($0.totals.picos)) })),
                "total": EventJSON.amount(total.picos),
                "average_daily": EventJSON.amount(average),
                "estimated_days": .array(estimated.map { .string($0) }),
                "unpriced_requests": .int(total.unpriced),
            ]).serialized + "\n"
        }
        let rows = days.map { [$0.day, $0.totals.requests == 0 ? "$0" : money($0.totals)] }
            + [["total", money(total)], ["average", money(average, estimated: !estimated.isEmpty)]]
        return TextTable.render(header: ["DAY", "COST"], rows: rows, maxWidths: [12, 24])
    }

    static func breakdown(_ ledger: Ledger, _ options: Options, byModel: Bool) throws -> String {
        let rows = try ledger.breakdown(byModel: byModel, in: options.period)
        if options.json {
            return JSON.object(["costs": .object(JSONObject(rows.map { row in
                .init(key: row.key, value: .object([
                    "total": cost(row.totals), "request_count": .int(row.totals.requests),
                    "input_tokens": .int(row.totals.inputTokens), "output_tokens": .int(row.totals.outputTokens),
                    "estimated_requests": .int(row.totals.estimated), "unpriced_requests": .int(row.totals.unpriced),
                    "saved_by_caching": EventJSON.amount(row.totals.cacheSavedPicos),
                ]))
            }))]).serialized + "\n"
        }
        return TextTable.render(
            header: [byModel ? "MODEL" : "PROVIDER", "COST", "REQUESTS", "INPUT", "OUTPUT", "SAVED BY CACHING"],
            rows: rows.map { [$0.key, money($0.totals), "\($0.totals.requests)", "\($0.totals.inputTokens)", "\($0.totals.outputTokens)",
                              money($0.totals.cacheSavedPicos)] },
            maxWidths: [48, 22, 9, 12, 12, 18])
    }

    static func entries(_ ledger: Ledger, _ options: Options) throws -> String {
        let entries = try ledger.entries(limit: options.limit, in: options.period)
        var total: Int64 = 0
        for entry in entries {
            guard let sum = Money.sum(total, entry.costPicos ?? 0) else {
                throw LedgerError(path: ledger.path, reason: "its costs add up to more than Persona can keep exactly")
            }
            total = sum
        }
        if options.json {
            return JSON.object([
                "entries": .array(entries.map { entry in
                    .object([
                        "provider": .string(entry.provider), "model": .string(entry.model),
                        "input_tokens": .int(entry.inputTokens), "output_tokens": .int(entry.outputTokens),
                        "cost": entry.costPicos.map(EventJSON.amount) ?? .null, "timestamp": iso(entry.timestamp),
                        "request_id": .string(entry.requestID ?? "row-\(entry.id ?? 0)"), "client": entry.client.map(JSON.string) ?? .null,
                        "session": .string(entry.session), "persona": .string(entry.persona),
                        "status": .string(entry.status.rawValue), "estimated": .bool(entry.estimated),
                        "usage_note": entry.usageNote.map { .string($0) } ?? .null,
                        "error_kind": entry.errorKind.map { .string($0) } ?? .null,
                        "http_status": entry.httpStatus.map { .int($0) } ?? .null,
                    ])
                }),
                "total": EventJSON.amount(total),
            ]).serialized + "\n"
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return TextTable.render(
            header: ["ID", "TIME", "PERSONA", "MODEL", "IN", "OUT", "COST", "STATUS"],
            rows: entries.map { entry in
                let mark = entry.estimated ? "~" : ""
                return ["\(entry.id ?? 0)", formatter.string(from: entry.timestamp), entry.persona, "\(entry.provider):\(entry.model)",
                        mark + "\(entry.inputTokens)", mark + "\(entry.outputTokens)",
                        entry.costPicos.map { money($0, estimated: entry.estimated) } ?? "$?",
                        entry.status.rawValue + (entry.errorKind.flatMap { $0 == entry.status.rawValue ? nil : " (\($0))" } ?? "")]
            }, maxWidths: [8, 19, 14, 40, 9, 9, 16, 26])
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

extension CostsReport {
    /// `--since` and `--until`: a full ISO 8601 time, or a date meaning its local midnight.
    public static func date(_ text: String, option: String) throws -> Date {
        if let full = ISO8601DateFormatter().date(from: text) { return full }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        if let day = formatter.date(from: text) { return day }
        throw UsageError("\(option): '\(text)' is not a date such as 2026-11-01 or 2026-11-01T09:00:00Z")
    }
}
