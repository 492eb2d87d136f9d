import PersonaKit

/// A tool call as one line of a pane: `⚙ time/get_current_time {"timezone":"UTC"} → "2026-…"`,
/// with `…` while it runs and `✗` before an error. Long arguments and results are cut, and runs
/// of spaces and line breaks in them folded to one space, so that the line stays one line.
enum ToolLine {
    static let longestArguments = 60
    static let longestResult = 80

    static func text(_ activity: ToolActivity) -> String {
        let arguments = cut(activity.call.arguments.string ?? activity.call.arguments.serialized, to: longestArguments)
        let head = "⚙ \(activity.label) \(arguments)"
        guard let result = activity.result else { return head + " …" }
        return head + (result.isError ? " ✗ " : " → ") + cut(result.content, to: longestResult)
    }

    static func cut(_ text: String, to length: Int) -> String {
        let folded = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return folded.count > length ? String(folded.prefix(length - 1)) + "…" : folded
    }
}
