import PersonaKit

/// The chat screen's slash commands. Unknown ones get a hint; none is ever sent to a model.
enum SlashCommand {

    static func run(_ line: String, state: inout AppState) -> [AppEffect] {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let arguments = Array(words.dropFirst())
        switch words[0].lowercased() {
        case "/help":
            state.overlay = .help
            state.overlayTop = 0
        case "/welcome":
            return [.showWelcome]
        case "/reload":
            return [.reload]
        case "/quit", "/exit":
            state.shouldQuit = true
            return ChatReducer.stopAll(&state) + [.quit]
        case "/mode":
            guard arguments.count == 1, let mode = ConversationMode(rawValue: arguments[0].lowercased()) else {
                state.notice = "Usage: /mode " + ConversationMode.allCases.map(\.rawValue).joined(separator: "|")
                    + " (now \(state.mode.rawValue))"
                return []
            }
            state.mode = mode
            // Blind votes compare answers to one prompt; a debate's turns answer each other by name.
            if mode != .parallel, state.blind { ChatReducer.toggleBlind(&state) }
            // The chairman's pane belongs to councils.
            if mode != .council, let chair = state.chairPaneID, let index = state.panes.firstIndex(where: { $0.personaID == chair }) {
                state.panes.remove(at: index)
                state.chairPaneID = nil
                state.focus = min(state.focus, max(0, state.panes.count - 1))
            }
            let described = mode == .parallel ? "Parallel: everyone answers you, side by side."
                : mode == .council ? "Council: everyone answers, reviews the others' answers blind, then a chairman answers; F8 ranks them."
                : "\(mode.rawValue): your next message starts a \(state.debateRounds)-round debate."
            state.notice = described
            // A judge gives verdicts on debates; without one, its pane goes with it.
            if mode == .parallel, let judge = state.judgeID, let index = state.panes.firstIndex(where: { $0.personaID == judge }) {
                let effects = ChatReducer.stopPanes([index], state: &state)
                state.notice = described + " \(state.panes[index].name) stops judging; /judge brings a judge back."
                state.panes.remove(at: index)
                state.judgeID = nil
                state.focus = min(state.focus, max(0, state.panes.count - 1))
                return effects
            }
        case "/rounds":
            guard arguments.count == 1, let rounds = Int(arguments[0]), (1...50).contains(rounds) else {
                state.notice = "Usage: /rounds N, from 1 to 50 (now \(state.debateRounds))"
                return []
            }
            state.debateRounds = rounds
            state.notice = "Debates run \(rounds) round\(rounds == 1 ? "" : "s")."
        case "/judge":
            guard !arguments.isEmpty else {
                state.notice = "Usage: /judge PERSONA, or /judge off"
                return []
            }
            let name = arguments.joined(separator: " ")
            return [.setJudge(name.lowercased() == "off" ? nil : name)]
        case "/model":
            // The persona's name may have spaces; the model is the last word.
            guard arguments.count >= 2, let index = paneIndex(arguments.dropLast().joined(separator: " "), state) else {
                state.notice = "Usage: /model PERSONA provider:model, e.g. /model skeptic openai:gpt-4o-mini"
                return []
            }
            do {
                let model = try ModelRef(parsing: arguments[arguments.count - 1])
                return [.changeModel(personaID: state.panes[index].personaID, model: model)]
            } catch {
                state.notice = "/model: \(error)"
            }
        case "/add":
            guard !arguments.isEmpty else {
                state.notice = "Usage: /add PERSONA (see `persona personas list`)"
                return []
            }
            return [.addPersona(arguments.joined(separator: " "))]
        case "/drop":
            guard !arguments.isEmpty, let index = paneIndex(arguments.joined(separator: " "), state) else {
                state.notice = "Usage: /drop PERSONA, one of: \(state.panes.map(\.personaID).joined(separator: ", "))"
                return []
            }
            let effects = ChatReducer.stopPanes([index], state: &state)
            let name = state.panes[index].name
            if state.soloID == state.panes[index].personaID { state.soloID = nil }
            state.panes.remove(at: index)
            state.focus = min(state.focus, max(0, state.panes.count - 1))
            state.zoomed = state.zoomed && !state.panes.isEmpty
            state.notice = "\(name) left the conversation."
            return effects
        case "/solo":
            guard !arguments.isEmpty, let index = paneIndex(arguments.joined(separator: " "), state),
                  state.memberPanes.contains(where: { $0.personaID == state.panes[index].personaID }) else {
                state.notice = "Usage: /solo PERSONA, one of: \(state.memberPanes.map(\.personaID).joined(separator: ", "))"
                return []
            }
            guard !state.conversing else {
                state.notice = "Still answering: wait, or press Esc Esc to stop first."
                return []
            }
            state.soloID = state.panes[index].personaID
            state.focus = index
            state.zoomed = false
            state.notice = "Just you and \(state.panes[index].name) now; /all brings the others back (they will not hear this part)."
        case "/all":
            guard state.soloID != nil else {
                state.notice = "Everyone is here already."
                return []
            }
            state.soloID = nil
            state.notice = "Everyone is back. They did not hear what was said while they were away."
        case "/blind":
            ChatReducer.toggleBlind(&state)
        case "/vote":
            return ChatReducer.vote(arguments.joined(), state: &state)
        case "/unvote":
            return ChatReducer.unvote(&state)
        case "/copy":
            return ChatReducer.copyLastAnswer(&state)
        case "/mouse":
            guard arguments.count == 1, ["on", "off"].contains(arguments[0].lowercased()) else {
                state.notice = "Usage: /mouse off (the terminal selects text) or /mouse on (wheel and clicks)"
                return []
            }
            state.mouseReports = arguments[0].lowercased() == "on"
            state.notice = state.mouseReports ? "The mouse scrolls and focuses panes again."
                : "The mouse is the terminal's: drag to select text. /mouse on gives it back to Persona."
            return [.setMouseReports(state.mouseReports)]
        case "/edit":
            guard !arguments.isEmpty else {
                state.notice = "Usage: /edit PERSONA, to open its file in $EDITOR"
                return []
            }
            return [.editPersona(arguments.joined(separator: " "))]
        case "/export":
            var rest = arguments
            var format = "md"
            if let first = rest.first, ["md", "markdown", "json"].contains(first.lowercased()) {
                format = first.lowercased()
                rest.removeFirst()
            }
            if ChatReducer.refusesWhileHidden("An export", state: &state) { return [] }
            return [.export(format: format, path: rest.isEmpty ? nil : rest.joined(separator: " "))]
        case "/transcript":
            return ChatReducer.refusesWhileHidden("The transcript", state: &state) ? [] : [.showTranscript]
        case "/jobs":
            return [.showJobs]
        case "/batch":
            let given = arguments.joined(separator: " ")
            guard let prompt = given.isEmpty ? state.lastPrompt : given else {
                state.notice = "Usage: /batch PROMPT, or /batch alone after a message, to send it to every pane as a batch job"
                return []
            }
            return [.submitBatch(prompt)]
        case "/notices":
            if ChatReducer.refusesWhileHidden("The notices", state: &state) { return [] }
            state.overlay = .report(["Notices, newest first", ""] + (state.noticeLog.isEmpty ? ["None yet."] : state.noticeLog.reversed()))
            state.overlayTop = 0
        case "/clear":
            let effects = ChatReducer.stopAll(&state)
            for index in state.panes.indices {
                state.panes[index].entries = []
                state.panes[index].phase = .idle
                state.panes[index].counters = TurnCounters()
                state.panes[index].scrollTop = nil
                state.panes[index].turnSerial = 0
            }
            state.round = 0
            state.notice = "Cleared. The personas start afresh in a new session."
            return effects + [.newSession]
        default:
            state.notice = "Unknown command \(words[0]); try \(Bindings.commandNames.joined(separator: " ")). Nothing was sent."
        }
        return []
    }

    /// A pane by its persona's handle (`PersonaHandle`): id or name, in any case.
    static func paneIndex(_ handle: String, _ state: AppState) -> Int? {
        state.panes.firstIndex { PersonaHandle.matches(handle, id: $0.personaID, name: $0.name) }
    }
}
