import PersonaKit
import TerminalUI

/// Draws the chat state into frames, keeping what it laid out before for the next frame: each
/// transcript entry's wrapped lines, the rows that change seldom (titles, header, hints) and the
/// wrapped input. One renderer draws one screen, on one thread; nothing it keeps is shared.
public final class ChatRenderer {
    let wrap = WrapCache()
    let titleRows = RowCache<PaneView.TitleKey>()
    let headerRows = RowCache<HeaderView.Key>()
    let hintRows = RowCache<Int>()
    /// The draft wrapped for the last frame: while answers stream, a two-line draft kept this way
    /// saves 20–50 µs a frame (235–257 µs against 277–291 µs, frames 16 ms apart).
    private var inputWrap: (text: String, width: Int, lines: [String])?

    public init() {}

    /// Draws into `frame`, blanked first, or replaced when its size is not the state's; returns
    /// where the cursor goes. A frame buffer used again costs no allocation and no fresh pages.
    public func render(_ state: AppState, into frame: inout CellBuffer) -> (x: Int, y: Int)? {
        if frame.width == state.width, frame.height == state.height {
            frame.blank()
        } else {
            frame = CellBuffer(width: state.width, height: state.height)
        }
        let input = inputLines(state.input.text, width: state.width)
        let layout = ScreenLayout(state, inputLineCount: input.count)
        if layout.tooSmall {
            ChatView.drawTooSmall(state, into: &frame)
            return nil
        }
        HeaderView.draw(state, in: layout.header, into: &frame, rows: headerRows)
        // Through a buffer pointer each pane is lent to its view, not copied with a retain of
        // every reference it holds.
        state.panes.withUnsafeBufferPointer { panes in
            for placement in layout.panes {
                PaneView.draw(panes[placement.index], focused: placement.index == state.focus && panes.count > 1,
                              zoomed: state.zoomed, placement: placement, now: state.now, into: &frame, caches: self)
            }
        }
        let bar = Cell("│", style: Theme.separator)
        for separator in layout.separators {
            for y in separator.y..<separator.maxY where frame.contains(x: separator.x, y: y) { frame[separator.x, y] = bar }
        }
        if state.panes.isEmpty {
            frame.put("No personas on screen. Add one with /add NAME.", x: 2, y: 2, style: Theme.hint)
        }
        let cursor = InputView.draw(state.input, lines: input, in: layout.input, into: &frame)
        ChatView.drawHint(state, in: layout.hint, into: &frame, rows: hintRows)
        switch state.overlay {
        case .help:
            OverlayView.draw(Bindings.helpLines, top: state.overlayTop, in: frame.bounds, into: &frame)
            return nil
        case .report(let lines), .welcome(let lines):
            OverlayView.draw(lines, top: state.overlayTop, in: frame.bounds, into: &frame)
            return nil
        case .transcript(let lines):
            OverlayView.draw(lines, top: state.overlayTop, search: state.overlaySearch, in: frame.bounds, into: &frame)
            return nil
        case nil:
            return cursor
        }
    }

    /// The input wrapped to the screen: the layout sizes the input by it and the view draws it.
    /// Between keystrokes it is the same text as the frame before.
    private func inputLines(_ text: String, width: Int) -> [String] {
        if let last = inputWrap, last.text == text, last.width == width { return last.lines }
        let lines = InputView.lines(text, width: width)
        inputWrap = (text, width, lines)
        return lines
    }
}

/// Drawing a state once, and the parts of the screen that need no renderer's memory.
public enum ChatView {
    /// A frame of `state` drawn by a renderer of its own, as a first frame is.
    public static func render(_ state: AppState) -> (frame: CellBuffer, cursor: (x: Int, y: Int)?) {
        var frame = CellBuffer(width: state.width, height: state.height)
        let cursor = ChatRenderer().render(state, into: &frame)
        return (frame, cursor)
    }

    static func drawTooSmall(_ state: AppState, into frame: inout CellBuffer) {
        drawTooSmall(["\(state.width)×\(state.height); Persona needs",
                      "\(ScreenLayout.minimumWidth)×\(ScreenLayout.minimumHeight). Enlarge it,", "or Ctrl-C twice to quit."],
                     into: &frame)
    }

    /// `Terminal too small` and what it needs, centred on whatever room there is.
    static func drawTooSmall(_ needs: [String], into frame: inout CellBuffer) {
        let lines = ["Terminal too small"] + needs
        let top = max(0, (frame.height - lines.count) / 2)
        for (offset, line) in lines.enumerated() {
            let shown = DisplayWidth.truncate(line, to: frame.width)
            frame.put(shown, x: max(0, (frame.width - DisplayWidth.of(shown)) / 2), y: top + offset,
                      style: offset == 0 ? Theme.notice : Theme.hint)
        }
    }

    static func drawHint(_ state: AppState, in rect: Rect, into frame: inout CellBuffer, rows: RowCache<Int>) {
        if let notice = state.notice {
            let shown = state.panes.contains(where: \.hidden) ? ChatReducer.masked(notice, state) : notice
            let lines = TextWrap.wrap(shown, width: rect.width)
            for row in 0..<min(rect.height, lines.count) {
                // What a second line cannot hold, `/notices` shows in full.
                let last = row == rect.height - 1 && lines.count > rect.height
                let text = last ? DisplayWidth.prefix(lines[row], fitting: rect.width - 11) + " … /notices" : lines[row]
                frame.put(text, x: rect.x, y: rect.y + row, style: Theme.notice)
            }
        } else {
            frame.put(rows.row(rect.width, width: rect.width) { [StyledRun(DisplayWidth.truncate(Bindings.hintLine, to: rect.width), Theme.hint)] },
                      x: rect.x, y: rect.y)
        }
    }
}
