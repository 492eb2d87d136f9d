import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

/// State → frame, compared line by line.
final class RenderTests: XCTestCase {
    static func pane(_ id: String, _ name: String, color: Color = .palette(203)) -> PaneState {
        PaneState(personaID: id, name: name, color: color, model: ModelRef(provider: "openai", model: "gpt-4o-mini"))
    }

    /// A state with a user message sent to every pane and `answers` streamed so far.
    static func streaming(width: Int, height: Int, answers: [String], now: Double = 2) -> AppState {
        let names = [("skeptic", "The Skeptic"), ("optimist", "The Optimist"), ("pragmatist", "The Pragmatist")]
        var state = AppState(session: "20261122-101500-abc", panes: answers.indices.map { pane(names[$0].0, names[$0].1) },
                             width: width, height: height)
        _ = ChatReducer.reduce(&state, .key(.paste("Is remote work productive?")), at: 0)
        _ = ChatReducer.reduce(&state, .key(.enter), at: 0)
        for (index, pane) in state.panes.enumerated() {
            _ = ChatReducer.reduce(&state, Turns.started(pane.personaID, estimate: 120 + index), at: 0)
        }
        for (index, answer) in answers.enumerated() {
            _ = ChatReducer.reduce(&state, Turns.event(state.panes[index].personaID, .delta(answer)), at: 0.5)
        }
        _ = ChatReducer.reduce(&state, .tick, at: now)
        return state
    }

    func testThreePanesMidStreamWithCounters() {
        let state = Self.streaming(width: 120, height: 14, answers: [
            "Evidence first: the studies are small.", "**Huge upside**: no commute, more focus.", "Start with a 3-month pilot.",
        ])
        let frame = ChatView.render(state).frame
        XCTAssertEqual(frame.lines, [
            " Persona │ 20261122-101500-abc │ parallel                                                                    session $?",
            " The Skeptic  openai:gpt-4o-mini        │ The Optimist  openai:gpt-4o-mini      │ The Pragmatist  openai:gpt-4o-mini",
            " › Is remote work productive?           │ › Is remote work productive?          │ › Is remote work productive?",
            "                                        │                                       │",
            " Evidence first: the studies are small. │ Huge upside: no commute, more focus.  │ Start with a 3-month pilot.",
            "                                        │                                       │",
            "                                        │                                       │",
            "                                        │                                       │",
            "                                        │                                       │",
            "                                        │                                       │",
            "                                        │                                       │",
            " ● streaming ~120→~10 7t/s 0.50s $?     │ ● streaming ~121→~10 7t/s 0.50s $?    │ ● streaming ~122→~7 5t/s 0.50s $?",
            "›",
            "Enter send · Alt-Enter newline · Tab focus · Esc stop · F1 help · Ctrl-Y copy (/mouse off to select) · PgUp/PgDn scroll…",
        ])
        XCTAssertTrue(frame[1, 1].style.reverse, "the focused pane's title is highlighted")
        XCTAssertFalse(frame[42, 1].style.reverse)
        XCTAssertEqual(frame[2, 1].style.foreground, .palette(203), "the persona's name is in its colour")
        XCTAssertTrue(frame[42, 4].style.bold, "**Huge upside** is bold")
    }

