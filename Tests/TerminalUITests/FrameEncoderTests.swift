import XCTest

@testable import TerminalUI

/// The encoder's bytes are played on a small xterm-like terminal, and the terminal's cells are
/// compared with the frame's.
final class FrameEncoderTests: XCTestCase {
    static func xterm(scrollsAfterLastCell: Bool = false) -> TerminalCapabilities {
        var capabilities = TerminalCapabilities.xterm256
        capabilities.scrollsAfterLastCell = scrollsAfterLastCell
        return capabilities
    }

    func sample() -> CellBuffer {
        var frame = CellBuffer(width: 24, height: 4)
        frame.put("Plain then ", x: 0, y: 0)
        frame.put("bold red", x: 11, y: 0, style: Style(foreground: .palette(203), bold: true))
        frame.put("日本語 🎉 café e\u{301}!", x: 1, y: 1, style: Style(background: .palette(236), italic: true))
        frame.put("│", x: 23, y: 2, style: Style(foreground: .palette(240)))
        frame.put("end", x: 21, y: 3, style: Style(underline: true, reverse: true))
        return frame
    }

    func assertShows(_ terminal: VirtualTerminal, _ frame: CellBuffer, file: StaticString = #filePath, line: UInt = #line) {
        for y in 0..<frame.height {
            for x in 0..<frame.width where terminal.cells[y * frame.width + x] != frame[x, y] {
                return XCTFail("cell \(x),\(y): the terminal shows \(terminal.cells[y * frame.width + x]), the frame has \(frame[x, y])",
                               file: file, line: line)
            }
        }
    }

    func testPaintingABlankTerminalReproducesEveryCell() {
        var encoder = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        var terminal = VirtualTerminal(width: 24, height: 4)
        terminal.play(encoder.encode(sample(), since: nil, cursor: (x: 2, y: 3)))
        assertShows(terminal, sample())
        XCTAssertEqual(terminal.cursor.x, 2)
        XCTAssertEqual(terminal.cursor.y, 3)
        XCTAssertTrue(terminal.cursorVisible)
    }

