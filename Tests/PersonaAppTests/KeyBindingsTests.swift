import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

/// The one table of keys and commands, and what is derived from it.
final class KeyBindingsTests: XCTestCase {
    func testEveryActionIsBoundAndEveryKeyToOneAction() {
        let bound = Bindings.keys.flatMap(\.keys)
        XCTAssertEqual(Set(bound.map(\.action).map { "\($0)" }), Set(KeyAction.allCases.map { "\($0)" }), "every action has a key")
        XCTAssertEqual(Set(bound.map(\.key)).count, bound.count, "no key is bound twice")
        for (key, action) in bound { XCTAssertEqual(Bindings.action(for: key), action, "\(key)") }
        XCTAssertEqual(Bindings.action(for: .wheelDown(x: 7, y: 3)), .wheelDown, "the wheel wherever it turns")
        XCTAssertNil(Bindings.action(for: .character("a")), "text is not a binding")
    }

    /// Help lists every binding and every command, `/mode`, `/rounds`, `/judge`, `/reload` and
    /// `/welcome` among them.
    func testHelpListsEveryBindingAndCommand() {
        let help = Bindings.helpLines.joined(separator: "\n")
        for binding in Bindings.keys { XCTAssertTrue(help.contains(binding.label + " "), binding.label) }
        for name in ["/mode", "/rounds", "/judge", "/model", "/add", "/drop", "/clear", "/reload", "/welcome", "/help", "/quit"] {
            XCTAssertTrue(Bindings.commandNames.contains(name), name)
            XCTAssertTrue(help.contains(name), name)
        }
    }

    /// On a small screen the help scrolls: PgDn shows the rest, another key closes it.
    func testHelpScrollsOnASmallScreen() {
        var state = AppState(session: "s", panes: [PaneState(personaID: "a", name: "A", color: .palette(75),
                                                              model: ModelRef(provider: "openai", model: "m"))], width: 80, height: 24)
        _ = ChatReducer.reduce(&state, .key(.function(1)), at: 0)
        var screen = ChatView.render(state).frame.lines.joined(separator: "\n")
        XCTAssertTrue(screen.contains("Persona: keys"))
        XCTAssertTrue(screen.contains("more lines (PgDn)"), screen)
        let bottom = ChatView.render(state).frame.lines.first { $0.contains("└") } ?? ""
        XCTAssertTrue(bottom.contains("more lines (PgDn)") && bottom.contains("Any key closes this."),
                      "the bottom border says both, whatever scrolls: \(bottom)")
        XCTAssertTrue(screen.contains("┌"), "the box has a border")
        XCTAssertFalse(screen.contains("/quit"))
        for _ in 0..<8 { _ = ChatReducer.reduce(&state, .key(.pageDown), at: 0) }
        screen = ChatView.render(state).frame.lines.joined(separator: "\n")
        XCTAssertTrue(screen.contains("/quit"), screen)
        XCTAssertTrue(screen.contains("Any key closes this."))
        XCTAssertEqual(state.overlay, .help, "scrolling keeps it open")
        _ = ChatReducer.reduce(&state, .key(.character("x")), at: 0)
        XCTAssertNil(state.overlay)
        XCTAssertEqual(state.input.text, "", "the closing key is not typed")
    }
}
