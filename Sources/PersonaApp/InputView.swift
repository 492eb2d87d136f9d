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

/// A centred box of text over the screen, for help and the reports: from line `top` on when it
/// is longer than the screen, with a line saying what more there is.
enum OverlayView {
    static func draw(_ lines: [String], top: Int, in bounds: Rect, into frame: inout CellBuffer) {
        let closing = "Any key closes this."
        let all = lines + ["", closing]
        let width = min(bounds.width - 2, (all.map { DisplayWidth.of($0) }.max() ?? 0) + 4)
        let height = min(bounds.height - 2, all.count + 2)
        let box = Rect(x: (bounds.width - width) / 2, y: (bounds.height - height) / 2, width: width, height: height)
        frame.fill(box, style: Theme.overlay)
        let rows = max(0, height - 2)
        let first = min(max(0, top), max(0, all.count - rows))
        var shown = Array(all[first..<min(all.count, first + rows)])
        if first + rows < all.count, !shown.isEmpty {
            shown[shown.count - 1] = "↓ \(all.count - first - rows + 1) more lines (PgDn); any other key closes this."
        }
        for (row, line) in shown.enumerated() {
            let style = row == 0 && first == 0 ? Theme.overlayTitle : Theme.overlay
            frame.put(line, x: box.x + 2, y: box.y + 1 + row, style: style, limit: width - 4)
        }
    }
}
