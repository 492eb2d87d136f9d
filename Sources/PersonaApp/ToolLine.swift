import PersonaKit

/// A tool call as one line: `⚙ time/get_current_time {"timezone":"UTC"} → "2026-…"`, with `…`
/// while it runs and `✗` before an error. Runs of spaces and line breaks in the arguments and the
/// result fold to one space, so that the line stays a line. A pane keeps it long (and cuts it to
/// one row until zoomed); a notice on stderr keeps it short.
enum ToolLine {
    enum Length {
        case pane, notice

        var arguments: Int { self == .pane ? 1000 : 60 }
        var result: Int { self == .pane ? 4000 : 80 }
    }

    static func text(_ activity: ToolActivity, _ length: Length) -> String {
        let arguments = cut(activity.call.arguments.string ?? activity.call.arguments.serialized, to: length.arguments)
        let head = "⚙ \(activity.label) \(arguments)"
        guard let result = activity.result else { return head + " …" }
        return head + (result.isError ? " ✗ " : " → ") + cut(result.content, to: length.result)
    }

    static func cut(_ text: String, to length: Int) -> String {
        let folded = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return folded.count > length ? String(folded.prefix(length - 1)) + "…" : folded
    }
}
