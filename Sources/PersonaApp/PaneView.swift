import PersonaKit
import TerminalUI

/// A persona's pane: its title, its transcript wrapped to the pane, and its status line.
enum PaneView {
    static func draw(_ pane: PaneState, focused: Bool, zoomed: Bool, placement: ScreenLayout.PanePlacement, now: Double,
                     into frame: inout CellBuffer, caches: ChatRenderer) {
        drawTitle(pane, focused: focused, in: placement.title, into: &frame, titles: caches.titleRows)
        let body = placement.body
        let lines = caches.wrap.lines(for: pane, width: body.width, foldsTools: !zoomed)
        let top = visibleTop(pane, lineCount: lines.count, height: body.height)
        for row in 0..<body.height where top + row < lines.count {
            frame.put(lines[top + row], x: body.x, y: body.y + row, limit: body.width)
        }
        if top + body.height < lines.count, body.height > 0 {
            let more = "↓ \(lines.count - top - body.height) more (End)"
            // The marker takes the whole row, so that no text of the line under it shows beside it.
            frame.fill(Rect(x: body.x, y: body.maxY - 1, width: body.width, height: 1))
            frame.put(DisplayWidth.truncate(more, to: body.width), x: body.x, y: body.maxY - 1, style: Theme.marker)
        }
        drawStatus(pane, now: now, in: placement.status, into: &frame)
    }

    /// The first line shown: the bottom when following, else the scrolled-to line, clamped.
    static func visibleTop(_ pane: PaneState, lineCount: Int, height: Int) -> Int {
        let bottom = max(0, lineCount - height)
        return min(pane.scrollTop ?? bottom, bottom)
    }

    static func drawTitle(_ pane: PaneState, focused: Bool, in rect: Rect, into frame: inout CellBuffer, titles: RowCache<TitleKey>) {
        let key = TitleKey(name: pane.name, model: pane.displayedModel, isFallback: pane.usingModel != nil, color: pane.color,
                           focused: focused, width: rect.width, label: pane.showsLabel ? pane.ballotLabel : nil, hidden: pane.hidden)
        frame.put(titles.row(key, width: rect.width) { titleRuns(key) }, x: rect.x, y: rect.y)
    }

    /// The persona's name in its colour, then the model; a focused title is reversed and filled.
    /// A hidden pane (blind mode, before the vote) shows its label alone, in no persona's colour.
    static func titleRuns(_ key: TitleKey) -> [StyledRun] {
        var titleStyle = Style(foreground: key.hidden ? Theme.status.foreground : key.color, bold: true)
        var modelStyle = Theme.status
        if key.focused {
            titleStyle.reverse = true
            modelStyle = Style(foreground: .palette(250), background: .palette(238))
        }
        let shownName = key.hidden ? "Answer \(key.label ?? "?")" : (key.label.map { "\($0) · " } ?? "") + InertText.sanitize(key.name)
        let name = DisplayWidth.prefix(" \(shownName) ", fitting: key.width)
        let room = key.width - DisplayWidth.of(name)
        var model = key.hidden ? "" : DisplayWidth.truncate(" \(key.model)" + (key.isFallback ? " (fallback)" : ""), to: room)
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
        var label: String?
        var hidden: Bool
    }

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
            guard let picos = pane.costPicos else { return text.add("$?") }
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
            // A price can name the model: a hidden pane's cost waits for the vote.
            if !pane.hidden {
                text.add(gap)
                cost(into: &text)
            }
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
        case .repairing(let attempt, let total): return (.retrying, "schema repair \(attempt)/\(total)", Theme.statusWarning)
        case .streaming: return (.streaming, "streaming", Theme.statusActive)
        case .done: return (.done, "done", Theme.status)
        case .failed(let kind): return (.failed, "failed: \(kind)", Theme.statusError)
        case .cancelled: return (.stopped, "stopped", Theme.statusWarning)
        case .refused: return (.refused, "refused", Theme.statusWarning)
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
        static let streaming = Symbol("●"), done = Symbol("✓"), failed = Symbol("✗"), stopped = Symbol("■"), refused = Symbol("⊘")
    }
}
