import Foundation
import Synchronization
import PersonaKit
import TerminalUI

/// Draws the state into a frame. Pure: it reads the state and never changes it.
public enum ChatView {
    public static func render(_ state: AppState) -> (frame: CellBuffer, cursor: (x: Int, y: Int)?) {
        var frame = CellBuffer(width: state.width, height: state.height)
        let cursor = render(state, into: &frame)
        return (frame, cursor)
    }

    /// Draws into `frame`, blanked first, or replaced when its size is not the state's; returns
    /// where the cursor goes. A frame buffer used again costs no allocation and no fresh pages.
    public static func render(_ state: AppState, into frame: inout CellBuffer) -> (x: Int, y: Int)? {
        if frame.width == state.width, frame.height == state.height {
            frame.blank()
        } else {
            frame = CellBuffer(width: state.width, height: state.height)
        }
        let layout = ScreenLayout(state)
        if layout.tooSmall {
            drawTooSmall(state, into: &frame)
            return nil
        }
        HeaderView.draw(state, in: layout.header, into: &frame)
        // Through a buffer pointer each pane is lent to its view, not copied with a retain of
        // every reference it holds.
        state.panes.withUnsafeBufferPointer { panes in
            for placement in layout.panes {
                PaneView.draw(panes[placement.index], focused: placement.index == state.focus && panes.count > 1,
                              placement: placement, now: state.now, into: &frame)
            }
        }
        let bar = Cell("│", style: Theme.separator)
        for separator in layout.separators {
            for y in separator.y..<separator.maxY where frame.contains(x: separator.x, y: y) { frame[separator.x, y] = bar }
        }
        if state.panes.isEmpty {
            frame.put("No personas on screen. Add one with /add NAME.", x: 2, y: 2, style: Theme.hint)
        }
        let cursor = InputView.draw(state.input, in: layout.input, into: &frame)
        drawHint(state, in: layout.hint, into: &frame)
        switch state.overlay {
        case .help:
            OverlayView.draw(HelpView.lines, in: frame.bounds, into: &frame)
            return nil
        case .report(let lines):
            OverlayView.draw(lines + ["", "Any key closes this."], in: frame.bounds, into: &frame)
            return nil
        case nil:
            break
        }
        return cursor
    }

    static func drawTooSmall(_ state: AppState, into frame: inout CellBuffer) {
        let lines = [
            "Terminal too small",
            "\(state.width)×\(state.height); Persona needs",
            "\(ScreenLayout.minimumWidth)×\(ScreenLayout.minimumHeight). Enlarge it,",
            "or Ctrl-C twice to quit.",
        ]
        let top = max(0, (state.height - lines.count) / 2)
        for (offset, line) in lines.enumerated() {
            let shown = DisplayWidth.truncate(line, to: state.width)
            frame.put(shown, x: max(0, (state.width - DisplayWidth.of(shown)) / 2), y: top + offset,
                      style: offset == 0 ? Theme.notice : Theme.hint)
        }
    }

    static let hints = "Enter send · Alt-Enter newline · Tab focus · PgUp/PgDn scroll · Esc stop · Ctrl-R regenerate · F2 zoom · F3 costs · F4 providers · F1 help · Ctrl-C ×2 quit"

    static func drawHint(_ state: AppState, in rect: Rect, into frame: inout CellBuffer) {
        if let notice = state.notice {
            frame.put(DisplayWidth.truncate(notice, to: rect.width), x: rect.x, y: rect.y, style: Theme.notice)
        } else {
            frame.put(hintRows.row(rect.width, width: rect.width) { [StyledRun(DisplayWidth.truncate(hints, to: rect.width), Theme.hint)] },
                      x: rect.x, y: rect.y)
        }
    }

    private static let hintRows = RowCache<Int>()
}

