import Foundation
import PersonaKit
import TerminalUI

/// Keys, as the bindings table maps them to actions: sending, stopping, focus, scrolling and
/// editing the message.
extension ChatReducer {
    static func handleKey(_ key: Key, state: inout AppState) -> [AppEffect] {
        let wasEscape = state.lastKeyWasEscape
        state.lastKeyWasEscape = key == .escape
        let action = Bindings.action(for: key)
        if action != .interrupt { state.quitArmed = false }
        if state.overlay != nil {
            if case .transcript(let lines) = state.overlay, searchTranscript(key, lines: lines, state: &state) { return [] }
            // An overlay scrolls with the scrolling keys; any other key closes it.
            switch action {
            case .pageUp?, .historyUp?, .wheelUp?: state.overlayTop = max(0, state.overlayTop - (action == .pageUp ? 10 : 1))
            case .pageDown?, .historyDown?, .wheelDown?: state.overlayTop += action == .pageDown ? 10 : 1
            default:
                let closed = state.overlay
                state.overlay = nil
                state.overlayTop = 0
                state.overlaySearch = nil
                if case .welcome = closed { return closeWelcome(with: key, state: &state) }
            }
            return []
        }
        state.notice = nil
        guard let action else {
            switch key {
            case .paste(let text): insert(text, into: &state.input)
            case .character(let character): insert(String(character), into: &state.input)
            case .click(let x, let y): if let index = ScreenLayout(state).pane(at: x, y) { state.focus = index }
            default: break
            }
            return []
        }
        switch action {
        case .interrupt:
            if state.quitArmed {
                state.shouldQuit = true
                return [.quit]
            }
            state.quitArmed = true
            let effects = stopAll(&state)
            state.notice = effects.isEmpty ? "Press Ctrl-C again to quit." : "Stopped. Press Ctrl-C again to quit."
            return effects
        case .stopFocused:
            if wasEscape { return stopAll(&state) }
            guard state.panes.indices.contains(state.focus) else { return [] }
            return stopPanes([state.focus], state: &state)
        case .send:
            return submit(&state)
        case .newline:
            insert("\n", into: &state.input)
        case .focusNext, .focusPrevious:
            guard state.soloID == nil else {
                state.notice = "Alone with one persona: /all brings the others back."
                return []
            }
            guard !state.panes.isEmpty else { return [] }
            let step = action == .focusNext ? 1 : state.panes.count - 1
            state.focus = (state.focus + step) % state.panes.count
        case .pageUp, .pageDown, .top, .follow:
            scroll(action, state: &state)
        case .wheelUp:
            scroll(lines: -3, state: &state)
        case .wheelDown:
            scroll(lines: 3, state: &state)
        case .help:
            state.overlay = .help
            state.overlayTop = 0
        case .zoom:
            // A solo conversation shows its one pane whole already.
            if state.soloID == nil { state.zoomed.toggle() }
        case .costs:
            return refusesWhileHidden("The costs", state: &state) ? [] : [.showCosts]
        case .vote:
            guard case .alt(let digit) = key, let place = digit.wholeNumberValue else { return [] }
            return vote(place: place, state: &state)
        case .leaderboard:
            return [.showLeaderboard]
        case .copy:
            return copyLastAnswer(&state)
        case .transcript:
            return refusesWhileHidden("The transcript", state: &state) ? [] : [.showTranscript]
        case .ranking:
            state.overlay = .report(state.councilTable.map { ["The last council's ranking", ""] + $0 }
                ?? ["No council has ranked answers in this session yet: /mode council, then ask."])
            state.overlayTop = 0
        case .fields:
            ChatReducer.showFields(!state.showsFields, state: &state)
        case .providers:
            return refusesWhileHidden("The providers' page", state: &state) ? [] : [.showProviders]
        case .regenerate:
            return regenerate(&state)
        case .historyUp, .historyDown, .left, .right, .lineStart, .lineEnd, .deleteBack, .deleteForward, .deleteWord,
             .deleteToLineStart, .deleteToLineEnd:
            editInput(action, input: &state.input)
        }
        return []
    }

