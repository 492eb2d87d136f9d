import Foundation
import PersonaKit
import TerminalUI

/// The one place the chat state changes. Pure: given a state, an event and the time, it updates
/// the state and returns the effects the run loop must carry out. It never draws.
public enum ChatReducer {
    public static func reduce(_ state: inout AppState, _ event: AppEvent, at time: Double) -> [AppEffect] {
        state.now = time
        switch event {
        case .key(let key):
            return handleKey(key, state: &state)
        case .resize(let width, let height):
            state.width = width
            state.height = height
            return []
        case .tick:
            return []
        case .turn(let event):
            // The moderator has no pane of its own: it only picks who speaks.
            guard event.turn.role != .moderator,
                  let index = state.panes.firstIndex(where: { $0.personaID == event.turn.personaID }) else { return [] }
            if case .started = event.kind {
                beginTurn(index, event.turn, state: &state)
            } else if state.panes[index].turnSerial != event.turn.serial {
                return []
            }
            apply(event, to: &state.panes[index], at: time)
            return []
        case .modelChanged(let personaID, let model, let price, let providerType):
            if let index = state.panes.firstIndex(where: { $0.personaID == personaID }) {
                state.panes[index].model = model
                state.panes[index].price = price
                state.panes[index].providerType = providerType
                state.notice = "\(state.panes[index].name) now answers with \(model)."
            }
            return []
        case .paneAdded(let pane):
            guard !state.panes.contains(where: { $0.personaID == pane.personaID }) else {
                state.notice = "\(pane.name) is already on screen."
                return []
            }
            state.panes.append(pane)
            state.focus = state.panes.count - 1
            state.notice = "\(pane.name) joined; they will answer your next message."
            return []
        case .notice(let text):
            state.notice = text
            return []
        case .reportLoaded(let lines):
            state.overlay = .report(lines)
            return []
        case .roundStarted(let current, let total):
            state.progress = (current, total)
            return []
        case .conversationEnded(let end):
            state.conversing = false
            state.progress = nil
            switch end {
            case .consensus(let answer): state.notice = "Consensus: \(answer). The debate stopped early."
            case .budget: state.notice = "Stopped: the budget is reached."
            case .ledger: state.notice = "Stopped: the cost ledger cannot record requests. " + (state.ledgerFailure ?? "")
            case .transcript(let problem): state.notice = "Stopped: \(problem)."
            case .cancelled, .roundsDone: break
            }
            return []
        case .sessionStarted(let id):
            state.session = id
            state.round = 0
            // A new session has spent nothing yet; the ledger's figure follows.
            if state.sessionSpent != nil { state.sessionSpent = CostTotals() }
            return []
        case .saved:
            return []
        case .ledgerTotals(let session, let sessionTotals, let today):
            // Queries finish out of order, and rows are never removed: the one with more rows is newer.
            if session == state.session, sessionTotals.requests >= state.sessionSpent?.requests ?? 0 {
                state.sessionSpent = sessionTotals
            }
            if today.requests >= state.todaySpent?.requests ?? 0 { state.todaySpent = today }
            return []
        case .ledgerFailed(let message):
            state.ledgerFailure = message
            state.notice = message
            return []
        case .budgetChanged(let caps, let warnAt):
            state.caps = caps
            state.warnAtPermille = warnAt
            return []
        case .judgeSet(let pane):
            state.panes.removeAll { $0.personaID == state.judgeID }
            state.judgeID = pane?.personaID
            if let pane {
                state.panes.append(pane)
                state.notice = "\(pane.name) will judge each debate."
            } else {
                state.notice = "No judge."
            }
            state.focus = min(state.focus, max(0, state.panes.count - 1))
            return []
        }
    }

    // MARK: Turns