enum HeaderView {
    static func draw(_ state: AppState, in rect: Rect, into frame: inout CellBuffer) {
        // The session's part changes seldom and is laid out once per text; the figures change with
        // every token while answers stream, and are written over it as bytes.
        let progress = state.mode == .parallel ? nil : state.progress
        let key = Key(session: state.session, mode: state.mode, round: state.round, progressRound: progress?.current,
                      progressTotal: progress?.total ?? 0, width: rect.width)
        frame.put(rows.row(key) {
            CellRow(width: rect.width) { line in
                line.fill(line.bounds, style: Theme.header)
                line.put(leftRuns(key), x: 0, y: 0)
            }
        }, x: rect.x, y: rect.y)
        let figures = costFigures(state)
        // Right-aligned; on a header too narrow for them, their start is cut rather than their end.
        var x = rect.maxX - figures.reduce(0) { $0 + $1.text.width }
        // A column of the header's own colour keeps the session's text off the figures.
        if x > rect.x { frame.put(" ", x: x - 1, y: rect.y, style: Theme.header) }
        for piece in figures { x = piece.text.put(into: &frame, x: x, y: rect.y, style: piece.style) }
    }

    private struct Key: Hashable {
        var session: String
        var mode: ConversationMode
        var round: Int
        /// The round of a conversation that counts its rounds, and how many it will run.
        var progressRound: Int?
        var progressTotal: Int
        var width: Int
    }

    private static func leftRuns(_ key: Key) -> [StyledRun] {
        var left = [StyledRun(" Persona ", Theme.header), StyledRun("│ \(key.session) │ \(key.mode.rawValue)", Theme.headerDim)]
        if let current = key.progressRound {
            left.append(StyledRun(" │ round \(current)/\(key.progressTotal)", Theme.header))
        } else if key.round > 0 {
            left.append(StyledRun(" │ round \(key.round)", Theme.headerDim))
        }
        return left
    }

    private static let rows = RowCache<Key>()

    /// `session $0.0123 / $1.00 ████░░░░░░ · today $0.5123`: the session against its budget (a
    /// bar that turns yellow at the warning point and red at the cap), then the day's total, with
    /// the bar there when only a daily cap is set. Both are the ledger's figures plus the running
    /// turns; while any of it is an estimate, a sum reads `~$0.0123`. A ledger that stopped
    /// taking rows shows a red mark.
    static func costFigures(_ state: AppState) -> [(text: FigureText, style: Style)] {
        var pieces: [(text: FigureText, style: Style)] = []
        var text = FigureText()
        func add(_ picos: Int64?, estimated: Bool) {
            guard let picos else { return text.add("$?") }
            if estimated { text.add("~") }
            text.add(picos: picos)
        }
        func bar(spent: Int64?, cap: Int64) {
            let barWidth = 10
            // Display only: a fraction of the cap, which integers could overflow for large caps.
            let fraction = cap > 0 ? Double(max(0, spent ?? 0)) / Double(cap) : 1
            let filled = min(barWidth, Int((fraction * Double(barWidth)).rounded(.up)))
            let style = fraction >= 1 ? Theme.barOver : fraction * 1000 >= Double(state.warnAtPermille) ? Theme.barWarn : Theme.barFill
            text.add(" / ")
            text.add(picos: cap)
            text.add(" ")
            var blocks = FigureText()
            blocks.add(filled, of: "█")
            pieces += [(text, Theme.headerDim), (blocks, style)]
            text = FigureText()
            text.add(barWidth - filled, of: "░")
        }
        text.add("session ")
        add(state.sessionCostPicos, estimated: state.sessionCostIsEstimate)
        if let cap = state.caps.session { bar(spent: state.sessionCostPicos, cap: cap) }
        if state.todaySpent != nil {
            text.add(" · today ")
            add(state.todayCostPicos, estimated: state.todayCostIsEstimate)
            if state.caps.session == nil, let cap = state.caps.daily { bar(spent: state.todayCostPicos, cap: cap) }
        }
        text.add(" ")
        pieces.append((text, Theme.headerDim))
        if state.ledgerFailure != nil {
            var mark = FigureText()
            mark.add("✗ ledger ")
            pieces.append((mark, Theme.barOver))
        }
        return pieces
    }
}

