import Foundation
import PersonaKit
import TerminalUI

/// Labelled plain-text output for `persona ask`.
///
/// With one persona the answer streams as it arrives. With several, each answer is printed whole
/// under its persona's label as soon as it ends, so that parallel streams never interleave.
/// Model text is made inert before it reaches the terminal. Waits, retries and failovers are
/// notices, for stderr, so that stdout holds only the answers; an attempt that failed after
/// streaming some text leaves that text once, marked, before the next attempt's.
public struct PlainPrinter {
    /// What one event prints: answer text for stdout, a notice for stderr.
    public struct Printed: Equatable {
        public var text = ""
        public var notice = ""
    }

    let liveStreaming: Bool
    /// The turns whose label has been printed, by serial.
    private var headerPrinted: Set<Int> = []
    /// Whether the live attempt has printed text since its label or its last mark.
    private var attemptPrinted = false

    public init(liveStreaming: Bool) {
        self.liveStreaming = liveStreaming
    }

    public mutating func render(_ event: TurnEvent) -> Printed {
        let id = event.turn
        switch event.kind {
        case .started:
            guard liveStreaming else { return Printed() }
            headerPrinted.insert(id.serial)
            return Printed(text: Self.label(id) + "\n")
        case .delta(let text):
            guard liveStreaming else { return Printed() }
            attemptPrinted = attemptPrinted || !text.isEmpty
            return Printed(text: InertText.sanitize(text))
        case .usage, .sent:
            return Printed()
        case .queued, .repair, .toolResult:
            return Printed(notice: Self.note(event))
        case .toolCall:
            // A call is told with its result; one that never ran is told under the answer.
            return Printed()
        case .retry, .failover:
            var printed = Printed(notice: Self.note(event))
            if attemptPrinted {
                printed.text = "\n  [partial: this attempt failed here; the answer starts again below]\n"
                attemptPrinted = false
            }
            return printed
        case .done(let report):
            return Printed(text: body(id, report) + Self.marks(report) + "  " + Self.figures(report) + "\n\n")
        case .failed(let error, let report):
            var text = body(id, report)
            if !report.text.isEmpty { text += "  [partial: the stream failed here]\n" }
            return Printed(text: text + "  failed: \(InertText.sanitize(error.description))\n  " + Self.figures(report) + "\n\n")
        }
    }

    /// The answer under its label, unless it streamed live.
    private mutating func body(_ id: TurnID, _ report: TurnReport) -> String {
        let answer = Self.answer(report)
        var text = ""
        if !headerPrinted.contains(id.serial) {
            text += Self.label(id) + "\n" + InertText.sanitize(answer)
        }
        if !answer.isEmpty, !answer.hasSuffix("\n") { text += "\n" }
        return text
    }

    /// An answer as printed: a valid structured answer as its fields, anything else as its text.
    static func answer(_ report: TurnReport) -> String {
        guard let structured = report.structured, structured.isValid, let value = structured.value else { return report.text }
        return StructuredFields.plain(value)
    }

    /// The lines under an answer that say it was refused, or how it broke its schema.
    static func marks(_ report: TurnReport) -> String {
        let refused = report.refusal.map { "  ⊘ refused: " + InertText.sanitize($0) + "\n" } ?? ""
        let broken = report.structured.map { $0.isValid ? [] : $0.problems } ?? []
        let unrun = report.finishReason?.kind == .toolCalls ? report.toolCalls.map { call in
            "  ⚙ asked for \(InertText.sanitize(call.name)) \(InertText.sanitize(ToolLine.cut(call.arguments.serialized, to: ToolLine.Length.notice.arguments))), "
                + "but no tools were offered\n"
        } : []
        return refused + broken.map { "  ✗ schema: " + InertText.sanitize($0.description) + "\n" }.joined() + unrun.joined()
    }

    /// A one-line note about a wait, a retry or a failover.
    static func note(_ event: TurnEvent) -> String {
        let name = InertText.sanitize(event.turn.personaName)
        switch event.kind {
        case .queued(let wait):
            return String(format: "  %@: queued by the rate limit for %.1f s\n", name, wait)
        case .retry(let retry):
            return "  \(name): retry \(retry.attempt)/\(retry.of) in " + String(format: "%.1f", retry.delay)
                + " s after \(InertText.sanitize(retry.reason.description))\n"
        case .failover(let from, let reason):
            return "  \(name): \(from) failed (\(reason.kind.rawValue)); trying \(event.turn.model)\n"
        case .toolResult(let activity):
            return "  \(name): " + InertText.sanitize(ToolLine.text(activity, .notice)) + "\n"
        case .repair(let repair):
            let first = repair.problems.first.map { InertText.sanitize($0.description) } ?? "a problem"
            return "  \(name): the answer broke its schema (\(first)); asking for repair \(repair.attempt)/\(repair.of)\n"
        default:
            return ""
        }
    }

    /// `12 requests, 4000 in, 900 out, $0.0123` from the ledger's totals.
    public static func totalsText(_ totals: CostTotals?) -> String {
        guard let totals else { return "the cost ledger could not be read" }
        return "\(totals.requests) requests, \(totals.inputTokens) in, \(totals.outputTokens) out, "
            + costText(totals.unpriced > 0 ? nil : totals.picos, estimated: totals.estimated > 0)
    }

    static func label(_ id: TurnID) -> String {
        "── \(InertText.sanitize(id.personaName)) · \(id.model) ──"
    }

    /// `812 in · 245 out · 31.2 tok/s · ttft 0.42 s · 7.9 s · cost unknown`, with `~` on estimates.
    static func figures(_ report: TurnReport) -> String {
        let mark = report.estimated ? "~" : ""
        var parts = ["\(mark)\(report.usage.inputTokens ?? 0) in", "\(mark)\(report.usage.outputTokens ?? 0) out"]
        let output = Double(report.usage.outputTokens ?? 0)
        let streaming = report.duration - (report.timeToFirstToken ?? 0)
        // Over a few milliseconds a rate is noise, not a speed.
        if output > 0, streaming >= 0.05 { parts.append(String(format: "%.1f tok/s", output / streaming)) }
        if let ttft = report.timeToFirstToken { parts.append(String(format: "ttft %.2f s", ttft)) }
        parts.append(String(format: "%.1f s", report.duration))
        parts.append(costText(report.costPicos, estimated: report.estimated))
        return parts.joined(separator: " · ")
    }

    /// A cost as printed, exactly: `$0.00060165`, `~$0.00060165` when estimated, or `cost unknown`.
    static func costText(_ picos: Int64?, estimated: Bool) -> String {
        picos.map { (estimated ? "~$" : "$") + Money.exactText($0) } ?? "cost unknown"
    }
}
