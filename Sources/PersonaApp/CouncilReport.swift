import Foundation
import PersonaKit

/// A council's revealed reviews as `--json` events: a `verdict` line per review and a `ranking`
/// line per answer.
enum CouncilJSON {
    static func lines(_ outcome: CouncilOutcome) -> String {
        let ballot = outcome.ballot
        let labels = JSON.object(JSONObject(ballot.labels.map { JSONObject.Member(key: $0, value: .string(ballot.author(of: $0) ?? "")) }))
        var lines: [JSON] = []
        for verdict in outcome.verdicts {
            let reviewer = outcome.result.reviewers.first { $0.reviewer == verdict.reviewer }
            lines.append(.object([
                "event": .string("verdict"), "reviewer": .string(verdict.reviewer), "pass": .int(verdict.pass),
                "order": .array(verdict.order.map(JSON.string)), "labels": labels,
                "ranking": verdict.ranking.map { .array($0.map { .string(ballot.author(of: $0) ?? $0) }) } ?? .null,
                "valid": .bool(verdict.isValid), "consistency": reviewer?.consistency.map(JSON.double) ?? .null,
                "position_biased": .bool(reviewer?.positionBiased ?? false), "self_rank": reviewer?.selfRank.map { .int($0) } ?? .null,
            ]))
        }
        for row in outcome.result.rows {
            lines.append(.object([
                "event": .string("ranking"), "place": .int(row.place), "label": .string(row.label), "author": .string(row.author),
                "mean_rank": row.meanRank.map(JSON.double) ?? .null, "borda": row.borda.map(JSON.double) ?? .null,
                "first_places": .int(row.firstPlaces), "spread": .int(row.spread),
            ]))
        }
        return lines.map { $0.serialized + "\n" }.joined()
    }
}

/// What each stage of a council cost, from its turns' reports: exact, `~` when a figure was
/// estimated, unknown when a model has no price.
struct CouncilStageCosts {
    static let names = ["answers", "reviews", "chair"]
    /// The stage running now; nil outside a council.
    var current: Int?
    private var picos = [Int64](repeating: 0, count: 3)
    private var estimated = [Bool](repeating: false, count: 3)
    private var unpriced = [Bool](repeating: false, count: 3)

    mutating func note(_ event: TurnEvent) {
        guard let current, (1...3).contains(current) else { return }
        let report: TurnReport
        switch event.kind {
        case .done(let done): report = done
        case .failed(_, let failed): report = failed
        default: return
        }
        let index = current - 1
        guard let cost = report.costPicos else {
            unpriced[index] = true
            return
        }
        picos[index] = Money.sum(picos[index], cost) ?? .max
        estimated[index] = estimated[index] || report.estimated
    }

    var json: JSON {
        .object(JSONObject(Self.names.indices.map { index in
            JSONObject.Member(key: Self.names[index], value: unpriced[index] ? .null : EventJSON.amount(picos[index]))
        }))
    }

    /// `answers $… · reviews $… · chair $…`.
    var text: String {
        Self.names.indices.map { index in
            let amount = unpriced[index] ? "unknown" : (estimated[index] ? "~" : "") + Money.format(picos: picos[index])
            return "\(Self.names[index]) \(amount)"
        }.joined(separator: " · ")
    }
}