    func testLiveCostIsEstimatedThenExactAndTheHeaderTracksTheBudget() throws {
        let price = try XCTUnwrap(try PriceCatalog.bundled().price(for: ModelRef(provider: "openai", model: "gpt-4o")))
        var state = AppState(session: "s", panes: [PaneState(personaID: "skeptic", name: "The Skeptic", color: .red,
                                                             model: ModelRef(provider: "openai", model: "gpt-4o"), price: price)],
                             width: 100, height: 12)
        state.caps = BudgetCaps(session: 10_000_000_000)
        state.sessionSpent = CostTotals()
        state.todaySpent = CostTotals(picos: 250_000_000_000, requests: 40)
        _ = ChatReducer.reduce(&state, .key(.paste("go")), at: 0)
        _ = ChatReducer.reduce(&state, .key(.enter), at: 0)
        _ = ChatReducer.reduce(&state, Turns.started("skeptic", estimate: 1000), at: 0)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .delta(String(repeating: "word ", count: 80))), at: 1)
        // ~1000 in · 2.50 + ~100 out · 10 = 3500 micro-dollars, estimated.
        var frame = ChatView.render(state).frame
        XCTAssertTrue(frame.line(9).contains("~$0.003500"), frame.line(9))
        // The running turn's estimate marks the sums, as it marks the pane's cost.
        XCTAssertTrue(frame.line(0).hasSuffix("session ~$0.003500 / $0.0100 ████░░░░░░ · today ~$0.2535"), frame.line(0))
        // The figures are right-aligned, so the bar moves when a `~` comes or goes.
        func barColor(_ frame: CellBuffer) -> Color? {
            (0..<frame.width).first { frame[$0, 0].character == "█" }.flatMap { frame[$0, 0].style.foreground }
        }
        XCTAssertEqual(barColor(frame), .palette(114), "green below the warning point")

        var report = TurnReport.notSent()
        report.usage = Usage(inputTokens: 1200, outputTokens: 600)
        report.costPicos = 9_000_000_000
        // The turn's row reaches the header with its last event.
        _ = ChatReducer.reduce(&state, .ledgerTotals(session: "s", sessionTotals: CostTotals(picos: 9_000_000_000, requests: 1),
                                                     today: CostTotals(picos: 259_000_000_000, requests: 41)), at: 2)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .done(report)), at: 2)
        frame = ChatView.render(state).frame
        XCTAssertTrue(frame.line(9).contains("in 1200  out 600") && frame.line(9).hasSuffix(" $0.009000"), frame.line(9))
        XCTAssertTrue(frame.line(0).hasSuffix("session $0.009000 / $0.0100 █████████░ · today $0.2590"), frame.line(0))
        XCTAssertEqual(barColor(frame), .palette(221), "yellow past the 80% warning point")
        state.sessionSpent = CostTotals(picos: 10_000_000_000, requests: 2)
        XCTAssertEqual(barColor(ChatView.render(state).frame), .palette(203), "red at the cap")
    }

    func testCounterSwitchesFromEstimatedToExactWhenUsageArrives() {
        var state = Self.streaming(width: 120, height: 14, answers: ["Evidence first: the studies are small.", "b", "c"])
        var report = TurnReport.notSent()
        report.text = "Evidence first: the studies are small."
        report.usage = Usage(inputTokens: 131, outputTokens: 9)
        report.costPicos = 321_000_000
        report.timeToFirstToken = 0.5
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .done(report)), at: 2)
        XCTAssertEqual(ChatView.render(state).frame.line(11).prefix(40), " ✓ done 131→9 6t/s 0.50s $0.000321      ")
    }

    func testCJKEmojiAndCombiningMarksWrapByDisplayWidth() {
        let state = Self.streaming(width: 40, height: 12,
                                   answers: ["日本語のテキストを折り返す。Emoji 👋🏽 and café (cafe\u{301}) wrap by width."])
        let frame = ChatView.render(state).frame
        XCTAssertEqual(Array(frame.lines[4...5]), [
            " 日本語のテキストを折り返す。Emoji 👋🏽",
            " and café (café) wrap by width.",
        ])
        XCTAssertEqual(DisplayWidth.of(frame.line(4)), 37, "14 wide characters, 6 narrow and a 2-wide emoji after the gutter")
        XCTAssertTrue(frame[2, 4].isContinuation, "the right half of 日 is a continuation cell")
        XCTAssertEqual(frame[8, 5].character, "é")
        XCTAssertEqual(frame[14, 5].character, "e\u{301}", "the combining accent stays with its letter in one cell")
        XCTAssertEqual(frame[15, 5].character, ")", "and takes no column of its own")
    }

    func testZoomedPaneFillsTheScreenWithMarkdownStyles() {
        var state = Self.streaming(width: 80, height: 12, answers: ["one", "two **bold** `code`\n```\nlet x = 1\n```\n- item", "three"])
        _ = ChatReducer.reduce(&state, .key(.tab), at: 3)
        _ = ChatReducer.reduce(&state, .key(.function(2)), at: 3)
        let frame = ChatView.render(state).frame
        XCTAssertEqual(Array(frame.lines[1...9]), [
            " The Optimist  openai:gpt-4o-mini",
            " › Is remote work productive?",
            "",
            " two bold code",
            " ```",
            " let x = 1",
            " ```",
            " • item",
            " ● streaming in ~121  out ~11  4.4 t/s  ttft 0.50s  $?",
        ])
        XCTAssertEqual(frame[6, 6].style.background, .palette(236), "code blocks are tinted")
        XCTAssertEqual(frame[70, 6].style.background, .palette(236), "to the pane's edge")
        XCTAssertEqual(frame[10, 4].style.background, .palette(237), "inline code is tinted")
        XCTAssertTrue(frame[6, 4].style.bold)
    }

    func testTooSmallScreenShowsAMessageAndRecovers() {
        var state = Self.streaming(width: 30, height: 8, answers: ["x"])
        XCTAssertEqual(ChatView.render(state).frame.lines, [
            "",
            "",
            "      Terminal too small",
            "     30×8; Persona needs",
            "      40×10. Enlarge it,",
            "   or Ctrl-C twice to quit.",
            "",
            "",
        ])
        _ = ChatReducer.reduce(&state, .resize(width: 60, height: 12), at: 3)
        XCTAssertEqual(ChatView.render(state).frame.line(1), " The Skeptic  openai:gpt-4o-mini")
    }

    func testEscapeSequencesAndBellFromTheModelAreInert() {
        let state = Self.streaming(width: 50, height: 10, answers: ["clear\u{1B}[2J bell\u{07} csi\u{9B}31m end"])
        let frame = ChatView.render(state).frame
        XCTAssertEqual(frame.line(4), " clear␛[2J bell␇ csi␦31m end")
        let everything = frame.cells.map { String($0.character) }.joined()
        XCTAssertFalse(everything.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
    }

    func testResizeReflowsPanesFromTheStoredText() {
        var state = Self.streaming(width: 120, height: 14, answers: [
            "Evidence first: the studies are small and mostly self-selected.", "b", "c",
        ])
        XCTAssertEqual(ChatView.render(state).frame.line(4).prefix(40), " Evidence first: the studies are small  ")
        _ = ChatReducer.reduce(&state, .resize(width: 70, height: 20), at: 3)
        let frame = ChatView.render(state).frame
        XCTAssertEqual(frame.line(1), " The Skeptic  openai:gpt-4o-mini   │ The Optimist  openai:gpt-4o-mini")
        XCTAssertEqual(Array(frame.lines[4...6]).map { $0.prefix(35).trimmingCharacters(in: .whitespaces) }, [
            "Evidence first: the studies are", "small and mostly self-selected.", "",
        ])
    }
}

