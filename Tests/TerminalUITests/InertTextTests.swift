import XCTest

@testable import TerminalUI

final class InertTextTests: XCTestCase {
    func testEscapeSequencesAndBellBecomeVisibleSymbols() {
        XCTAssertEqual(InertText.sanitize("a\u{1B}[2Jb\u{07}c"), "a␛[2Jb␇c")
    }

    func testC1ControlsAndDeleteAreNeutralised() {
        XCTAssertEqual(InertText.sanitize("x\u{9B}31m\u{9D}0;title\u{7F}"), "x\u{2426}31m\u{2426}0;title\u{2421}")
    }

    func testCarriageReturnCannotOverwriteALine() {
        XCTAssertEqual(InertText.sanitize("safe\rEVIL"), "safe␍EVIL")
    }

    func testBidiOverridesAndIsolatesAreDropped() {
        XCTAssertEqual(InertText.sanitize("pay \u{202E}txt.exe\u{202C} now \u{2066}a\u{2069} \u{200F}b"), "pay txt.exe now a b")
        XCTAssertEqual(InertText.sanitize("عربي and English"), "عربي and English", "right-to-left text itself stays")
    }

    func testNewlinesTabsAndUnicodeTextAreKept() {
        let text = "line one\n\tindented 日本語 👋 é"
        XCTAssertEqual(InertText.sanitize(text), text)
    }
}