enum PaneView {
    static func draw(_ pane: PaneState, focused: Bool, placement: ScreenLayout.PanePlacement, now: Double,
                     into frame: inout CellBuffer) {
        drawTitle(pane, focused: focused, in: placement.title, into: &frame)
        let body = placement.body
        let lines = PaneText.lines(for: pane, width: body.width)
        let top = visibleTop(pane, lineCount: lines.count, height: body.height)
        for row in 0..<body.height where top + row < lines.count {
            frame.put(lines[top + row], x: body.x, y: body.y + row, limit: body.width)
        }
        if top + body.height < lines.count, body.height > 0 {
            let more = "↓ \(lines.count - top - body.height) more (End)"
            frame.put(DisplayWidth.truncate(more, to: body.width), x: body.x, y: body.maxY - 1, style: Theme.marker)
        }
        drawStatus(pane, now: now, in: placement.status, into: &frame)
    }

    /// The first line shown: the bottom when following, else the scrolled-to line, clamped.
    static func visibleTop(_ pane: PaneState, lineCount: Int, height: Int) -> Int {
        let bottom = max(0, lineCount - height)
        return min(pane.scrollTop ?? bottom, bottom)
    }

    static func drawTitle(_ pane: PaneState, focused: Bool, in rect: Rect, into frame: inout CellBuffer) {
        let key = TitleKey(name: pane.name, model: pane.displayedModel, isFallback: pane.usingModel != nil, color: pane.color,
                           focused: focused, width: rect.width)
        frame.put(titleRows.row(key, width: rect.width) { titleRuns(key) }, x: rect.x, y: rect.y)
    }

    /// The persona's name in its colour, then the model; a focused title is reversed and filled.
    static func titleRuns(_ key: TitleKey) -> [StyledRun] {
        var titleStyle = Style(foreground: key.color, bold: true)
        var modelStyle = Theme.status
        if key.focused {
            titleStyle.reverse = true
            modelStyle = Style(foreground: .palette(250), background: .palette(238))
        }
        let name = DisplayWidth.prefix(" \(InertText.sanitize(key.name)) ", fitting: key.width)
        let room = key.width - DisplayWidth.of(name)
        var model = DisplayWidth.truncate(" \(key.model)" + (key.isFallback ? " (fallback)" : ""), to: room)
        if key.focused { model += String(repeating: " ", count: max(0, room - DisplayWidth.of(model))) }
        return [StyledRun(name, titleStyle), StyledRun(model, modelStyle)]
    }

    struct TitleKey: Hashable {
        var name: String
        var model: ModelRef
        var isFallback: Bool
        var color: Color
        var focused: Bool
        var width: Int
    }

    private static let titleRows = RowCache<TitleKey>()

    static func drawStatus(_ pane: PaneState, now: Double, in rect: Rect, into frame: inout CellBuffer) {
        let (label, figures, style) = status(pane, now: now, width: rect.width)
        let x = frame.put(label, x: rect.x, y: rect.y, style: style, limit: rect.width)
        guard let figures, x < rect.maxX else { return }
        frame.put(" ", x: x, y: rect.y, style: Theme.status)
        figures.put(into: &frame, x: x + 1, y: rect.y, style: Theme.status, limit: rect.maxX - x - 1)
    }