final class StreamingWrapTests: XCTestCase {
    /// Styling and wrapping a streamed answer delta by delta gives exactly the lines of the whole
    /// answer, however the deltas split it (inside `**`, a grapheme, a CRLF, a fence or a list marker).
    func testStreamedLinesEqualTheLinesOfTheWholeText() {
        let answer = """
            # Verdict
            Remote work is **mostly productive**, with `caveats`: e\u{301}quipe 日本語 👋🏽 and a long \
            sentence that certainly needs wrapping across several lines of a narrow pane.
            - first point
            12. numbered point
            > quoted line
            ```
            let x = 1
            ```
            Final **bold words** end here, and 2 * 3 is 6.\r\nA CRLF line, then cafe\u{301} and a flag 🇫🇷.
            """
        // Split between scalars too, so that a mark or a CRLF's LF arrives apart from its base.
        for (width, pieces) in [12, 23, 40].flatMap({ [($0, Array(answer).map { String($0) }), ($0, answer.unicodeScalars.map { String($0) })] }) {
            for step in [1, 2, 3, 7, 13] {
                var streamed = RenderTests.streaming(width: 80, height: 20, answers: [""])
                // One renderer's memory follows the stream; the whole text is wrapped afresh.
                let (streamedCache, wholeCache) = (WrapCache(), WrapCache())
                var index = 0
                while index < pieces.count {
                    let piece = pieces[index..<min(pieces.count, index + step)].joined()
                    _ = ChatReducer.reduce(&streamed, Turns.event("skeptic", serial: 1, .delta(piece)), at: 1)
                    _ = streamedCache.lines(for: streamed.panes[0], width: width, foldsTools: true)
                    index += step
                }
                var whole = RenderTests.streaming(width: 80, height: 20, answers: [answer])
                XCTAssertEqual(streamedCache.lines(for: streamed.panes[0], width: width, foldsTools: true).all, wholeCache.lines(for: whole.panes[0], width: width, foldsTools: true).all,
                               "width \(width), step \(step) while streaming")
                var report = TurnReport.notSent()
                report.text = answer
                _ = ChatReducer.reduce(&streamed, Turns.event("skeptic", serial: 1, .done(report)), at: 2)
                _ = ChatReducer.reduce(&whole, Turns.event("skeptic", serial: 1, .done(report)), at: 2)
                XCTAssertEqual(streamedCache.lines(for: streamed.panes[0], width: width, foldsTools: true).all, wholeCache.lines(for: whole.panes[0], width: width, foldsTools: true).all,
                               "width \(width), step \(step) when done")
            }
        }
    }

