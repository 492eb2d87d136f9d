import Foundation

/// The figures of a finished turn, however it ended.
public struct TurnReport: Sendable, Equatable {
    public var text: String
    public var finishReason: FinishReason?
    /// Provider-reported counts where they arrived and were believed, estimates elsewhere.
    public var usage: Usage
    /// True while any count is an estimate; false once the provider's usage replaced them.
    public var estimated: Bool { inputEstimated || outputEstimated }
    public var inputEstimated: Bool
    public var outputEstimated: Bool
    /// Why the provider's usage was not believed, when it was not.
    public var usageNote: String?
    /// Exact, in picodollars; nil while the model's price is unknown, never a guessed zero.
    public var costPicos: Int64?
    public var timeToFirstToken: Double?
    public var duration: Double
    public var httpStatus: Int?
    /// What the model said in declining to answer; nil when it did not refuse. `text` then holds
    /// only the answer's content, which is often empty.
    public var refusal: String?
    /// The answer read and checked against its schema; nil when it has none.
    public var structured: StructuredAnswer?
    /// The requests the turn took: more than one after tool calls or a repair.
    public var steps = 1
    /// The tools the model asked for in the last step.
    public var toolCalls: [ToolCall] = []

    /// What the provider sent, with its usage as the check left it, and any known key it echoed hidden.
    public init(outcome: TurnOutcome, usage checked: CheckedUsage) {
        text = Secrets.redact(outcome.text)
        finishReason = outcome.finish
        if !outcome.refusal.isEmpty || outcome.finish?.kind == .refusal {
            // Anthropic says only that it refused (`stop_reason: refusal`); OpenAI says what.
            refusal = outcome.refusal.isEmpty ? "The model declined to answer." : Secrets.redact(outcome.refusal)
            finishReason = FinishReason(kind: .refusal, raw: outcome.finish?.raw ?? "refusal")
        }
        toolCalls = outcome.toolCalls
        timeToFirstToken = outcome.timeToFirstToken
        duration = outcome.duration
        httpStatus = outcome.httpStatus
        usage = checked.usage
        inputEstimated = checked.inputEstimated
        outputEstimated = checked.outputEstimated
        usageNote = checked.note
    }

    /// The report of a turn refused before its request was sent: nothing streamed, nothing spent.
    public static func notSent() -> TurnReport {
        TurnReport(outcome: TurnOutcome(text: "", reasoning: "", reportedUsage: Usage(), responseHeaders: HTTPHeaders(), duration: 0),
                   usage: CheckedUsage(usage: Usage(inputTokens: 0, outputTokens: 0), inputEstimated: false, outputEstimated: false))
            .priced(0)
    }

    /// The turn after a further step: the step's ending, the sums of both steps' usage and cost
    /// (unknown if either is), and the time of both. The text is the step's when it replaces
    /// the answer (a repair), else what both said.
    func followed(by step: TurnReport, replacingText: Bool) -> TurnReport {
        var total = step
        if !replacingText { total.text = [text, step.text].filter { !$0.isEmpty }.joined(separator: "\n\n") }
        total.steps = steps + step.steps
        total.usage = Usage(inputTokens: Usage.adding(usage.inputTokens, step.usage.inputTokens),
                            cachedInputTokens: Usage.adding(usage.cachedInputTokens, step.usage.cachedInputTokens),
                            cacheWriteTokens: Usage.adding(usage.cacheWriteTokens, step.usage.cacheWriteTokens),
                            cacheWrite1hTokens: Usage.adding(usage.cacheWrite1hTokens, step.usage.cacheWrite1hTokens),
                            outputTokens: Usage.adding(usage.outputTokens, step.usage.outputTokens),
                            reasoningTokens: Usage.adding(usage.reasoningTokens, step.usage.reasoningTokens))
        total.inputEstimated = inputEstimated || step.inputEstimated
        total.outputEstimated = outputEstimated || step.outputEstimated
        let notes = [usageNote, step.usageNote].compactMap { $0 }
        total.usageNote = notes.isEmpty ? nil : notes.joined(separator: "; ")
        total.costPicos = costPicos.flatMap { first in step.costPicos.map { first + $0 } }
        total.timeToFirstToken = timeToFirstToken
        total.duration = duration + step.duration
        return total
    }

    func priced(_ picos: Int64?) -> TurnReport {
        var report = self
        report.costPicos = picos
        return report
    }
}