    static func apply(_ event: TurnEvent, to pane: inout PaneState, at time: Double) {
        switch event.kind {
        case .started:
            // The input is estimated from the request until the provider counts it.
            if pane.counters.inputTokens == nil { pane.counters.inputTokens = event.turn.estimatedInputTokens }
            estimateCost(&pane)
        case .queued(let wait):
            pane.phase = .queued(until: time + wait)
        case .retry(let retry):
            // The attempt starts over: its partial text leaves the pane (the transcript keeps it).
            setLastAssistant(&pane, text: "", status: .streaming)
            pane.phase = .retrying(attempt: retry.attempt, of: retry.of, until: time + retry.delay)
            pane.lastError = retry.reason.description
            restartCounters(&pane, at: time + retry.delay)
        case .failover:
            pane.usingModel = event.turn.model
            pane.price = event.turn.price
            pane.providerType = event.turn.providerType
            setLastAssistant(&pane, text: "", status: .streaming)
            restartCounters(&pane, at: time)
            pane.phase = .waiting
        case .delta(let text):
            if pane.counters.firstTokenAt == nil { pane.counters.firstTokenAt = time }
            if pane.phase != .streaming { pane.phase = .streaming }
            guard let last = pane.entries.indices.last, pane.entries[last].role == .assistant else { return }
            pane.entries[last].text += text
            pane.counters.outputQuarters += TokenEstimator.quarters(text)
            pane.counters.outputTokens = TokenEstimator.tokens(fromQuarters: pane.counters.outputQuarters)
            estimateCost(&pane)
        case .usage(let usage):
            // Input counts arrive early (Anthropic's message_start); output counts mid-stream are
            // partial, so the estimate stands until the turn's final usage.
            if let input = usage.inputTokens, (0...UsageCheck.countLimit).contains(input) {
                pane.counters.inputTokens = input
                pane.counters.inputEstimated = false
                estimateCost(&pane)
            }
        case .done(let report):
            finish(&pane, report: report, at: time)
            pane.phase = .done
            setLastAssistant(&pane, text: report.text, status: .complete)
        case .failed(let error, let report):
            finish(&pane, report: report, at: time)
            if error.kind == .cancelled {
                pane.phase = .cancelled
                setLastAssistant(&pane, text: report.text, status: .stopped)
            } else {
                pane.phase = .failed(kind: error.kind.rawValue)
                pane.lastError = error.description
                setLastAssistant(&pane, text: report.text, status: .failed(error.description))
            }
        }
    }

    /// A new attempt sends the same request, so only the input estimate carries over.
    static func restartCounters(_ pane: inout PaneState, at time: Double) {
        let input = pane.counters.inputTokens
        pane.counters = TurnCounters(startedAt: time)
        pane.counters.inputTokens = input
        estimateCost(&pane)
    }

    /// The running turn's cost from its counts so far; marked estimated while any count is.
    static func estimateCost(_ pane: inout PaneState) {
        guard let price = pane.price, let input = pane.counters.inputTokens else {
            pane.counters.costPicos = nil
            return
        }
        let usage = Usage(inputTokens: input, outputTokens: pane.counters.outputTokens)
        pane.counters.costPicos = CostCalculator.picos(usage, price: price, type: pane.providerType)
    }

    static func finish(_ pane: inout PaneState, report: TurnReport, at time: Double) {
        pane.counters.finishedAt = time
        pane.counters.inputTokens = report.usage.inputTokens
        pane.counters.outputTokens = report.usage.outputTokens ?? pane.counters.outputTokens
        pane.counters.inputEstimated = report.inputEstimated
        pane.counters.outputEstimated = report.outputEstimated
        pane.counters.costPicos = report.costPicos
        if let first = report.timeToFirstToken, let start = pane.counters.startedAt, pane.counters.firstTokenAt == nil {
            pane.counters.firstTokenAt = start + first
        }
    }

    /// Sets the last answer's text and status; text that replaces, rather than extends, what was
    /// there starts a new generation, so that nothing wrapped of the old text shows.
    static func setLastAssistant(_ pane: inout PaneState, text: String, status: TranscriptEntry.Status) {
        guard let last = pane.entries.indices.last, pane.entries[last].role == .assistant else { return }
        if pane.entries[last].text != text {
            pane.entries[last].text = text
            pane.entries[last].generation += 1
        }
        pane.entries[last].status = status
    }

    /// Starts a new turn in a pane: an empty assistant entry to stream into, fresh counters.
    static func beginTurn(_ index: Int, _ turn: TurnID, state: inout AppState) {
        state.panes[index].entries.append(TranscriptEntry(id: state.nextEntryID, role: .assistant, text: "", status: .streaming))
        state.nextEntryID += 1
        state.panes[index].phase = .waiting
        state.panes[index].counters = TurnCounters(startedAt: state.now)
        state.panes[index].turnSerial = turn.serial
        state.panes[index].droppedTurns = turn.droppedTurns
        state.round = max(state.round, turn.round)
        state.panes[index].usingModel = nil
        state.panes[index].scrollTop = nil
    }

    // MARK: Keys

