import TerminalUI

/// A light Markdown style for model answers: headings, lists, quotes, fenced code blocks on a
/// tinted background, and inline `**bold**` and `` `code` ``.
///
/// It styles one line at a time; the only state carried between lines is whether a code fence is
/// open, so streamed text can be styled incrementally.
enum Markdown {
    struct LineState: Equatable {
        var inFence = false
    }

    /// Styles one line (no newline) given the state after the previous line.
    static func style(_ line: String, state: inout LineState) -> [StyledRun] {
        let trimmed = line.drop(while: { $0 == " " })
        if trimmed.hasPrefix("```") {
            state.inFence.toggle()
            return [StyledRun(line, Theme.code)]
        }
        if state.inFence { return [StyledRun(line.isEmpty ? " " : line, Theme.code)] }
        if trimmed.hasPrefix("#") {
            let text = trimmed.drop(while: { $0 == "#" }).drop(while: { $0 == " " })
            return inline(String(text), base: Theme.heading)
        }
        if trimmed.hasPrefix("> ") {
            return inline(String(trimmed.dropFirst(2)), base: Theme.quote, prefix: StyledRun("│ ", Theme.separator))
        }
        let indent = String(line.prefix(line.count - trimmed.count))
        if trimmed.hasPrefix("- ") || trimmed.hasPrefix("* ") || trimmed.hasPrefix("+ ") {
            return inline(String(trimmed.dropFirst(2)), base: .plain, prefix: StyledRun(indent + "• ", Theme.heading))
        }
        if let dot = trimmed.firstIndex(of: "."), trimmed[..<dot].allSatisfy(\.isNumber), !trimmed[..<dot].isEmpty,
           trimmed[trimmed.index(after: dot)...].hasPrefix(" ") {
            let number = String(trimmed[...dot])
            return inline(String(trimmed[trimmed.index(dot, offsetBy: 2)...]), base: .plain,
                          prefix: StyledRun(indent + number + " ", Theme.heading))
        }
        return inline(line, base: .plain)
    }

    /// Inline `**bold**` and `` `code` ``; markers are hidden, unmatched ones shown as typed.
    static func inline(_ text: String, base: Style, prefix: StyledRun? = nil) -> [StyledRun] {
        var runs: [StyledRun] = prefix.map { [$0] } ?? []
        var current = ""
        var bold = false
        var code = false
        var index = text.startIndex
        func flush() {
            guard !current.isEmpty else { return }
            var style = code ? Theme.inlineCode : base
            if bold { style.bold = true }
            runs.append(StyledRun(current, style))
            current = ""
        }
        while index < text.endIndex {
            let character = text[index]
            let rest = text[index...]
            if character == "`", code || rest.dropFirst().contains("`") {
                flush()
                code.toggle()
                index = text.index(after: index)
                continue
            }
            if !code, rest.hasPrefix("**"), bold || rest.dropFirst(2).contains("**") {
                flush()
                bold.toggle()
                index = text.index(index, offsetBy: 2)
                continue
            }
            current.append(character)
            index = text.index(after: index)
        }
        flush()
        return runs.isEmpty ? [StyledRun("", base)] : runs
    }
}
