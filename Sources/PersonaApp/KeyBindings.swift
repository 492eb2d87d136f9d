import PersonaKit
import TerminalUI

/// What a key does on the chat screen.
enum KeyAction: Equatable, CaseIterable {
    case send, newline
    case focusNext, focusPrevious
    case pageUp, pageDown, top, follow, wheelUp, wheelDown
    case stopFocused, regenerate, copy, zoom, costs, providers, fields, transcript, ranking, leaderboard, vote, help, interrupt
    case historyUp, historyDown, left, right, lineStart, lineEnd, deleteBack, deleteForward, deleteWord, deleteToLineStart, deleteToLineEnd
}

/// What a key does on the monitor (`persona monitor`).
enum MonitorAction: Equatable {
    case quit, nextTable, pause, help, closeHelp
}

/// A line of key bindings, declared once: the keys and what each does, how help names them and
/// what it says of them, and their words in the hint line when they have some.
struct KeyBinding<Action: Sendable>: Sendable {
    let keys: [(key: Key, action: Action)]
    let label: String
    let help: String
    let hint: String?

    init(_ label: String, _ help: String, hint: String? = nil, _ keys: [(Key, Action)]) {
        self.label = label
        self.help = help
        self.hint = hint
        self.keys = keys.map { (key: $0.0, action: $0.1) }
    }
}

/// A slash command as help lists it.
struct SlashCommandHelp {
    let usage: String
    let help: String
}

/// Every key binding and slash command of the chat screen with its help text. Key handling, the
/// F1 help, `/help` and the hint line all come from these tables.
enum Bindings {
    /// In the hint line's order; help lists them in this order too.
    static let keys: [KeyBinding<KeyAction>] = [
        KeyBinding("Enter", "send to every persona", hint: "Enter send", [(.enter, .send)]),
        KeyBinding("Alt-Enter, ^J", "new line in the message", hint: "Alt-Enter newline", [(.newline, .newline)]),
        KeyBinding("Tab, Shift-Tab", "move focus between panes", hint: "Tab focus", [(.tab, .focusNext), (.shiftTab, .focusPrevious)]),
        KeyBinding("Esc", "stop the focused pane; Esc Esc all", hint: "Esc stop", [(.escape, .stopFocused)]),
        KeyBinding("F1", "this help", hint: "F1 help", [(.function(1), .help)]),
        KeyBinding("Ctrl-Y", "copy the focused pane's last answer to the clipboard", hint: "Ctrl-Y copy (/mouse off to select)", [(.control("y"), .copy)]),
        KeyBinding("PgUp PgDn", "scroll the focused pane, or this help (or wheel)", hint: "PgUp/PgDn scroll",
                   [(.pageUp, .pageUp), (.pageDown, .pageDown), (.wheelUp(x: 0, y: 0), .wheelUp), (.wheelDown(x: 0, y: 0), .wheelDown)]),
        KeyBinding("Home End", "top; back to following the stream", [(.home, .top), (.end, .follow)]),
        KeyBinding("Ctrl-R", "regenerate the focused pane's answer", hint: "Ctrl-R regenerate", [(.control("r"), .regenerate)]),
        KeyBinding("F2", "zoom the focused pane", hint: "F2 zoom", [(.function(2), .zoom)]),
        KeyBinding("F3", "what it has cost (from the ledger)", hint: "F3 costs", [(.function(3), .costs)]),
        KeyBinding("F4", "providers: breakers, limits, latency", hint: "F4 providers", [(.function(4), .providers)]),
        KeyBinding("F6", "structured answers as their fields, or as raw JSON", [(.function(6), .fields)]),
        KeyBinding("F7", "the whole conversation in time order; / searches it", hint: "F7 transcript", [(.function(7), .transcript)]),
        KeyBinding("F8", "the last council's ranking of the answers", [(.function(8), .ranking)]),
        KeyBinding("F9", "your leaderboard, from your blind votes", [(.function(9), .leaderboard)]),
        KeyBinding("Alt-1…9", "vote for the answer at that place as the best", (1...9).map { (.alt(Character("\($0)")), .vote) }),
        KeyBinding("Ctrl-C", "stop streams; twice to quit", hint: "Ctrl-C ×2 quit", [(.control("c"), .interrupt)]),
        KeyBinding("↑ ↓", "lines of the message; past its first or last, the history", [(.up, .historyUp), (.down, .historyDown)]),
        KeyBinding("← → ^A ^E", "left, right, start, end of the line",
                   [(.left, .left), (.right, .right), (.control("a"), .lineStart), (.control("e"), .lineEnd)]),
        KeyBinding("Backspace Del ^D", "delete before, under the cursor",
                   [(.backspace, .deleteBack), (.delete, .deleteForward), (.control("d"), .deleteForward)]),
        KeyBinding("^W ^U ^K", "delete word, to line start, to line end",
                   [(.control("w"), .deleteWord), (.control("u"), .deleteToLineStart), (.control("k"), .deleteToLineEnd)]),
    ]

