import CNCursesW
import Foundation

/// The terminal, through ncursesw. This is the only file that touches ncurses, and it is used from
/// the UI thread only.
///
/// Input is not read through ncurses: the run loop reads raw bytes and `KeyDecoder` decodes them,
/// which gives bracketed paste, Alt-Enter and SGR mouse reports that ncurses does not decode.
public final class NCursesScreen: Screen {
    public private(set) var width: Int
    public private(set) var height: Int
    public let colorMode: ColorMode
    private let terminal: OpaquePointer
    private var previous: CellBuffer?
    private var pairs: [PairKey: Int16] = [:]
    private var stopped = false
    private let outputFD: Int32

    private struct PairKey: Hashable {
        var foreground: Color
        var background: Color
    }

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Takes over the terminal on `input` and `output` (standard input and output by default):
    /// alternate screen, raw input, no echo, bracketed paste and mouse wheel reports. `stop()` (or
    /// deinit) gives it back as it was.
    public init(colors wantColors: Bool, input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws {
        outputFD = output
        setlocale(LC_ALL, "")
        // Wide and combining characters need a UTF-8 locale; fall back to C.UTF-8 when the
        // environment names none.
        if String(cString: persona_codeset()) != "UTF-8" { setlocale(LC_ALL, "C.UTF-8") }
        guard isatty(input) == 1, isatty(output) == 1 else {
            throw StartError(description: "the chat screen needs a terminal; use `persona ask` for scripts and pipes")
        }
        setenv("ESCDELAY", "25", 0)
        // ncurses gets its own descriptors, so that closing its FILEs leaves the caller's open.
        guard let terminal = persona_newterm(dup(output), dup(input)) else {
            let name = ProcessInfo.processInfo.environment["TERM"] ?? "(unset)"
            throw StartError(description: "the terminal type TERM=\(name) is unknown to ncurses; try TERM=xterm-256color")
        }
        self.terminal = terminal
        set_term(terminal)
        raw()
        noecho()
        nonl()
        keypad(persona_stdscr(), false)
        set_escdelay(25)
        if wantColors, has_colors() {
            start_color()
            use_default_colors()
            colorMode = persona_colors() >= 256 ? .palette256 : .basic
        } else {
            colorMode = .none
        }
        width = Int(persona_getmaxx(persona_stdscr()))
        height = Int(persona_getmaxy(persona_stdscr()))
        writeControl("\u{1B}[?2004h\u{1B}[?1000h\u{1B}[?1006h")
        // Until a screen has been through one endwin and refresh, ncurses 6.4 flushes after every
        // cursor movement, so a frame went out in dozens of small writes (and as many wake-ups of
        // the terminal). After one round trip, each refresh is a single write.
        endwin()
        refresh()
    }

    deinit { stop() }

    /// Restores the terminal: modes off, ncurses ended, the cursor back.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        writeControl("\u{1B}[?2004l\u{1B}[?1000l\u{1B}[?1006l")
        curs_set(1)
        endwin()
        delscreen(terminal)
    }

    public func refreshSize() -> (width: Int, height: Int) {
        var rows: Int32 = 0
        var columns: Int32 = 0
        if persona_terminal_size(outputFD, &rows, &columns) == 0, rows > 0, columns > 0 {
            resizeterm(rows, columns)
        }
        width = Int(persona_getmaxx(persona_stdscr()))
        height = Int(persona_getmaxy(persona_stdscr()))
        previous = nil
        clearok(persona_stdscr(), true)
        return (width, height)
    }

    public func present(_ frame: CellBuffer, cursor: (x: Int, y: Int)?) {
        var run: [cchar_t] = []
        run.reserveCapacity(frame.width)
        for change in frame.changes(since: previous) {
            // Consecutive cells of one style go to ncurses as one array of complex characters:
            // add_wchnstr copies them into the line, where adding them one by one would take each
            // through ncurses' character processing. A wide character's right half is left out:
            // ncurses makes its own from the left half's width.
            let cells = change.cells
            var start = cells.startIndex
            while start < cells.endIndex {
                let styled = styledBlank(cells[start].style)
                var end = start
                run.removeAll(keepingCapacity: true)
                while end < cells.endIndex, cells[end].style == cells[start].style {
                    let cell = cells[end]
                    end += 1
                    if cell.isContinuation { continue }
                    var complex = styled
                    complex.chars = (wchar_t(bitPattern: cell.base), wchar_t(bitPattern: cell.mark(0)),
                                     wchar_t(bitPattern: cell.mark(1)), wchar_t(bitPattern: cell.mark(2)), 0)
                    run.append(complex)
                }
                _ = mvadd_wchnstr(Int32(change.y), Int32(change.x + start - cells.startIndex), run, Int32(run.count))
                start = end
            }
        }
        previous = frame
        if let cursor, cursor.x < width, cursor.y < height {
            curs_set(1)
            move(Int32(cursor.y), Int32(cursor.x))
        } else {
            curs_set(0)
        }
        refresh()
    }

    /// A blank in `cellStyle`, as the terminal can show it: each cell of a run copies it and puts its
    /// own character in.
    private func styledBlank(_ cellStyle: Style) -> cchar_t {
        let style = colorMode.adapt(cellStyle)
        var attributes: attr_t = 0
        if style.bold { attributes |= persona_a_bold() }
        if style.dim { attributes |= persona_a_dim() }
        if style.italic { attributes |= persona_a_italic() }
        if style.underline { attributes |= persona_a_underline() }
        if style.reverse { attributes |= persona_a_reverse() }
        let pair = colorMode == .none ? 0 : pairNumber(style.foreground, style.background)
        var blank: [wchar_t] = [0x20, 0]
        var complex = cchar_t()
        _ = setcchar(&complex, &blank, attributes, pair, nil)
        return complex
    }

    private func pairNumber(_ foreground: Color, _ background: Color) -> Int16 {
        if foreground == .default, background == .default { return 0 }
        let key = PairKey(foreground: foreground, background: background)
        if let pair = pairs[key] { return pair }
        let next = pairs.count + 1
        guard next < min(Int(persona_color_pairs()), Int(Int16.max)) else { return 0 }
        init_pair(Int16(next), colorNumber(foreground), colorNumber(background))
        pairs[key] = Int16(next)
        return Int16(next)
    }

    private func colorNumber(_ color: Color) -> Int16 {
        switch color {
        case .default: return -1
        case .palette(let index): return Int16(index)
        }
    }

    /// Terminal modes ncurses does not manage (bracketed paste, mouse reports).
    private func writeControl(_ sequence: String) {
        var bytes = Array(sequence.utf8)
        _ = write(outputFD, &bytes, bytes.count)
    }
}