    /// The state and the turn's figures, in the fullest form that fits `width`:
    /// `● streaming  in ~245  out ~120  38.1 t/s  ttft 0.42s  $0.0012`, down to `● ~245→~120 38t/s 0.42s $?`.
    static func status(_ pane: PaneState, now: Double, width: Int) -> (label: String, figures: FigureText?, style: Style) {
        let counters = pane.counters
        let (symbol, word, style) = phase(pane, now: now)
        guard counters.startedAt != nil else { return ("\(symbol.text) \(word)", nil, style) }
        // Redrawn every frame, so the figures are written as bytes with their width counted, not
        // built as strings piece by piece. The forms are built only as far as needed, longest first.
        let rate = counters.tokensPerSecond(now: now)
        let ttft = counters.timeToFirstToken
        func tokens(_ count: Int?, estimated: Bool, into text: inout FigureText) {
            guard let count else { return text.add("?") }
            if estimated { text.add("~") }
            text.add(count)
        }
        func cost(into text: inout FigureText) {
            guard let picos = counters.costPicos else { return text.add("$?") }
            if counters.inputEstimated || counters.outputEstimated { text.add("~") }
            text.add(picos: picos)
        }
        /// The long form, `in ~245  out ~120  38.1 t/s  ttft 0.42s  $0.0012`, or the compact one,
        /// `~245→~120 38t/s 0.42s $0.0012`.
        func figures(compact: Bool) -> FigureText {
            var text = FigureText()
            let gap = compact ? " " : "  "
            if !compact {
                if pane.droppedTurns > 0 {
                    text.add(pane.droppedTurns)
                    text.add(" old turns left out  ")
                }
                text.add("in ")
            }
            tokens(counters.inputTokens, estimated: counters.inputEstimated, into: &text)
            text.add(compact ? "→" : "  out ")
            tokens(counters.outputTokens, estimated: counters.outputEstimated, into: &text)
            if let rate {
                text.add(gap)
                text.add(rate, places: compact ? 0 : 1)
                text.add(compact ? "t/s" : " t/s")
            }
            if let ttft {
                text.add(compact ? gap : gap + "ttft ")
                text.add(ttft, places: 2)
                text.add("s")
            }
            text.add(gap)
            cost(into: &text)
            return text
        }
        let wide = figures(compact: false)
        let labelled = "\(symbol.text) \(word)"
        let (symbolWidth, labelledWidth) = (symbol.width, symbol.width + 1 + DisplayWidth.of(word))
        func fits(_ label: Int, _ figures: Int) -> Bool { label + 1 + figures <= width }
        // A failure's kind or a wait's length matters more than the long form of the figures.
        let wordMatters = pane.phase != .streaming && pane.phase != .done
        let chosen: (String, FigureText)
        if fits(labelledWidth, wide.width) {
            chosen = (labelled, wide)
        } else if !wordMatters, fits(symbolWidth, wide.width) {
            chosen = (symbol.text, wide)
        } else {
            let compact = figures(compact: true)
            if fits(labelledWidth, compact.width) {
                chosen = (labelled, compact)
            } else if wordMatters, fits(symbolWidth, wide.width) {
                chosen = (symbol.text, wide)
            } else {
                chosen = (symbol.text, compact)
            }
        }
        return (chosen.0, chosen.1, style)
    }

    static func phase(_ pane: PaneState, now: Double) -> (Symbol, String, Style) {
        switch pane.phase {
        case .idle: return (.ready, "ready", Theme.status)
        case .waiting:
            let waited = pane.counters.startedAt.map { max(0, now - $0) } ?? 0
            return (.waiting, "waiting " + Fixed.text(waited, places: 1) + "s", Theme.statusWarning)
        case .queued(let until):
            return (.queued, "queued (rate limit) " + Fixed.text(max(0, until - now), places: 1) + "s", Theme.statusWarning)
        case .retrying(let attempt, let total, let until):
            let left = until - now
            return (.retrying, left > 0 ? "retry \(attempt)/\(total) in " + Fixed.text(left, places: 1) + "s" : "retry \(attempt)/\(total)",
                    Theme.statusWarning)
        case .streaming: return (.streaming, "streaming", Theme.statusActive)
        case .done: return (.done, "done", Theme.status)
        case .failed(let kind): return (.failed, "failed: \(kind)", Theme.statusError)
        case .cancelled: return (.stopped, "stopped", Theme.statusWarning)
        }
    }

    /// A status symbol and its width, measured once: the status line is laid out every frame.
    struct Symbol {
        let text: String
        let width: Int

        init(_ text: String) {
            self.text = text
            width = DisplayWidth.of(text)
        }

        static let ready = Symbol("○"), waiting = Symbol("◌"), queued = Symbol("⧗"), retrying = Symbol("↻")
        static let streaming = Symbol("●"), done = Symbol("✓"), failed = Symbol("✗"), stopped = Symbol("■")
    }
}

enum InputView {
    static let prompt = "› "

    /// The input's lines as shown: each line of text wrapped after the prompt's width.
    static func lines(_ text: String, width: Int) -> [String] {
        let key = Wrapped(text: text, width: width)
        if let last = lastWrapped.withLock({ $0 }), last.key == key { return last.lines }
        let lines = wrap(text, width: width)
        lastWrapped.withLock { $0 = (key, lines) }
        return lines
    }

