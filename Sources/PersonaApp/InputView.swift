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

/// A centred, bordered box of text over the screen, for help and the reports: from line `top` on
/// when it is longer than the screen. Its bottom border says how to close it and what more there
/// is, so neither is ever scrolled or cut away; a blank margin keeps the text under it off its edges.
enum OverlayView {
    static let closing = " Any key closes this. "

    /// The widest text a box on a screen `width` columns wide holds on a line.
    static func textWidth(screenWidth width: Int) -> Int { width - 6 }

    static func draw(_ given: [String], top: Int, search: OverlaySearch? = nil, in bounds: Rect, into frame: inout CellBuffer) {
        let lines = given.flatMap { TextWrap.wrap($0, width: textWidth(screenWidth: bounds.width)) }
        let widest = max(lines.map { DisplayWidth.of($0) }.max() ?? 0, DisplayWidth.of(closing) + 24)
        let width = min(bounds.width - 2, widest + 4)
        let height = min(bounds.height - 2, lines.count + 2)
        guard width > 4, height > 2 else { return }
        let box = Rect(x: (bounds.width - width) / 2, y: (bounds.height - height) / 2, width: width, height: height)
        frame.fill(Rect(x: box.x - 1, y: box.y - 1, width: width + 2, height: height + 2))
        frame.fill(box, style: Theme.overlay)
        let rows = height - 2
        let first = min(max(0, top), max(0, lines.count - rows))
        for (row, line) in lines[first..<min(lines.count, first + rows)].enumerated() {
            let style = row == 0 && first == 0 ? Theme.overlayTitle : Theme.overlay
            frame.put(line, x: box.x + 2, y: box.y + 1 + row, style: style, limit: width - 4)
        }
        let inner = String(repeating: "─", count: width - 2)
        frame.put("┌" + inner + "┐", x: box.x, y: box.y, style: Theme.overlay)
        for row in 1..<(height - 1) {
            frame.put("│", x: box.x, y: box.y + row, style: Theme.overlay)
            frame.put("│", x: box.maxX - 1, y: box.y + row, style: Theme.overlay)
        }
        frame.put("└" + inner + "┘", x: box.x, y: box.maxY - 1, style: Theme.overlay)
        let hidden = lines.count - first - rows
        if let search {
            let state = search.typing ? "█" : search.matched ? " (n: next)" : ": not found"
            frame.put(" /\(search.text)\(state) ", x: box.x + 2, y: box.maxY - 1, style: Theme.overlayTitle, limit: width - 4)
        } else if hidden > 0 {
            frame.put(" ↓ \(hidden) more lines (PgDn) ", x: box.x + 2, y: box.maxY - 1, style: Theme.overlayTitle, limit: width - 4)
        }
        let closingX = max(box.x + 2, box.maxX - 2 - DisplayWidth.of(closing))
        frame.put(closing, x: closingX, y: box.maxY - 1, style: Theme.overlay, limit: box.maxX - 2 - closingX)
    }

}