    func testOnlyTheChangedCellsAreSent() {
        var encoder = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        var terminal = VirtualTerminal(width: 24, height: 4)
        let first = sample()
        terminal.play(encoder.encode(first, since: nil, cursor: nil))
        var second = first
        second.put("BOLD", x: 11, y: 0, style: Style(foreground: .palette(203), bold: true))
        second.put("x", x: 5, y: 1)
        let bytes = encoder.encode(second, since: first, cursor: nil)
        terminal.play(bytes)
        assertShows(terminal, second)
        XCTAssertEqual(encoder.paintedCells, 6, "BOLD, and the x with the half of 語 it broke")
        XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains("\u{1B}[2J"), "a known screen is not cleared")
        XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains("Plain"), "unchanged cells are not sent again")
        XCTAssertTrue(encoder.encode(second, since: second, cursor: nil).isEmpty, "nothing changed, nothing sent")
        XCTAssertEqual(encoder.paintedCells, 0)
    }

    func testWideCharactersAreRepaintedWholeWhenEitherHalfChanges() {
        var encoder = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        var terminal = VirtualTerminal(width: 8, height: 1)
        var frame = CellBuffer(width: 8, height: 1)
        frame.put("日本ok", x: 0, y: 0)
        terminal.play(encoder.encode(frame, since: nil, cursor: nil))
        var steps: [(Int, String)] = [(1, "x"), (4, "語"), (5, "ab"), (0, "漢字")]
        while !steps.isEmpty {
            let (x, text) = steps.removeFirst()
            var next = frame
            next.put(text, x: x, y: 0)
            terminal.play(encoder.encode(next, since: frame, cursor: nil))
            assertShows(terminal, next)
            frame = next
        }
    }

    func testANewSizeClearsAndPaintsEverything() {
        var encoder = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        var terminal = VirtualTerminal(width: 24, height: 4)
        terminal.play(Array("garbage left by a resize".utf8))
        terminal.play(encoder.encode(sample(), since: CellBuffer(width: 30, height: 4), cursor: nil))
        assertShows(terminal, sample())
    }

    func testAFramePaintedInMoreBytesThanTheEncoderHeldIsSentWhole() {
        var encoder = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        var frame = CellBuffer(width: 200, height: 60)
        for y in 0..<60 {
            for x in 0..<200 {
                let style = Style(foreground: .palette(UInt8((x * 7 + y) % 256)), background: .palette(UInt8((x + y * 3) % 256)),
                                  bold: x % 2 == 0, underline: y % 3 == 0)
                frame.put(x % 5 == 0 ? "é" : "x", x: x, y: y, style: style)
            }
        }
        let bytes = encoder.encode(frame, since: nil, cursor: (x: 5, y: 59))
        XCTAssertGreaterThan(bytes.count, 100_000, "every cell changes style, so the paint outgrows the encoder's first buffer")
        var terminal = VirtualTerminal(width: 200, height: 60)
        terminal.play(bytes)
        assertShows(terminal, frame)
        XCTAssertEqual(terminal.cursor.x, 5)
        XCTAssertEqual(terminal.cursor.y, 59)
        var second = frame
        second.put("changed", x: 100, y: 30)
        var replay = terminal
        replay.play(encoder.encode(second, since: frame, cursor: nil))
        assertShows(replay, second)
    }

    func testCursorMovesFollowTheTerminfoEntryWhereItIsNotXterms() {
        var capabilities = Self.xterm()
        capabilities.moveCursor = { row, column in Array("\u{1B}[\(String(repeating: "0", count: 3 - String(row + 1).count))\(row + 1);\(column + 1)H".utf8) }
        var encoder = FrameEncoder(capabilities: capabilities, colorMode: .palette256)
        var terminal = VirtualTerminal(width: 24, height: 4)
        let bytes = encoder.encode(sample(), since: nil, cursor: (x: 2, y: 3))
        terminal.play(bytes)
        assertShows(terminal, sample())
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasSuffix("\u{1B}[004;3H\u{1B}[?25h"), "the entry's own form, zeros and all")
        XCTAssertEqual(terminal.cursor.x, 2)
        XCTAssertEqual(terminal.cursor.y, 3)
    }

    func testControlCharactersInCellsReachTheTerminalAsInertText() {
        var frame = CellBuffer(width: 10, height: 1)
        frame[0, 0] = Cell("\u{1B}")
        frame[1, 0] = Cell("\u{07}")
        frame[2, 0] = Cell("\u{9B}")
        frame.put("ok", x: 3, y: 0)
        var encoder = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        let bytes = encoder.encode(frame, since: nil, cursor: nil)
        XCTAssertFalse(bytes.contains(0x07))
        XCTAssertFalse(String(decoding: bytes, as: UTF8.self).unicodeScalars.contains("\u{9B}"))
        var terminal = VirtualTerminal(width: 10, height: 1)
        terminal.play(bytes)
        XCTAssertEqual(terminal.line(0), "???ok")
    }

    func testTheBottomRightCellIsSkippedWhereWritingItWouldScroll() {
        var frame = CellBuffer(width: 4, height: 2)
        frame.put("abcd", x: 0, y: 1)
        var scrolling = FrameEncoder(capabilities: Self.xterm(scrollsAfterLastCell: true), colorMode: .palette256)
        var terminal = VirtualTerminal(width: 4, height: 2)
        terminal.play(scrolling.encode(frame, since: nil, cursor: nil))
        XCTAssertEqual(terminal.line(1), "abc")
        var wrapping = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        terminal.play(wrapping.encode(frame, since: nil, cursor: nil))
        XCTAssertEqual(terminal.line(1), "abcd")
    }

    func testColoursFollowTheColourMode() {
        var frame = CellBuffer(width: 4, height: 1)
        frame.put("hi", x: 0, y: 0, style: Style(foreground: .palette(203), bold: true))
        var plain = FrameEncoder(capabilities: Self.xterm(), colorMode: .none)
        let bytes = String(decoding: plain.encode(frame, since: nil, cursor: nil), as: UTF8.self)
        XCTAssertFalse(bytes.contains("38;5"))
        XCTAssertTrue(bytes.contains("\u{1B}[1mhi"))
        var basic = FrameEncoder(capabilities: Self.xterm(), colorMode: .basic)
        XCTAssertTrue(String(decoding: basic.encode(frame, since: nil, cursor: nil), as: UTF8.self).contains("38;5;1m"))
    }

    func testTerminfoPaddingNeverReachesTheTerminal() {
        let vt100 = ["\u{1B}[%i%p1%d;%p2%dH$<5>", "\u{1B}[m\u{0F}$<2>", "\u{1B}[H\u{1B}[J$<50>", "a$<2.5*/>b", "$<x>", "cost $<"]
        XCTAssertEqual(vt100.map { String(decoding: TerminalCapabilities.withoutPadding(Array($0.utf8)), as: UTF8.self) },
                       ["\u{1B}[%i%p1%d;%p2%dH", "\u{1B}[m\u{0F}", "\u{1B}[H\u{1B}[J", "ab", "$<x>", "cost $<"])
    }

    func testTheCursorIsShownAndHiddenOnlyWhenThatChanges() {
        let frame = CellBuffer(width: 4, height: 2)
        var encoder = FrameEncoder(capabilities: Self.xterm(), colorMode: .palette256)
        XCTAssertEqual(String(decoding: encoder.encode(frame, since: frame, cursor: nil), as: UTF8.self), "\u{1B}[?25l")
        XCTAssertEqual(String(decoding: encoder.encode(frame, since: frame, cursor: nil), as: UTF8.self), "")
        XCTAssertEqual(String(decoding: encoder.encode(frame, since: frame, cursor: (x: 1, y: 1)), as: UTF8.self), "\u{1B}[2;2H\u{1B}[?25h")
        XCTAssertEqual(String(decoding: encoder.encode(frame, since: frame, cursor: (x: 1, y: 1)), as: UTF8.self), "\u{1B}[2;2H")
    }
}

