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

/// What each stage of a council cost: the session's ledger totals as each stage began (which the
/// runner reads) and once all is done, so that the stages add up to the session's total exactly,
/// retries and reviews asked again included.
struct CouncilStageCosts {
    static let names = ["answers", "reviews", "chair"]
    /// The stage running now; nil outside a council.
    private(set) var current: Int?
    /// The session's totals as each stage began, by stage.
    private var starts: [Int: CostTotals] = [:]
    private var end: CostTotals?

    mutating func begin(_ stage: Int, totals: CostTotals?) {
        current = stage
        starts[stage] = totals ?? CostTotals()
    }

    mutating func finish(totals: CostTotals?) { end = totals }

    /// The rows of `stage`: the totals at the next stage's start (or the end) less its own.
    private func stage(_ stage: Int) -> (picos: Int64, estimated: Bool, unpriced: Bool)? {
        guard let start = starts[stage], let next = starts[stage + 1] ?? end else { return nil }
        return (next.picos - start.picos, next.estimated > start.estimated, next.unpriced > start.unpriced)
    }

    var json: JSON {
        .object(JSONObject(Self.names.indices.map { index in
            let cost = stage(index + 1)
            return JSONObject.Member(key: Self.names[index], value: cost.flatMap { $0.unpriced ? nil : EventJSON.amount($0.picos) } ?? .null)
        }))
    }

    /// `answers $… · reviews $… · chair $…`; a stage that did not run is left out.
    var text: String {
        Self.names.indices.compactMap { index in
            stage(index + 1).map { cost in
                "\(Self.names[index]) " + (cost.unpriced ? "unknown" : (cost.estimated ? "~" : "") + Money.format(picos: cost.picos))
            }
        }.joined(separator: " · ")
    }
}
