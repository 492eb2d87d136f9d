import CNCursesW
import Foundation

/// The terminal, through ncursesw. This is the only file that touches ncurses, and it is used from
/// the UI thread only.
///
/// ncurses sets the terminal up and gives it back (raw mode, the alternate screen, colours) and
/// supplies the escape sequences from the terminal's terminfo entry. Frames are painted by
/// `FrameEncoder` with those sequences, one `write` per frame: ncurses' own refresh would compare
/// every cell a second time, after `CellBuffer` already found the changes, and it cost more than
/// rendering the frame.
///
/// Input is not read through ncurses: the run loop reads raw bytes and `KeyDecoder` decodes them,
/// which gives bracketed paste, Alt-Enter and SGR mouse reports that ncurses does not decode.
public final class NCursesScreen: Screen {
    public private(set) var width: Int
    public private(set) var height: Int
    public let colorMode: ColorMode
    private let terminal: OpaquePointer
    private var previous: CellBuffer?
    private var encoder: FrameEncoder
    private var stopped = false
    private var mouseReports = true
    private let outputFD: Int32

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
        // The modes as the shell had them, for a crash to give back.
        var found = termios()
        let haveModes = tcgetattr(input, &found) == 0
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
        // Frames hold no newlines or tabs for the terminal driver to translate (and `nonl` stopped
        // the one translation there was): without output processing the kernel copies a frame
        // instead of examining each byte. `endwin` restores the modes ncurses found.
        var modes = termios()
        if tcgetattr(output, &modes) == 0 {
            modes.c_oflag &= ~tcflag_t(OPOST)
            tcsetattr(output, TCSANOW, &modes)
        }
        keypad(persona_stdscr(), false)
        set_escdelay(25)
        if wantColors, has_colors() {
            start_color()
            use_default_colors()
            colorMode = persona_colors() >= 256 ? .palette256 : .basic
        } else {
            colorMode = .none
        }
        guard let capabilities = Self.capabilities(colors: colorMode != .none) else {
            endwin()
            delscreen(terminal)
            let name = ProcessInfo.processInfo.environment["TERM"] ?? "(unset)"
            throw StartError(description: "the terminal type TERM=\(name) cannot move the cursor; try TERM=xterm-256color")
        }
        encoder = FrameEncoder(capabilities: capabilities, colorMode: colorMode)
        width = Int(persona_getmaxx(persona_stdscr()))
        height = Int(persona_getmaxy(persona_stdscr()))
        refresh()
        writeControl(Array("\u{1B}[?2004h\u{1B}[?1000h\u{1B}[?1006h".utf8))
        if haveModes {
            CrashRestore.arm(input: input, output: output, modes: found,
                             reset: Self.modesOff(capabilities) + (string("rmcup").map { Array($0) } ?? Array("\u{1B}[?1049l".utf8)))
        }
    }

    /// What turns off the terminal modes this screen turned on: the cursor shown, bracketed paste
    /// and mouse reports off, attributes reset.
    private static func modesOff(_ capabilities: TerminalCapabilities) -> [UInt8] {
        capabilities.showCursor + capabilities.resetAttributes + Array("\u{1B}[?2004l\u{1B}[?1000l\u{1B}[?1006l".utf8)
    }

    private func string(_ name: String) -> [UInt8]? {
        guard let value = tigetstr(name), Int(bitPattern: value) != -1 else { return nil }
        return Array(String(cString: value).utf8)
    }

    /// The sequences `FrameEncoder` paints with, from the terminfo entry ncurses loaded; nil when
    /// the terminal cannot address the cursor.
    private static func capabilities(colors: Bool) -> TerminalCapabilities? {
        func string(_ name: String) -> UnsafePointer<CChar>? {
            guard let value = tigetstr(name), Int(bitPattern: value) != -1 else { return nil }
            return UnsafePointer(value)
        }
        func expanded(_ text: UnsafePointer<CChar>?) -> [UInt8] {
            text.map { TerminalCapabilities.withoutPadding(Array(String(cString: $0).utf8)) } ?? []
        }
        func bytes(_ name: String) -> [UInt8] { expanded(string(name)) }
        guard let cup = string("cup") else { return nil }
        let setaf = colors ? string("setaf") : nil
        let setab = colors ? string("setab") : nil
        return TerminalCapabilities(
            moveCursor: { row, column in expanded(persona_tiparm2(cup, Int32(row), Int32(column))) },
            foreground: setaf.map { capability in { expanded(persona_tiparm1(capability, Int32($0))) } },
            background: setab.map { capability in { expanded(persona_tiparm1(capability, Int32($0))) } },
            resetAttributes: bytes("sgr0"), bold: bytes("bold"), dim: bytes("dim"), italic: bytes("sitm"),
            underline: bytes("smul"), reverse: bytes("rev"), clearScreen: bytes("clear"),
            hideCursor: bytes("civis"), showCursor: bytes("cnorm"),
            scrollsAfterLastCell: tigetflag("am") == 1 && tigetflag("xenl") != 1)
    }

    deinit { stop() }

    /// Restores the terminal: modes off, ncurses ended, the cursor back.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        CrashRestore.disarm()
        writeControl(encoder.capabilities.showCursor + Array("\u{1B}[?2004l\u{1B}[?1000l\u{1B}[?1006l".utf8))
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
        return (width, height)
    }

    public func copyToClipboard(_ text: String) { writeControl(Clipboard.sequence(text)) }

    public func setMouseReports(_ on: Bool) {
        mouseReports = on
        writeControl(Array((on ? "\u{1B}[?1000h\u{1B}[?1006h" : "\u{1B}[?1000l\u{1B}[?1006l").utf8))
    }

    public func suspend() {
        writeControl(Self.modesOff(encoder.capabilities))
        def_prog_mode()
        endwin()
    }

    public func resume() {
        reset_prog_mode()
        refresh()
        writeControl(Array("\u{1B}[?2004h".utf8))
        setMouseReports(mouseReports)
        previous = nil
    }

    public func present(_ frame: CellBuffer, cursor: (x: Int, y: Int)?) {
        encoder.encode(frame, since: previous, cursor: cursor) { writeAll(UnsafeRawBufferPointer($0)) }
        previous = frame
    }

    /// Writes all of `bytes`: frames, and the terminal modes ncurses does not manage (bracketed
    /// paste, mouse reports).
    private func writeControl(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes(writeAll)
    }

    private func writeAll(_ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let written = write(outputFD, buffer.baseAddress! + offset, buffer.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR || errno == EAGAIN {
                continue
            } else {
                return
            }
        }
    }
}

