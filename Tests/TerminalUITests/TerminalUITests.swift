import XCTest

@testable import TerminalUI

final class DisplayWidthTests: XCTestCase {
    func testWidths() {
        XCTAssertEqual(DisplayWidth.of("a" as Character), 1)
        XCTAssertEqual(DisplayWidth.of("日" as Character), 2)
        XCTAssertEqual(DisplayWidth.of("한" as Character), 2)
        XCTAssertEqual(DisplayWidth.of("Ａ" as Character), 2, "fullwidth forms")
        XCTAssertEqual(DisplayWidth.of("👋" as Character), 2)
        XCTAssertEqual(DisplayWidth.of("👋🏽" as Character), 2, "a skin-tone modifier joins its emoji")
        XCTAssertEqual(DisplayWidth.of("👨‍👩‍👧" as Character), 2, "a ZWJ family is one glyph")
        XCTAssertEqual(DisplayWidth.of("❤️" as Character), 2, "VS16 asks for emoji presentation")
        XCTAssertEqual(DisplayWidth.of("e\u{301}" as Character), 1, "combining marks add no width")
        XCTAssertEqual(DisplayWidth.of("\u{301}" as Unicode.Scalar), 0)
        XCTAssertEqual(DisplayWidth.of("\u{200B}" as Unicode.Scalar), 0)
        XCTAssertEqual(DisplayWidth.of("日本 ok"), 7)
        XCTAssertEqual(DisplayWidth.of("cafe\u{301} 日本"), 9, "an ASCII letter keeps the mark after it")
        XCTAssertEqual(DisplayWidth.of("in 12\r\n→ ok"), 9, "controls take no column")
        // From the table of symbols measured once: the screen's own, emoji among them, and a format character.
        XCTAssertEqual("│●✓→█░✗↻◌○■…".unicodeScalars.map(DisplayWidth.of), Array(repeating: 1, count: 12))
        XCTAssertEqual(["\u{231A}", "\u{2614}", "\u{26A1}", "\u{2705}"].map { DisplayWidth.of($0 as Unicode.Scalar) }, [2, 2, 2, 2])
        XCTAssertEqual(DisplayWidth.of("\u{2060}" as Unicode.Scalar), 0, "word joiner")
    }

    func testTruncateNeverSplitsAWideCharacter() {
        XCTAssertEqual(DisplayWidth.truncate("日本語テキスト", to: 6), "日本…")
        XCTAssertEqual(DisplayWidth.truncate("short", to: 10), "short")
    }
}

final class TextWrapTests: XCTestCase {
    func testBreaksAtSpacesAndDropsTheBreakingSpace() {
        XCTAssertEqual(TextWrap.wrap("the quick brown fox jumps", width: 10), ["the quick", "brown fox", "jumps"])
    }

    func testCutsWordsLongerThanTheWidth() {
        XCTAssertEqual(TextWrap.wrap("abcdefghijkl mn", width: 5), ["abcde", "fghij", "kl mn"])
    }

    func testWideCharactersNeverStraddleALine() {
        let lines = TextWrap.wrap("日本語のテキスト", width: 5)
        XCTAssertEqual(lines, ["日本", "語の", "テキ", "スト"])
        XCTAssertTrue(lines.allSatisfy { DisplayWidth.of($0) <= 5 })
    }

    func testKeepsNewlinesAndEmptyLines() {
        XCTAssertEqual(TextWrap.wrap("a\n\nb", width: 5), ["a", "", "b"])
    }

    func testStylesSurviveWrapping() {
        let bold = Style(bold: true)
        let lines = TextWrap.wrap([StyledRun("plain "), StyledRun("bold words here", bold)], width: 10)
        XCTAssertEqual(lines, [[StyledRun("plain "), StyledRun("bold", bold)], [StyledRun("words here", bold)]])
    }

    func testNoLineIsWiderThanTheWidth() {
        let text = "Ein Satz mit 日本語 und emoji 👋🏽👋🏽 and averyveryverylongword, then more words to wrap."
        for width in 2...30 {
            for line in TextWrap.wrap(text, width: width) {
                XCTAssertLessThanOrEqual(DisplayWidth.of(line), width, "width \(width): \(line)")
            }
        }
    }

    func testThePendingRowHasTheCellsOfThePendingLine() {
        let bold = Style(bold: true), tint = Style(background: .palette(236))
        let text = "Ein Satz, e\u{301}quipe 日本語 und 👋🏽 then **more** words: averyveryverylongword to wrap, "
        for width in [3, 9, 16, 40] {
            var wrapper = LineWrapper(width: width)
            for (index, character) in text.enumerated() {
                wrapper.feed(character, index % 7 < 3 ? bold : .plain)
                let pending = wrapper.pendingLine ?? []
                XCTAssertEqual(wrapper.pendingRow(), wrapper.pendingLine.map { CellRow($0, width: width) }, "width \(width) at \(index)")
                let used = pending.reduce(0) { $0 + DisplayWidth.of($1.text) }
                let padded = CellRow(pending + [StyledRun(String(repeating: " ", count: max(0, width - used)), tint)], width: width)
                XCTAssertEqual(wrapper.pendingRow(padding: tint), wrapper.pendingLine.map { _ in padded }, "tinted, width \(width) at \(index)")
            }
        }
    }
}