    static let commands: [SlashCommandHelp] = [
        SlashCommandHelp(usage: "/mode parallel|rounds|round-robin|moderated|council", help: "how the personas take turns"),
        SlashCommandHelp(usage: "/rounds N", help: "how many rounds a debate runs (1 to 50)"),
        SlashCommandHelp(usage: "/judge NAME, /judge off", help: "a persona who gives a verdict after each debate"),
        SlashCommandHelp(usage: "/model NAME provider:model", help: "answer with another model from now on"),
        SlashCommandHelp(usage: "/add NAME", help: "bring a persona into the conversation"),
        SlashCommandHelp(usage: "/drop NAME", help: "leave a persona out from now on"),
        SlashCommandHelp(usage: "/solo NAME, /all", help: "go on with one persona alone; bring the others back"),
        SlashCommandHelp(usage: "/edit NAME", help: "open a persona's file in $EDITOR, then reload it"),
        SlashCommandHelp(usage: "/blind", help: "blind mode on or off: answers as A, B, C… in a new order, names after the vote"),
        SlashCommandHelp(usage: "/vote B, /vote B>A>C", help: "the best answer, or an order; /vote tie, /vote skip"),
        SlashCommandHelp(usage: "/unvote", help: "withdraw your last vote"),
        SlashCommandHelp(usage: "/export [md|json] [FILE]", help: "write this session to a file (./<name or id>.md)"),
        SlashCommandHelp(usage: "/transcript", help: "the whole conversation in time order, as F7"),
        SlashCommandHelp(usage: "/batch [PROMPT]", help: "send a prompt (else your last one) to every pane as a batch job, at batch prices"),
        SlashCommandHelp(usage: "/jobs", help: "the batch jobs, as `persona batch list` shows them"),
        SlashCommandHelp(usage: "/copy", help: "copy the focused pane's last answer, as Ctrl-Y"),
        SlashCommandHelp(usage: "/mouse off, /mouse on", help: "leave the mouse to the terminal, to select text"),
        SlashCommandHelp(usage: "/notices", help: "the latest notices, in full"),
        SlashCommandHelp(usage: "/clear", help: "start afresh, in a new session"),
        SlashCommandHelp(usage: "/reload", help: "read the config and persona files again"),
        SlashCommandHelp(usage: "/welcome", help: "the first-run page again"),
        SlashCommandHelp(usage: "/help", help: "this help"),
        SlashCommandHelp(usage: "/quit", help: "leave, as Ctrl-C twice does"),
    ]

    /// The command names, as `/help` and an unknown command's hint list them.
    static let commandNames = commands.map { String($0.usage.prefix { $0 != " " && $0 != "," }) }

    /// The monitor's keys, in the hint line's order.
    static let monitorKeys: [KeyBinding<MonitorAction>] = [
        KeyBinding("q, Ctrl-C", "quit", hint: "q quit", [(.character("q"), .quit), (.control("c"), .quit)]),
        KeyBinding("Tab", "top spenders by session, persona, model, client", hint: "Tab spenders", [(.tab, .nextTable)]),
        KeyBinding("p", "pause the view; again to go on", hint: "p pause", [(.character("p"), .pause)]),
        KeyBinding("?, F1", "this help", hint: "? help", [(.character("?"), .help), (.function(1), .help)]),
        KeyBinding("Esc", "close this help", [(.escape, .closeHelp)]),
    ]

    private static func table<Action: Sendable>(_ bindings: [KeyBinding<Action>]) -> [Key: Action] {
        var actions: [Key: Action] = [:]
        for binding in bindings { for (key, action) in binding.keys { actions[key] = action } }
        return actions
    }

    private static let actions = table(keys)
    private static let monitorActions = table(monitorKeys)

    static func monitorAction(for key: Key) -> MonitorAction? { monitorActions[key] }

    static let monitorHintLine = monitorKeys.compactMap(\.hint).joined(separator: " · ")

    static let monitorHelpLines: [String] = ["Persona monitor: keys", ""] + columns(monitorKeys.map { ($0.label, $0.help) })
        + ["", "It reads persona.db four times a second: the ledger, the requests in flight",
           "(their processes publish progress twice a second), batch jobs and gateway clients.",
           "~ marks estimates; `persona costs` gives the same exact figures."]

    /// What `key` does; nil for text, pastes and clicks, which are not bindings.
    static func action(for key: Key) -> KeyAction? {
        switch key {
        case .wheelUp: return actions[.wheelUp(x: 0, y: 0)]
        case .wheelDown: return actions[.wheelDown(x: 0, y: 0)]
        default: return actions[key]
        }
    }

    /// `Enter send · Alt-Enter newline · … · Ctrl-C ×2 quit`.
    static let hintLine = keys.compactMap(\.hint).joined(separator: " · ")

    /// The help overlay: every key binding, then every slash command.
    static let helpLines: [String] = ["Persona: keys", ""] + columns(keys.map { ($0.label, $0.help) })
        + ["", "Commands", ""] + columns(commands.map { ($0.usage, $0.help) })

    /// Names in a column as wide as the widest, each followed by what it does.
    private static func columns(_ rows: [(name: String, help: String)]) -> [String] {
        let width = rows.map { DisplayWidth.of($0.name) }.max() ?? 0
        return rows.map { $0.name + String(repeating: " ", count: width - DisplayWidth.of($0.name) + 2) + $0.help }
    }
}
