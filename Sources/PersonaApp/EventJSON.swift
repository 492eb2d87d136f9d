import Foundation
import PersonaKit

/// The JSON-lines form of engine events (DESIGN.md §6), one object per line.
public enum EventJSON {
    public static func request(_ id: PlannedTurnID) -> JSON {
        .object(["event": .string("request"), "persona": .string(id.personaID), "provider": .string(id.provider),
                 "model": .string(id.model), "round": .int(id.round)])
    }

    public static func delta(_ id: PlannedTurnID, _ text: String) -> JSON {
        .object(["event": .string("delta"), "persona": .string(id.personaID), "round": .int(id.round), "text": .string(text)])
    }

    public static func done(_ id: PlannedTurnID, _ report: TurnReport) -> JSON {
        .object([
            "event": .string("done"), "persona": .string(id.personaID), "round": .int(id.round),
            "provider": .string(id.provider), "model": .string(id.model), "text": .string(report.text),
            "finish_reason": report.finishReason.map { .string($0.description) } ?? .null,
            "usage": usage(report.usage), "cost_usd": cost(report.costPicos), "estimated": .bool(report.estimated),
            "usage_note": report.usageNote.map { .string($0) } ?? .null,
            "ttft_ms": report.timeToFirstToken.map { .int(milliseconds($0)) } ?? .null,
            "duration_ms": .int(milliseconds(report.duration)),
        ])
    }

    public static func error(_ id: PlannedTurnID, _ error: ProviderError, _ report: TurnReport) -> JSON {
        .object([
            "event": .string("error"), "persona": .string(id.personaID), "round": .int(id.round),
            "provider": .string(id.provider), "model": .string(id.model), "kind": .string(error.kind.rawValue),
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

    public static func queued(_ id: PlannedTurnID, wait: Double) -> JSON {
        .object(["event": .string("queued"), "persona": .string(id.personaID), "round": .int(id.round),
                 "provider": .string(id.provider), "wait_ms": .int(milliseconds(wait)), "reason": .string("rate limit")])
    }

    public static func retry(_ id: PlannedTurnID, attempt: Int, of total: Int, delay: Double, reason: ProviderError,
                             partial: String) -> JSON {
        .object(["event": .string("retry"), "persona": .string(id.personaID), "round": .int(id.round), "attempt": .int(attempt),
                 "of": .int(total), "delay_ms": .int(milliseconds(delay)), "reason": .string(reason.kind.rawValue),
                 "status": reason.status.map { .int($0) } ?? .null, "message": .string(reason.message),
                 "partial_text": .string(partial)])
    }

    public static func failover(_ id: PlannedTurnID, from: ModelRef, to: ModelRef, reason: ProviderError) -> JSON {
        .object(["event": .string("failover"), "persona": .string(id.personaID), "round": .int(id.round),
                 "from": .string(from.description), "to": .string(to.description), "reason": .string(reason.kind.rawValue),
                 "message": .string(reason.message)])
    }

    /// Any engine event as JSON; nil for those the JSON lines leave out (mid-stream usage).
    public static func event(_ event: EngineEvent) -> JSON? {
        switch event {
        case .request(let id): return request(id)
        case .delta(let id, let text): return delta(id, text)
        case .done(let id, let report): return done(id, report)
        case .failed(let id, let failure, let report): return error(id, failure, report)
        case .queued(let id, let wait): return queued(id, wait: wait)
        case .retry(let id, let attempt, let total, let delay, let reason, let partial):
            return retry(id, attempt: attempt, of: total, delay: delay, reason: reason, partial: partial)
        case .failover(let id, let from, let to, let reason): return failover(id, from: from, to: to, reason: reason)
        case .usage: return nil
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