/// Gives the terminal back when the process dies of a fatal signal (a trap, a segmentation fault,
/// an abort) while the screen has it: raw mode, the alternate screen and mouse reports would
/// otherwise outlive Persona in the user's shell.
///
/// A signal handler may only make async-signal-safe calls and touch memory set up beforehand, so
/// the bytes to write and the modes to restore are kept in static storage, armed while the screen
/// runs.
private enum CrashRestore {
    static let fatalSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP]

    nonisolated(unsafe) static var input: Int32 = -1
    nonisolated(unsafe) static var output: Int32 = -1
    nonisolated(unsafe) static var modes = termios()
    nonisolated(unsafe) static var reset = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)

    /// The handlers in place before (the Swift runtime's backtracer), put back on disarm.
    nonisolated(unsafe) static var previous: [sigaction] = []

    static func arm(input: Int32, output: Int32, modes: termios, reset bytes: [UInt8]) {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buffer.initialize(from: bytes)
        (Self.input, Self.output, Self.modes, Self.reset) = (input, output, modes, buffer)
        previous = fatalSignals.map { number in
            var old = sigaction()
            sigaction(number, nil, &old)
            return old
        }
        for number in fatalSignals { signal(number, onFatalSignal) }
    }

    static func disarm() {
        input = -1
        for (number, var old) in zip(fatalSignals, previous) { sigaction(number, &old, nil) }
    }
}

private let onFatalSignal: @convention(c) (Int32) -> Void = { number in
    if CrashRestore.input >= 0, let bytes = CrashRestore.reset.baseAddress {
        _ = write(CrashRestore.output, bytes, CrashRestore.reset.count)
        _ = tcsetattr(CrashRestore.input, TCSANOW, &CrashRestore.modes)
    }
    signal(number, SIG_DFL)
    raise(number)
}