    static func handleKey(_ key: Key, state: inout AppState) -> [AppEffect] {
        let wasEscape = state.lastKeyWasEscape
        state.lastKeyWasEscape = key == .escape
        if key != .control("c") { state.quitArmed = false }
        if state.overlay != nil {
            state.overlay = nil
            return []
        }
        state.notice = nil
        switch key {
        case .control("c"):
            if state.quitArmed {
                state.shouldQuit = true
                return [.quit]
            }
            state.quitArmed = true
            let effects = stopAll(&state)
            state.notice = effects.isEmpty ? "Press Ctrl-C again to quit." : "Stopped. Press Ctrl-C again to quit."
            return effects
        case .escape:
            if wasEscape { return stopAll(&state) }
            guard state.panes.indices.contains(state.focus) else { return [] }
            return stopPanes([state.focus], state: &state)
        case .enter:
            return submit(&state)
        case .newline:
            insert("\n", into: &state.input)
        case .paste(let text):
            insert(text, into: &state.input)
        case .character(let character):
            insert(String(character), into: &state.input)
        case .tab, .shiftTab:
            guard !state.panes.isEmpty else { return [] }
            let step = key == .tab ? 1 : state.panes.count - 1
            state.focus = (state.focus + step) % state.panes.count
        case .pageUp, .pageDown, .home, .end:
            scroll(key, state: &state)
        case .wheelUp:
            scroll(lines: -3, state: &state)
        case .wheelDown:
            scroll(lines: 3, state: &state)
        case .click(let x, let y):
            if let index = ScreenLayout(state).pane(at: x, y) { state.focus = index }
        case .function(1):
            state.overlay = .help
        case .function(2):
            state.zoomed.toggle()
        case .function(3):
            return [.showCosts]
        case .function(4):
            return [.showProviders]
        case .control("r"):
            return regenerate(&state)
        default:
            editInput(key, input: &state.input)
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
        if state.conversing || state.isStreaming {
            // A debate takes the user's word between rounds; a parallel answer must finish first.
            guard state.conversing, state.mode != .parallel else {
                state.notice = "Still answering: wait, or press Esc (Esc Esc for all) to stop first."
                return []
            }
            remember(text, input: &state.input)
            appendUserEntry(text, state: &state)
            state.notice = "Added; the personas hear it before the next round."
            return [.interject(text)]
        }
        remember(text, input: &state.input)
        appendUserEntry(text, state: &state)
        state.conversing = true
        return [.converse(text)]
    }

    static func appendUserEntry(_ text: String, state: inout AppState) {
        for index in state.panes.indices {
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
        guard state.mode == .parallel, state.panes[index].personaID != state.judgeID else {
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

    static func scroll(_ key: Key, state: inout AppState) {
        guard let placement = ScreenLayout(state).panes.first(where: { $0.index == state.focus }) else { return }
        let page = max(1, placement.body.height - 1)
        switch key {
        case .pageUp: scroll(lines: -page, state: &state)
        case .pageDown: scroll(lines: page, state: &state)
        case .home: state.panes[state.focus].scrollTop = 0
        default: state.panes[state.focus].scrollTop = nil
        }
    }

    /// Moves the focused pane's view; reaching the bottom follows the stream again.
    static func scroll(lines delta: Int, state: inout AppState) {
        guard let placement = ScreenLayout(state).panes.first(where: { $0.index == state.focus }) else { return }
        let pane = state.panes[state.focus]
        // Scrolling is rare: the pane is wrapped afresh rather than through a renderer's memory.
        let count = WrapCache().lines(for: pane, width: placement.body.width).count
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

    static func editInput(_ key: Key, input: inout InputLine) {
        var characters = Array(input.text)
        var cursor = min(input.cursor, characters.count)
        switch key {
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(characters.count, cursor + 1)
        case .control("a"): cursor = lineStart(characters, cursor)
        case .control("e"): cursor = lineEnd(characters, cursor)
        case .backspace:
            guard cursor > 0 else { return }
            characters.remove(at: cursor - 1)
            cursor -= 1
        case .delete, .control("d"):
            guard cursor < characters.count else { return }
            characters.remove(at: cursor)
        case .control("w"):
            var start = cursor
            while start > 0, characters[start - 1] == " " { start -= 1 }
            while start > 0, characters[start - 1] != " ", characters[start - 1] != "\n" { start -= 1 }
            characters.removeSubrange(start..<cursor)
            cursor = start
        case .control("u"):
            let start = lineStart(characters, cursor)
            characters.removeSubrange(start..<cursor)
            cursor = start
        case .control("k"):
            characters.removeSubrange(cursor..<lineEnd(characters, cursor))
        case .up, .down:
            walkHistory(up: key == .up, input: &input)
            return
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