    /// Stops every pane and the conversation itself, so that no further round begins.
    static func stopAll(_ state: inout AppState) -> [AppEffect] {
        let effects = stopPanes(state.panes.indices, state: &state)
        guard state.conversing else { return effects }
        state.conversing = false
        state.progress = nil
        return effects + [.stopConversation]
    }

    /// Stops the streaming panes among `indices`, keeping what they streamed, marked as stopped.
    static func stopPanes<S: Sequence>(_ indices: S, state: inout AppState) -> [AppEffect] where S.Element == Int {
        var effects: [AppEffect] = []
        for index in indices where state.panes[index].isActive {
            state.panes[index].phase = .cancelled
            state.panes[index].counters.finishedAt = state.now
            if let last = state.panes[index].entries.indices.last, state.panes[index].entries[last].role == .assistant {
                state.panes[index].entries[last].status = .stopped
            }
            effects.append(.cancelTurn(personaID: state.panes[index].personaID))
        }
        return effects
    }

    static func submit(_ state: inout AppState) -> [AppEffect] {
        let text = state.input.text
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return [] }
        if trimmed.hasPrefix("/") {
            remember(text, input: &state.input)
            return SlashCommand.run(trimmed, state: &state)
        }
        guard !state.panes.isEmpty else {
            state.notice = "No personas on screen. Add one with /add NAME."
            return []
        }
        let unknown = PersonaHandle.mentions(in: text).filter { handle in
            !state.panes.contains { PersonaHandle.matches(handle, id: $0.personaID, name: $0.name) }
        }
        if let handle = unknown.first {
            // A message meant for one persona must not go to all of them, and be paid for by all.
            state.notice = "No one here answers to @\(handle); on screen: "
                + state.panes.map { "@" + $0.personaID }.joined(separator: " ") + ". Nothing was sent."
            return []
        }
        if state.conversing || state.isStreaming {
            // A debate takes the user's word between rounds; a parallel answer must finish first.
            guard state.conversing, state.mode != .parallel else {
                state.notice = "Still answering: wait, or press Esc (Esc Esc for all) to stop first."
                return []
            }
            remember(text, input: &state.input)
            appendUserEntry(text, to: soloPanes(state), state: &state)
            state.notice = "Added; the personas hear it before the next round."
            return [.interject(text)]
        }
        remember(text, input: &state.input)
        appendUserEntry(text, to: soloPanes(state), state: &state)
        openBallot(text, answering: soloPanes(state) ?? state.memberPanes.compactMap { member in
            state.panes.firstIndex { $0.personaID == member.personaID }
        }, state: &state)
        state.conversing = true
        return [.converse(text)]
    }

    /// The welcome closes on any key: the first message waiting behind it is sent as if typed,
    /// and a typed key is kept as the start of the next one.
    static func closeWelcome(with key: Key, state: inout AppState) -> [AppEffect] {
        var effects: [AppEffect] = []
        if let topic = state.pendingTopic {
            state.pendingTopic = nil
            insert(topic, into: &state.input)
            effects = submit(&state)
        }
        switch key {
        case .character(let character): insert(String(character), into: &state.input)
        case .paste(let text): insert(text, into: &state.input)
        default: break
        }
        return effects
    }

    /// The pane of a `/solo` conversation, the only one a message goes to; nil for all of them.
    static func soloPanes(_ state: AppState) -> [Int]? {
        state.soloID.flatMap { solo in state.panes.firstIndex { $0.personaID == solo } }.map { [$0] }
    }

    static func copyLastAnswer(_ state: inout AppState) -> [AppEffect] {
        guard state.panes.indices.contains(state.focus),
              let answer = state.panes[state.focus].entries.last(where: { $0.role == .assistant && !$0.text.isEmpty }) else {
            state.notice = "Nothing to copy yet: the focused pane has no answer."
            return []
        }
        // A structured answer is copied as its JSON, which a script or another tool can read.
        let text = answer.structured?.raw ?? answer.text
        state.notice = "Copied \(state.panes[state.focus].name)'s last answer (\(text.count) characters) to the clipboard."
        return [.copy(text)]
    }

    /// `/` starts a search in the transcript, Enter finds the words, `n` the next match, Esc
    /// ends the search. Returns false for keys that are not the search's.
    static func searchTranscript(_ key: Key, lines: [String], state: inout AppState) -> Bool {
        if var search = state.overlaySearch, search.typing {
            switch key {
            case .character(let character): search.text.append(character)
            case .paste(let text): search.text += text
            case .backspace: if !search.text.isEmpty { search.text.removeLast() }
            case .escape: state.overlaySearch = nil; return true
            case .enter:
                search.typing = false
                state.overlaySearch = search
                findInTranscript(lines, from: state.overlayTop, state: &state)
                return true
            default: return false
            }
            state.overlaySearch = search
            return true
        }
        switch key {
        case .character("/"):
            state.overlaySearch = OverlaySearch()
        case .character("n") where state.overlaySearch != nil:
            findInTranscript(lines, from: state.overlayTop + 1, state: &state)
        default:
            return false
        }
        return true
    }

    /// Scrolls the transcript to the first line from `start` on (then from the top) that holds
    /// the search's words, in any case.
    static func findInTranscript(_ lines: [String], from start: Int, state: inout AppState) {
        guard let words = state.overlaySearch?.text.lowercased(), !words.isEmpty else { return }
        let order = Array(min(start, lines.count)..<lines.count) + Array(0..<min(start, lines.count))
        if let found = order.first(where: { lines[$0].lowercased().contains(words) }) {
            state.overlayTop = found
            state.overlaySearch?.matched = true
        } else {
            state.overlaySearch?.matched = false
        }
    }

    static func appendUserEntry(_ text: String, to panes: [Int]? = nil, state: inout AppState) {
        for index in panes ?? Array(state.panes.indices) {
            state.panes[index].entries.append(TranscriptEntry(id: state.nextEntryID, role: .user, text: text, status: .complete))
            state.nextEntryID += 1
        }
    }

    static func regenerate(_ state: inout AppState) -> [AppEffect] {
        guard state.panes.indices.contains(state.focus) else { return [] }
        let index = state.focus
        guard !state.panes[index].isActive, !state.conversing else {
            state.notice = "Still answering: press Esc to stop it first."
            return []
        }
        guard state.mode == .parallel, state.panes[index].personaID != state.judgeID, state.panes[index].personaID != state.chairPaneID else {
            state.notice = "Ctrl-R regenerates answers in parallel mode; in a debate, send a new message instead."
            return []
        }
        guard let last = state.panes[index].entries.indices.last, state.panes[index].entries[last].role == .assistant else {
            state.notice = "Nothing to regenerate yet."
            return []
        }
        state.panes[index].entries.removeLast()
        state.conversing = true
        return [.regenerate(personaID: state.panes[index].personaID)]
    }

    // MARK: Scrolling

    static func scroll(_ action: KeyAction, state: inout AppState) {
        guard let placement = ScreenLayout(state).panes.first(where: { $0.index == state.focus }) else { return }
        let page = max(1, placement.body.height - 1)
        switch action {
        case .pageUp: scroll(lines: -page, state: &state)
        case .pageDown: scroll(lines: page, state: &state)
        case .top: state.panes[state.focus].scrollTop = 0
        default: state.panes[state.focus].scrollTop = nil
        }
    }

    /// Moves the focused pane's view; reaching the bottom follows the stream again.
    static func scroll(lines delta: Int, state: inout AppState) {
        guard let placement = ScreenLayout(state).panes.first(where: { $0.index == state.focus }) else { return }
        let pane = state.panes[state.focus]
        // Scrolling is rare: the pane is wrapped afresh rather than through a renderer's memory.
        let count = WrapCache().lines(for: pane, width: placement.body.width, foldsTools: !state.zoomed).count
        let bottom = max(0, count - placement.body.height)
        let top = PaneView.visibleTop(pane, lineCount: count, height: placement.body.height)
        let next = min(max(0, top + delta), bottom)
        state.panes[state.focus].scrollTop = next >= bottom ? nil : next
    }

    // MARK: Input editing

    static func insert(_ text: String, into input: inout InputLine) {
        var characters = Array(input.text)
        let cursor = min(input.cursor, characters.count)
        characters.insert(contentsOf: text, at: cursor)
        input.text = String(characters)
        input.cursor = cursor + text.count
        input.historyIndex = nil
    }

    static func remember(_ text: String, input: inout InputLine) {
        if input.history.last != text { input.history.append(text) }
        input.text = ""
        input.cursor = 0
        input.historyIndex = nil
        input.draft = ""
    }

    static func editInput(_ action: KeyAction, input: inout InputLine) {
        var characters = Array(input.text)
        var cursor = min(input.cursor, characters.count)
        switch action {
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(characters.count, cursor + 1)
        case .lineStart: cursor = lineStart(characters, cursor)
        case .lineEnd: cursor = lineEnd(characters, cursor)
        case .deleteBack:
            guard cursor > 0 else { return }
            characters.remove(at: cursor - 1)
            cursor -= 1
        case .deleteForward:
            guard cursor < characters.count else { return }
            characters.remove(at: cursor)
        case .deleteWord:
            var start = cursor
            while start > 0, characters[start - 1] == " " { start -= 1 }
            while start > 0, characters[start - 1] != " ", characters[start - 1] != "\n" { start -= 1 }
            characters.removeSubrange(start..<cursor)
            cursor = start
        case .deleteToLineStart:
            let start = lineStart(characters, cursor)
            characters.removeSubrange(start..<cursor)
            cursor = start
        case .deleteToLineEnd:
            characters.removeSubrange(cursor..<lineEnd(characters, cursor))
        case .historyUp, .historyDown:
            // In a draft of several lines the arrows move between its lines; the history is
            // walked only from the first line up or the last line down.
            let start = lineStart(characters, cursor)
            let column = cursor - start
            if action == .historyUp, start > 0 {
                let above = lineStart(characters, start - 1)
                cursor = min(above + column, start - 1)
            } else if action == .historyDown, lineEnd(characters, cursor) < characters.count {
                let below = lineEnd(characters, cursor) + 1
                cursor = min(below + column, lineEnd(characters, below))
            } else {
                walkHistory(up: action == .historyUp, input: &input)
                return
            }
        default:
            return
        }
        input.text = String(characters)
        input.cursor = cursor
    }

    static func lineStart(_ characters: [Character], _ cursor: Int) -> Int {
        var index = cursor
        while index > 0, characters[index - 1] != "\n" { index -= 1 }
        return index
    }

    static func lineEnd(_ characters: [Character], _ cursor: Int) -> Int {
        var index = cursor
        while index < characters.count, characters[index] != "\n" { index += 1 }
        return index
    }

    static func walkHistory(up: Bool, input: inout InputLine) {
        guard !input.history.isEmpty else { return }
        if up {
            let next: Int
            if let current = input.historyIndex {
                next = max(0, current - 1)
            } else {
                input.draft = input.text
                next = input.history.count - 1
            }
            input.historyIndex = next
            input.text = input.history[next]
        } else {
            guard let current = input.historyIndex else { return }
            if current + 1 < input.history.count {
                input.historyIndex = current + 1
                input.text = input.history[current + 1]
            } else {
                input.historyIndex = nil
                input.text = input.draft
            }
        }
        input.cursor = input.text.count
    }
}
