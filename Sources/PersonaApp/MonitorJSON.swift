import Foundation
import PersonaKit

/// `persona monitor --json`: a snapshot as one JSON line, every amount exact in dollars (the
/// same figures as `persona costs --json`), times in ISO 8601.
public enum MonitorJSON {
    public static func line(_ snapshot: MonitorSnapshot) -> String {
        JSON.object([
            "event": .string("snapshot"),
            "time": CostsReport.iso(snapshot.taken),
            "today": totals(snapshot.today),
            "held": EventJSON.amount(snapshot.heldPicos),
            "daily_cap": snapshot.budgets.daily.map(EventJSON.amount) ?? .null,
            "last_minute": totals(snapshot.lastMinute),
            "last_hour": totals(snapshot.lastHour),
            "per_minute": .array(snapshot.perMinute.map(EventJSON.amount)),
            "in_flight": .array(snapshot.inFlight.map(request)),
            "providers": .array(snapshot.providers.map(provider)),
            "top": .object(JSONObject(SpenderKind.allCases.map { kind in
                .init(key: kind.rawValue, value: .array((snapshot.spenders[kind] ?? []).map { spender in
                    .object(["key": spender.key.isEmpty ? .null : .string(spender.key), "totals": totals(spender.totals)])
                }))
            })),
            "warnings": .array(snapshot.warnings.map { warning in
                .object(["budget": .string(warning.budget), "spent": EventJSON.amount(warning.spentPicos),
                         "cap": EventJSON.amount(warning.capPicos), "exhausted": .bool(warning.exhausted)])
            }),
        ]).serialized
    }

    static func totals(_ totals: CostTotals) -> JSON {
        .object(["cost": CostsReport.cost(totals), "requests": .int(totals.requests), "input_tokens": .int(totals.inputTokens),
                 "output_tokens": .int(totals.outputTokens), "estimated_requests": .int(totals.estimated),
                 "unpriced_requests": .int(totals.unpriced)])
    }

    static func request(_ request: InFlightRequest) -> JSON {
        .object([
            "source": request.source.map(JSON.string) ?? .null, "client": request.client.map(JSON.string) ?? .null,
            "session": .string(request.session), "persona": .string(request.persona), "provider": .string(request.provider),
            "model": .string(request.model), "started": CostsReport.iso(request.started), "output_tokens": .int(request.outputTokens),
            "output_exact": .bool(request.outputExact), "cost_so_far": request.picosSoFar.map(EventJSON.amount) ?? .null,
            "reserved": request.reservedPicos.map(EventJSON.amount) ?? .null, "stale": .bool(request.stale),
            "batch_job": request.batchJob.map(JSON.string) ?? .null,
        ])
    }

    static func provider(_ provider: ProviderActivity) -> JSON {
        func number(_ value: Int?) -> JSON { value.map(JSON.int) ?? .null }
        return .object([
            "provider": .string(provider.provider), "today": totals(provider.today), "failed": .int(provider.failed),
            "attempted": .int(provider.attempted), "ttft_p50_ms": number(provider.ttftP50), "ttft_p95_ms": number(provider.ttftP95),
            "breaker": provider.breaker.map(JSON.string) ?? .null, "remaining_requests": number(provider.remainingRequests),
            "limit_requests": number(provider.limitRequests), "remaining_tokens": number(provider.remainingTokens),
            "limit_tokens": number(provider.limitTokens), "blocked_until": CostsReport.iso(provider.blockedUntil),
        ])
    }

    /// A snapshot that could not be read, as a JSON line, so that a status bar can say why.
    public static func problem(_ problem: MonitorProblem, at time: Date = Date()) -> String {
        JSON.object(["event": .string("error"), "time": CostsReport.iso(time), "error": .string(problem.description)]).serialized
    }
}