final class CellBufferTests: XCTestCase {
    func testPutClipsAtTheLimitWithoutHalfAWideCharacter() {
        var buffer = CellBuffer(width: 6, height: 1)
        buffer.put("ab日本", x: 0, y: 0, limit: 5)
        XCTAssertEqual(buffer.line(0), "ab日")
        XCTAssertTrue(buffer[3, 0].isContinuation)
        XCTAssertEqual(buffer[4, 0], .blank)
    }

    func testASCIIBeforeACombiningMarkKeepsTheMarkOnItsLetter() {
        var buffer = CellBuffer(width: 8, height: 1)
        let end = buffer.put("cafe\u{301} ok", x: 0, y: 0)
        XCTAssertEqual(end, 7)
        XCTAssertEqual(buffer[3, 0].character, "e\u{301}")
        XCTAssertEqual(buffer[3, 0].base, 0x65)
        XCTAssertEqual(buffer[3, 0].mark(0), 0x301)
        XCTAssertEqual(buffer[3, 0].mark(1), 0)
        XCTAssertEqual(buffer.line(0), "café ok")
    }

    func testCellsKeepUpToThreeCombiningMarks() {
        let cell = Cell("a\u{300}\u{301}\u{302}" as Character)
        XCTAssertEqual(cell.character, "a\u{300}\u{301}\u{302}")
        XCTAssertEqual(Cell("a\u{300}\u{301}\u{302}\u{303}" as Character).character, "a\u{300}\u{301}\u{302}")
        XCTAssertEqual(MemoryLayout<Cell>.stride, 8, "a frame is thousands of cells")
        var wide = Cell("日", style: Style(bold: true), isContinuation: true)
        XCTAssertTrue(wide.isContinuation)
        XCTAssertEqual(wide.style, Style(bold: true), "the continuation flag is no part of the style")
        wide.style = Style(foreground: .palette(7))
        XCTAssertTrue(wide.isContinuation)
        wide.isContinuation = false
        XCTAssertEqual(wide.style, Style(foreground: .palette(7)))
        XCTAssertEqual(Cell("x").character, "x")
        XCTAssertNotEqual(Cell("e\u{301}" as Character), Cell("e"))
        XCTAssertEqual(Cell("o\u{308}\u{304}" as Character), Cell("o\u{308}\u{304}" as Character),
                       "the same marks, kept once, compare equal")
        XCTAssertNotEqual(Cell("o\u{308}\u{304}" as Character), Cell("o\u{304}\u{308}" as Character))
    }

    func testOverwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var buffer = CellBuffer(width: 4, height: 1)
        buffer.put("日本", x: 0, y: 0)
        buffer.put("x", x: 1, y: 0)
        XCTAssertEqual(buffer.line(0), " x本")
        XCTAssertFalse(buffer[1, 0].isContinuation)
    }

    func testARowIsLaidOutOnceAndCopiedAsPutWouldDrawIt() {
        let runs = [StyledRun("ab ", Style(bold: true)), StyledRun("日本 e\u{301}", Style(foreground: .palette(75)))]
        let row = CellRow(runs, width: 12)
        XCTAssertEqual(row.text, "ab 日本 e\u{301}")
        XCTAssertEqual(row.cells.count, 9)
        var copied = CellBuffer(width: 12, height: 2)
        var drawn = copied
        XCTAssertEqual(copied.put(row, x: 1, y: 1), 10)
        drawn.put(runs, x: 1, y: 1)
        XCTAssertEqual(copied, drawn)
        XCTAssertEqual(CellRow(runs, width: 4).text, "ab ", "a wide character that does not fit is left out")
    }

    func testACopiedRowIsClippedWithoutHalfAWideCharacter() {
        let row = CellRow([StyledRun("ab日本")], width: 6)
        var buffer = CellBuffer(width: 8, height: 1)
        buffer.put("本日は", x: 0, y: 0)
        XCTAssertEqual(buffer.put(row, x: 1, y: 0, limit: 3), 3, "日 would be cut, so it is left out")
        XCTAssertEqual(buffer.line(0), " ab は", "the halves left of overwritten wide characters are blanks")
        XCTAssertFalse(buffer[3, 0].isContinuation)
        XCTAssertEqual(buffer.put(CellRow.empty, x: 0, y: 0), 0)
        XCTAssertEqual(buffer.put(row, x: 0, y: 5), 0, "rows outside the buffer are ignored")
    }

    func testHeadlessScreenCountsChangedCells() {
        let screen = HeadlessScreen(width: 10, height: 2)
        var frame = CellBuffer(width: 10, height: 2)
        frame.put("hi", x: 0, y: 0)
        screen.present(frame, cursor: nil)
        frame.put("ho", x: 0, y: 0)
        screen.present(frame, cursor: (2, 0))
        XCTAssertEqual(screen.changedCells.last, 1)
        XCTAssertEqual(screen.frame.line(0), "ho")
    }
}

