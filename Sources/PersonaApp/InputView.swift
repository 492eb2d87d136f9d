import PersonaKit
import TerminalUI

/// The message being typed, with its prompt.
enum InputView {
    static let prompt = "› "

    /// The input's lines as shown: each line of text wrapped after the prompt's width.
    static func lines(_ text: String, width: Int) -> [String] {
        let inner = max(1, width - DisplayWidth.of(prompt))
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lines += hardWrap(String(paragraph), width: inner)
        }
        return lines
    }

    /// Cuts by width only: while editing, words must not jump between lines under the cursor.
    static func hardWrap(_ text: String, width: Int) -> [String] {
        var lines = [""]
        var used = 0
        for character in text {
            let characterWidth = DisplayWidth.of(character)
            if used + characterWidth > width {
                lines.append("")
                used = 0
            }
            lines[lines.count - 1].append(character)
            used += characterWidth
        }
        return lines
    }

    /// Draws the input's last lines that fit (`all`, as `lines` wrapped them) and returns where
    /// the cursor goes.
    static func draw(_ input: InputLine, lines all: [String], in rect: Rect, into frame: inout CellBuffer) -> (x: Int, y: Int)? {
        let before = String(input.text.prefix(input.cursor))
        let cursorLines = lines(before, width: rect.width)
        let cursorRow = cursorLines.count - 1
        let first = max(0, min(cursorRow - rect.height + 1, all.count - rect.height))
        for row in 0..<rect.height where first + row < all.count {
            let prefix = first + row == 0 ? prompt : "  "
            frame.put(prefix, x: rect.x, y: rect.y + row, style: Theme.inputPrefix)
            frame.put(InertText.sanitize(all[first + row]), x: rect.x + 2, y: rect.y + row, limit: rect.width - 2)
        }
        let column = DisplayWidth.of(cursorLines.last ?? "")
        return (rect.x + 2 + column, rect.y + cursorRow - first)
    }
}

enum HelpView {
    static let lines = [
        "Persona: keys",
        "",
        "Enter            send to every persona",
        "Alt-Enter, ^J    new line in the message",
        "↑ ↓              walk the message history",
        "^A ^E ^W ^U      start, end, delete word, delete line",
        "Tab, Shift-Tab   move focus between panes",
        "PgUp PgDn        scroll the focused pane (or wheel)",
        "Home End         top; back to following the stream",
        "Esc              stop the focused pane; Esc Esc all",
        "Ctrl-R           regenerate the focused pane's answer",
        "F2               zoom the focused pane",
        "F3               what it has cost (from the ledger)",
        "F4               providers: breakers, limits, latency",
        "Ctrl-C           stop streams; twice to quit",
        "",
        "/model NAME provider:model   /add NAME   /drop NAME",
        "/clear   /help   /quit",
        "",
        "Any key closes this.",
    ]

}

/// A centred box of text over the screen, for help and the cost summary.
enum OverlayView {
    static func draw(_ lines: [String], in bounds: Rect, into frame: inout CellBuffer) {
        let width = min(bounds.width - 2, (lines.map { DisplayWidth.of($0) }.max() ?? 0) + 4)
        let height = min(bounds.height - 2, lines.count + 2)
        let box = Rect(x: (bounds.width - width) / 2, y: (bounds.height - height) / 2, width: width, height: height)
        frame.fill(box, style: Theme.overlay)
        for (row, line) in lines.prefix(height - 2).enumerated() {
            frame.put(line, x: box.x + 2, y: box.y + 1 + row, style: row == 0 ? Theme.overlayTitle : Theme.overlay, limit: width - 4)
        }
    }
}