    /// A retry replaces the answer; text of the same length streamed before the next frame must
    /// not show the old answer's wrapped lines.
    func testReplacedTextNeverShowsTheOldPrefix() {
        var state = RenderTests.streaming(width: 80, height: 20, answers: ["abcdef"])
        let renderer = ChatRenderer()
        var frame = CellBuffer(width: 0, height: 0)
        _ = renderer.render(state, into: &frame)
        XCTAssertTrue(frame.lines.contains { $0.contains("abcdef") })
        let retry = TurnRetry(attempt: 1, of: 3, delay: 0, reason: ProviderError(kind: .server, message: "oops"), partialText: "abcdef")
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .retry(retry)), at: 1)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .delta("xyzuvw")), at: 1)
        _ = renderer.render(state, into: &frame)
        XCTAssertTrue(frame.lines.contains { $0.contains("xyzuvw") }, frame.lines.joined(separator: "\n"))
        XCTAssertFalse(frame.lines.contains { $0.contains("abcdef") })
    }

    func testMarkdownStylesOfAFinishedAnswer() {
        var state = RenderTests.streaming(width: 60, height: 20, answers: ["# Title\n- item\n1. one\n> quote\nplain **b** `c`"])
        var report = TurnReport.notSent()
        report.text = state.panes[0].entries.last!.text
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .done(report)), at: 2)
        let lines = WrapCache().lines(for: state.panes[0], width: 40, foldsTools: true).all.suffix(5).map(\.text)
        XCTAssertEqual(lines, ["Title", "• item", "1. one", "│ quote", "plain b c"])
    }
}

final class MarkdownFastPathTests: XCTestCase {
    /// Printable ASCII fed as bytes styles and wraps exactly as the same characters fed one by one.
    func testASCIIBytesStyleAndWrapAsTheirCharactersDo() {
        let paragraphs = ["# Heading with **bold**", "plain **bold** and `code` and 2 * 3 = 6, a lone * star", "- item *", "> quote `x`",
                          "```swift", "12. numbered", "a*b**c***d`e`f", "   indented  words  with   spaces   that wrap"]
        for width in [7, 16, 40] {
            for (index, paragraph) in paragraphs.enumerated() {
                let block = MarkdownParagraph.BlockState(inFence: index == paragraphs.count - 1)
                var bytes = MarkdownParagraph(block: block), characters = MarkdownParagraph(block: block)
                var byByte = LineWrapper(width: width), byCharacter = LineWrapper(width: width)
                for character in paragraph {
                    bytes.feed(ascii: character.asciiValue!, into: &byByte)
                    characters.feed(character, into: &byCharacter)
                }
                XCTAssertEqual(bytes.finish(into: &byByte), characters.finish(into: &byCharacter))
                XCTAssertEqual(byByte.allLines, byCharacter.allLines, "\(paragraph) at width \(width)")
            }
        }
    }
}

final class FixedPointTests: XCTestCase {
    func testRoundsToTheNearest() {
        XCTAssertEqual(Fixed.text(12.34, places: 1), "12.3")
        XCTAssertEqual(Fixed.text(0.006, places: 2), "0.01")
        XCTAssertEqual(Fixed.text(1.5, places: 0), "2")
        XCTAssertEqual(Fixed.text(2.5, places: 0), "2")
        XCTAssertEqual(Fixed.text(0.25, places: 1), "0.2")
        XCTAssertEqual(Fixed.text(3, places: 2), "3.00")
        XCTAssertEqual(Fixed.text(0.07, places: 2), "0.07")
        XCTAssertEqual(Fixed.text(-1.25, places: 1), "-1.2")
        XCTAssertEqual(Fixed.text(-0.01, places: 1), "0.0")
        XCTAssertEqual(Fixed.text(.nan, places: 1), "?")
        for value in [0.0, 0.04, 9.96, 123.456, 59.97] {
            for places in 0...2 {
                XCTAssertEqual(Fixed.text(value, places: places), String(format: "%.\(places)f", value), "\(value) to \(places)")
            }
        }
    }
}