final class ColorModeTests: XCTestCase {
    func testColoursReduceTo8OrNone() {
        let style = Style(foreground: .palette(203), background: .palette(236), bold: true)
        XCTAssertEqual(ColorMode.palette256.adapt(style), style)
        XCTAssertEqual(ColorMode.basic.adapt(style).foreground, .red)
        XCTAssertEqual(ColorMode.basic.adapt(style).background, .black)
        let none = ColorMode.none.adapt(style)
        XCTAssertEqual(none.foreground, .default)
        XCTAssertEqual(none.background, .default)
        XCTAssertTrue(none.bold, "attributes survive NO_COLOR")
    }

    func testPersonaColourNames() {
        XCTAssertEqual(Color(name: "red"), .palette(203))
        XCTAssertEqual(Color(name: "42"), .palette(42))
        XCTAssertNil(Color(name: "chartreuse"))
        XCTAssertEqual(Color.palette(114).basic, .green)
        XCTAssertEqual(Color.palette(75).basic, .cyan)
    }
}

final class KeyDecoderTests: XCTestCase {
    func decode(_ text: String) -> [Key] {
        var decoder = KeyDecoder()
        return decoder.feed(Array(text.utf8))
    }

    func testTextControlKeysAndEnter() {
        XCTAssertEqual(decode("hé日\r"), [.character("h"), .character("é"), .character("日"), .enter])
        XCTAssertEqual(decode("\u{01}\u{05}\u{17}\u{15}\u{12}\u{03}"),
                       [.control("a"), .control("e"), .control("w"), .control("u"), .control("r"), .control("c")])
        XCTAssertEqual(decode("\n\t\u{7F}"), [.newline, .tab, .backspace])
    }

    func testAltEnterIsANewline() {
        XCTAssertEqual(decode("\u{1B}\r"), [.newline])
    }

    func testCursorAndFunctionKeys() {
        XCTAssertEqual(decode("\u{1B}[A\u{1B}[B\u{1B}[C\u{1B}[D\u{1B}[H\u{1B}[F\u{1B}[5~\u{1B}[6~\u{1B}[Z"),
                       [.up, .down, .right, .left, .home, .end, .pageUp, .pageDown, .shiftTab])
        XCTAssertEqual(decode("\u{1B}OP\u{1B}OQ\u{1B}[1~\u{1B}[4~\u{1B}[3~\u{1B}[15~\u{1B}[1;5C"),
                       [.function(1), .function(2), .home, .end, .delete, .function(5), .right])
    }

    func testLoneEscapeWaitsThenFlushes() {
        var decoder = KeyDecoder()
        XCTAssertEqual(decoder.feed([0x1B]), [])
        XCTAssertTrue(decoder.hasPendingEscape)
        XCTAssertEqual(decoder.flushPendingEscape(), [.escape])
        XCTAssertEqual(decoder.feed([0x1B, 0x1B]), [.escape])
        XCTAssertEqual(decoder.flushPendingEscape(), [.escape])
    }

    func testSequencesSplitAcrossReads() {
        var decoder = KeyDecoder()
        XCTAssertEqual(decoder.feed([0x1B, 0x5B]), [])
        XCTAssertEqual(decoder.feed(Array("5~".utf8)), [.pageUp])
        XCTAssertEqual(decoder.feed([0xE6, 0x97]), [])
        XCTAssertEqual(decoder.feed([0xA5]), [.character("日")])
    }

    func testBracketedPasteArrivesWhole() {
        var decoder = KeyDecoder()
        XCTAssertEqual(decoder.feed(Array("\u{1B}[200~line one\r\nline \u{1B}[A two".utf8)), [])
        XCTAssertEqual(decoder.feed(Array("\u{1B}[20".utf8)), [])
        XCTAssertEqual(decoder.feed(Array("1~x".utf8)), [.paste("line one\nline \u{1B}[A two"), .character("x")])
    }

    func testMouseWheelAndClick() {
        XCTAssertEqual(decode("\u{1B}[<64;10;5M\u{1B}[<65;3;4M\u{1B}[<0;7;2M\u{1B}[<0;7;2m"),
                       [.wheelUp(x: 9, y: 4), .wheelDown(x: 2, y: 3), .click(x: 6, y: 1)])
    }

    func testAltLetter() {
        XCTAssertEqual(decode("\u{1B}b"), [.alt("b")])
    }
}