/// Just enough of xterm to play the encoder's output: cursor addressing, clear, SGR with 256
/// colours, cursor visibility, UTF-8 text with wide characters and combining marks, and the
/// pending wrap at the right margin.
struct VirtualTerminal {
    let width: Int
    let height: Int
    private(set) var cells: [Cell]
    private(set) var cursor = (x: 0, y: 0)
    private(set) var cursorVisible = true
    private var pen = Style.plain
    private var lastWritten: Int?

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        cells = Array(repeating: .blank, count: width * height)
    }

    func line(_ y: Int) -> String {
        var buffer = CellBuffer(width: width, height: height)
        for x in 0..<width { buffer[x, y] = cells[y * width + x] }
        return buffer.line(y)
    }

    mutating func play(_ bytes: [UInt8]) {
        var scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            if scalar == "\u{1B}" {
                guard scalars.popFirst() == "[" else { continue }
                var parameters = ""
                while let next = scalars.popFirst() {
                    if ("@"..."~").contains(next) {
                        control(parameters, final: next)
                        break
                    }
                    parameters.unicodeScalars.append(next)
                }
            } else {
                print(scalar)
            }
        }
    }

    private mutating func control(_ parameters: String, final: Unicode.Scalar) {
        let numbers = parameters.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
        switch (final, parameters) {
        case ("H", _):
            cursor = (x: max(1, numbers.count > 1 ? numbers[1] : 1) - 1, y: max(1, numbers.first ?? 1) - 1)
            lastWritten = nil
        case ("J", "2"):
            cells = Array(repeating: Cell(" ", style: Style(background: pen.background)), count: width * height)
        case ("l", "?25"): cursorVisible = false
        case ("h", "?25"): cursorVisible = true
        case ("m", _):
            var index = 0
            while index < numbers.count {
                switch numbers[index] {
                case 0: pen = .plain
                case 1: pen.bold = true
                case 2: pen.dim = true
                case 3: pen.italic = true
                case 4: pen.underline = true
                case 7: pen.reverse = true
                case 38: pen.foreground = .palette(UInt8(numbers[index + 2])); index += 2
                case 48: pen.background = .palette(UInt8(numbers[index + 2])); index += 2
                default: break
                }
                index += 1
            }
        default:
            break
        }
    }

    private mutating func print(_ scalar: Unicode.Scalar) {
        let scalarWidth = DisplayWidth.of(scalar)
        if scalarWidth == 0, let last = lastWritten {
            var text = String(cells[last].character)
            text.unicodeScalars.append(scalar)
            cells[last] = Cell(Character(text), style: cells[last].style)
            return
        }
        if cursor.x + scalarWidth > width {
            cursor = (x: 0, y: min(height - 1, cursor.y + 1))
        }
        let index = cursor.y * width + cursor.x
        cells[index] = Cell(Character(scalar), style: pen)
        if scalarWidth == 2 { cells[index + 1] = Cell(" ", style: pen, isContinuation: true) }
        lastWritten = index
        cursor.x += scalarWidth
    }
}
