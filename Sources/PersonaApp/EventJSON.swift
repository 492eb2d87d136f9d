import Foundation
import PersonaKit

/// The JSON-lines form of turn events (DESIGN.md §6), one object per line.
public enum EventJSON {
    public static func request(_ id: TurnID) -> JSON {
        .object(["event": .string("request"), "persona": .string(id.personaID), "provider": .string(id.model.provider),
                 "model": .string(id.model.model), "round": .int(id.round)])
    }

    public static func delta(_ id: TurnID, _ text: String) -> JSON {
        .object(["event": .string("delta"), "persona": .string(id.personaID), "round": .int(id.round), "text": .string(text)])
    }

    public static func done(_ id: TurnID, _ report: TurnReport) -> JSON {
        .object([
            "event": .string("done"), "persona": .string(id.personaID), "round": .int(id.round),
            "provider": .string(id.model.provider), "model": .string(id.model.model), "text": .string(report.text),
            "finish_reason": report.finishReason.map { .string($0.description) } ?? .null,
            "usage": usage(report.usage), "cost_usd": cost(report.costPicos), "estimated": .bool(report.estimated),
            "usage_note": report.usageNote.map { .string($0) } ?? .null,
            "ttft_ms": report.timeToFirstToken.map { .int(milliseconds($0)) } ?? .null,
            "duration_ms": .int(milliseconds(report.duration)),
            "refusal": report.refusal.map { .string($0) } ?? .null, "steps": .int(report.steps),
            "structured": report.structured?.value ?? .null,
            "schema_valid": report.structured.map { .bool($0.isValid) } ?? .null,
            "schema_errors": .array((report.structured?.problems ?? []).map(problem)),
        ])
    }

    /// An answer sent back because it broke its schema.
    public static func repair(_ id: TurnID, _ repair: SchemaRepair) -> JSON {
        .object(["event": .string("repair"), "persona": .string(id.personaID), "round": .int(id.round),
                 "attempt": .int(repair.attempt), "of": .int(repair.of), "schema_errors": .array(repair.problems.map(problem)),
                 "rejected_text": .string(repair.rejectedText)])
    }

    public static func toolCall(_ id: TurnID, _ activity: ToolActivity) -> JSON {
        tool("tool_call", id, activity, fields: ["step", "id", "name", "arguments"])
    }

    public static func toolResult(_ id: TurnID, _ activity: ToolActivity) -> JSON {
        tool("tool_result", id, activity, fields: ["step", "id", "name", "content", "is_error", "duration_ms"])
    }

    /// A tool event: the turn's persona and round, then `fields` of the call's saved record.
    private static func tool(_ event: String, _ id: TurnID, _ activity: ToolActivity, fields: [String]) -> JSON {
        let head: [JSONObject.Member] = [.init(key: "event", value: .string(event)), .init(key: "persona", value: .string(id.personaID)),
                                         .init(key: "round", value: .int(id.round))]
        return .object(JSONObject(head + activity.record.members.filter { fields.contains($0.key) }))
    }

    static func problem(_ problem: SchemaProblem) -> JSON {
        .object(["path": .string(problem.path), "problem": .string(problem.problem)])
    }

    public static func error(_ id: TurnID, _ error: ProviderError, _ report: TurnReport) -> JSON {
        .object([
            "event": .string("error"), "persona": .string(id.personaID), "round": .int(id.round),
            "provider": .string(id.model.provider), "model": .string(id.model.model), "kind": .string(error.kind.rawValue),
            "status": error.status.map { .int($0) } ?? .null, "message": .string(error.message),
            "retryable": .bool(error.retryable), "partial_text": .string(report.text),
            "usage": usage(report.usage), "estimated": .bool(report.estimated),
        ])
    }

    /// The ledger could not be opened or written before any turn began.
    public static func ledgerError(_ error: LedgerError) -> JSON {
        .object(["event": .string("error"), "kind": .string(ProviderError.Kind.ledger.rawValue), "message": .string(error.description),
                 "retryable": .bool(false)])
    }

    public static func queued(_ id: TurnID, wait: Double) -> JSON {
        .object(["event": .string("queued"), "persona": .string(id.personaID), "round": .int(id.round),
                 "provider": .string(id.model.provider), "wait_ms": .int(milliseconds(wait)), "reason": .string("rate limit")])
    }

    public static func retry(_ id: TurnID, _ retry: TurnRetry) -> JSON {
        .object(["event": .string("retry"), "persona": .string(id.personaID), "round": .int(id.round), "attempt": .int(retry.attempt),
                 "of": .int(retry.of), "delay_ms": .int(milliseconds(retry.delay)), "reason": .string(retry.reason.kind.rawValue),
                 "status": retry.reason.status.map { .int($0) } ?? .null, "message": .string(retry.reason.message),
                 "partial_text": .string(retry.partialText)])
    }

    public static func failover(_ id: TurnID, from: ModelRef, reason: ProviderError) -> JSON {
        .object(["event": .string("failover"), "persona": .string(id.personaID), "round": .int(id.round),
                 "from": .string(from.description), "to": .string(id.model.description), "reason": .string(reason.kind.rawValue),
                 "message": .string(reason.message)])
    }

    /// Any turn event as JSON; nil for those the JSON lines leave out (mid-stream usage, and the
    /// moment of sending, which `ttft_ms` already counts from).
    public static func event(_ event: TurnEvent) -> JSON? {
        let id = event.turn
        switch event.kind {
        case .started: return request(id)
        case .delta(let text): return delta(id, text)
        case .done(let report): return done(id, report)
        case .failed(let failure, let report): return error(id, failure, report)
        case .queued(let wait): return queued(id, wait: wait)
        case .retry(let attempt): return retry(id, attempt)
        case .failover(let from, let reason): return failover(id, from: from, reason: reason)
        case .repair(let attempt): return repair(id, attempt)
        case .toolCall(let activity): return toolCall(id, activity)
        case .toolResult(let activity): return toolResult(id, activity)
        case .usage, .sent: return nil
        }
    }

    /// The session's totals as the ledger holds them: every request, retries, the moderator's
    /// and the judge's included. Without a readable ledger the figures are null.
    public static func summary(session: String, totals: CostTotals?) -> JSON {
        .object(["event": .string("summary"), "session": .string(session),
                 "cost_usd": totals.flatMap { $0.unpriced > 0 ? nil : $0.picos }.map(amount) ?? .null,
                 "input_tokens": totals.map { .int($0.inputTokens) } ?? .null,
                 "output_tokens": totals.map { .int($0.outputTokens) } ?? .null,
                 "requests": totals.map { .int($0.requests) } ?? .null, "estimated": .bool((totals?.estimated ?? 0) > 0)])
    }

    static func usage(_ usage: Usage) -> JSON {
        func count(_ value: Int?) -> JSON { value.map { .int($0) } ?? .null }
        return .object(["input_tokens": count(usage.inputTokens), "cached_input_tokens": count(usage.cachedInputTokens),
                        "cache_write_tokens": count(usage.cacheWriteTokens), "output_tokens": count(usage.outputTokens),
                        "reasoning_tokens": count(usage.reasoningTokens)])
    }

    /// Printed from the exact amount; null when the price is unknown.
    static func cost(_ picos: Int64?) -> JSON {
        picos.map(amount) ?? .null
    }

    /// An exact amount as a JSON number: `0.00060165`.
    public static func amount(_ picos: Int64) -> JSON { .number(Money.exactText(picos)) }

    static func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }
}