    private struct Wrapped: Equatable {
        var text: String
        var width: Int
    }

    /// The layout and the view each wrap the input of every frame; it rarely changed in between.
    private static let lastWrapped = Mutex<(key: Wrapped, lines: [String])?>(nil)

    private static func wrap(_ text: String, width: Int) -> [String] {
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

    /// Draws the input's last lines that fit and returns where the cursor goes.
    static func draw(_ input: InputLine, in rect: Rect, into frame: inout CellBuffer) -> (x: Int, y: Int)? {
        let before = String(input.text.prefix(input.cursor))
        let all = lines(input.text, width: rect.width)
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

/// Fixed-point numbers for the status lines, which are redrawn every frame: `String(format:)`
/// goes through Foundation's formatter and costs more than the rest of a status line.
enum Fixed {
    /// `value` with `places` (at most 3) decimals, rounded to the nearest, ties to even.
    static func text(_ value: Double, places: Int) -> String {
        var text = FigureText()
        text.add(value, places: places)
        return text.text
    }
}

/// Text of one-column characters, such as a status line's figures, built as UTF-8 bytes with its
/// width counted as it grows.
struct FigureText {
    private var bytes: [UInt8] = []
    private(set) var width = 0

    init() { bytes.reserveCapacity(64) }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends `piece`, whose characters must each take one column.
    mutating func add(_ piece: String) {
        var piece = piece
        piece.withUTF8 { utf8 in
            bytes.append(contentsOf: utf8)
            // One column per character: count the bytes that start one.
            for byte in utf8 where byte & 0xC0 != 0x80 { width += 1 }
        }
    }

    /// `count` copies of the one-column `character`.
    mutating func add(_ count: Int, of character: Unicode.Scalar) {
        guard count > 0 else { return }
        for _ in 0..<count { bytes.append(contentsOf: UTF8.encode(character)!) }
        width += count
    }

    /// Writes the text from (`x`, `y`), at most `limit` columns; returns the column after it.
    @discardableResult
    func put(into frame: inout CellBuffer, x: Int, y: Int, style: Style, limit: Int? = nil) -> Int {
        bytes.withUnsafeBufferPointer { frame.put(narrow: $0, x: x, y: y, style: style, limit: limit) }
    }

    /// An amount as `Money.format(picos:)` writes it.
    mutating func add(picos: Int64) {
        width += Money.append(picos: picos, to: &bytes)
    }

    mutating func add(_ number: Int) {
        if number < 0 {
            bytes.append(UInt8(ascii: "-"))
            width += 1
        }
        width += Digits.append(UInt64(number.magnitude), to: &bytes)
    }

    /// `value` with `places` (at most 3) decimals, rounded to the nearest, ties to even.
    mutating func add(_ value: Double, places: Int) {
        guard value.isFinite else { return add("?") }
        let scale = [1, 10, 100, 1000][min(places, 3)]
        let scaled = Int((abs(value) * Double(scale)).rounded(.toNearestOrEven))
        if value < 0, scaled > 0 { add("-") }
        add(scaled / scale)
        guard places > 0 else { return }
        add(".")
        width += Digits.append(UInt64(scaled % scale), minimumCount: min(places, 3), to: &bytes)
    }
}

/// Rows that depend on a few values (a pane's title, the key hints), laid out once for each set of
/// values instead of on every frame.
final class RowCache<Key: Hashable>: @unchecked Sendable {
    private let lock = NSLock()
    private var rows: [Key: CellRow] = [:]

    func row(_ key: Key, width: Int, runs: () -> [StyledRun]) -> CellRow {
        row(key) { CellRow(runs(), width: width) }
    }

    func row(_ key: Key, make: () -> CellRow) -> CellRow {
        if let row = lock.withLock({ rows[key] }) { return row }
        let row = make()
        lock.withLock {
            if rows.count >= 256 { rows.removeAll() }
            rows[key] = row
        }
        return row
    }
}
