import Foundation
import PersonaKit
import TerminalUI

/// The one place the chat state changes. Pure: given a state, an event and the time, it updates
/// the state and returns the effects the run loop must carry out. It never draws.
public enum ChatReducer {
    public static func reduce(_ state: inout AppState, _ event: AppEvent, at time: Double) -> [AppEffect] {
        state.now = time
        let notice = state.notice
        let effects = handle(event, state: &state, at: time)
        if let new = state.notice, new != notice {
            state.noticeLog.append(new)
            if state.noticeLog.count > noticesKept { state.noticeLog.removeFirst() }
        }
        return effects
    }

    /// How many notices `/notices` lists.
    static let noticesKept = 50

    private static func handle(_ event: AppEvent, state: inout AppState, at time: Double) -> [AppEffect] {
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
            // The moderator has no pane of its own: it only picks who speaks. A council's chairman
            // answers in its own pane; a member's review goes into the member's pane.
            let key = event.turn.role == .chairman ? state.chairPaneID : event.turn.personaID
            guard event.turn.role != .moderator, let index = state.panes.firstIndex(where: { $0.personaID == key }) else { return [] }
            if case .started = event.kind {
                beginTurn(index, event.turn, state: &state)
            } else if state.panes[index].turnSerial != event.turn.serial {
                return []
            }
            apply(event, to: &state.panes[index], at: time, showsFields: state.showsFields)
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
            state.overlayTop = 0
            return []
        case .welcomeLoaded(let lines):
            state.overlay = .welcome(lines)
            state.overlayTop = 0
            return []
        case .transcriptLoaded(let lines):
            // It opens at the end, on what was said last.
            state.overlay = .transcript(lines)
            state.overlayTop = max(0, lines.count - (state.height - 4))
            state.overlaySearch = nil
            return []
        case .roundStarted(let current, let total):
            state.progress = (current, total)
            return []
        case .conversationEnded(let end):
            state.conversing = false
            state.progress = nil
            state.councilStage = nil
            switch end {
            case .consensus(let answer): state.notice = "Consensus: \(answer). The debate stopped early."
            case .budget: state.notice = "Stopped: the budget is reached."
            case .councilOverBudget(let why): state.notice = "The council was not begun: \(why)."
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
        case .chairSet(let pane):
            // The same chairman keeps its pane, with its earlier answers, for a follow-up council.
            if pane.personaID == state.chairPaneID, state.panes.contains(where: { $0.personaID == pane.personaID }) { return [] }
            state.panes.removeAll { $0.personaID == state.chairPaneID }
            state.chairPaneID = pane.personaID
            state.panes.append(pane)
            return []
        case .councilStage(let stage, let name, let spent):
            state.councilStage = "\(stage)/3 · \(name)"
            if stage == 1 { state.councilStageStarts = [] }
            state.councilStageStarts.append(spent)
            return []
        case .councilRanked(let lines):
            state.councilTable = lines
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

    static func apply(_ event: TurnEvent, to pane: inout PaneState, at time: Double, showsFields: Bool) {
        switch event.kind {
        case .started:
            // The input is estimated from the request until the provider counts it.
            if pane.counters.inputTokens == nil { pane.counters.inputTokens = event.turn.estimatedInputTokens }
        case .sent:
            pane.counters.sentAt = time
            if case .queued = pane.phase { pane.phase = .waiting }
        case .queued(let wait):
            pane.phase = .queued(until: time + wait)
        case .retry(let retry):
            // The attempt starts over: its partial text leaves the pane (the transcript keeps it).
            setLastAssistant(&pane, text: pane.textBeforeStep, status: .streaming)
            pane.phase = .retrying(attempt: retry.attempt, of: retry.of, until: time + retry.delay)
            pane.lastError = retry.reason.description
            restartCounters(&pane, at: time + retry.delay)
        case .repair(let repair):
            // The answer starts over; the rejected one is in the transcript, marked.
            setLastAssistant(&pane, text: pane.textBeforeStep, status: .streaming)
            pane.phase = .repairing(attempt: repair.attempt, of: repair.of)
            pane.lastError = repair.problems.first.map { "schema: \($0)" }
            restartCounters(&pane, at: time)
        case .failover:
            pane.usingModel = event.turn.model
            pane.price = event.turn.price
            pane.providerType = event.turn.providerType
            setLastAssistant(&pane, text: pane.textBeforeStep, status: .streaming)
            restartCounters(&pane, at: time)
            pane.phase = .waiting
        case .toolCall(let activity):
            guard let last = pane.entries.indices.last, pane.entries[last].role == .assistant else { return }
            let text = pane.entries[last].text
            // Calls of a step are lines of one block, a blank line after what the model said.
            pane.entries[last].text += (text.isEmpty || text.hasSuffix("\n") ? "" : "\n\n") + ToolLine.text(activity, .pane) + "\n"
            pane.usedTools = true
        case .toolResult(let activity):
            guard let last = pane.entries.indices.last, pane.entries[last].role == .assistant else { return }
            var running = activity
            running.result = nil
            let text = pane.entries[last].text
            if let line = text.range(of: ToolLine.text(running, .pane) + "\n", options: .backwards) {
                pane.entries[last].text = text.replacingCharacters(in: line, with: ToolLine.text(activity, .pane) + "\n")
                pane.entries[last].generation += 1
            }
            pane.textBeforeStep = pane.entries[last].text
        case .delta(let text):
            if pane.counters.firstTokenAt == nil { pane.counters.firstTokenAt = time }
            if pane.phase != .streaming { pane.phase = .streaming }
            guard let last = pane.entries.indices.last, pane.entries[last].role == .assistant else { return }
            // The answer after tool calls starts a paragraph of its own.
            if pane.usedTools, pane.entries[last].text == pane.textBeforeStep, pane.textBeforeStep.hasSuffix("\n") {
                pane.entries[last].text += "\n"
            }
            pane.entries[last].text += text
            pane.counters.outputQuarters += TokenEstimator.quarters(text)
            pane.counters.outputTokens = TokenEstimator.tokens(fromQuarters: pane.counters.outputQuarters)
        case .usage(let usage):
            // Input counts arrive early (Anthropic's message_start); output counts mid-stream are
            // partial, so the estimate stands until the turn's final usage.
            if let input = usage.inputTokens, (0...UsageCheck.countLimit).contains(input) {
                pane.counters.inputTokens = input
                pane.counters.inputEstimated = false
            }
        case .done(let report):
            finish(&pane, report: report, at: time)
            if let refusal = report.refusal {
                pane.phase = .refused
                setLastAssistant(&pane, text: report.text, status: .refused(refusal))
            } else {
                pane.phase = .done
                // A turn with tools keeps its text as it streamed, the tools' lines in it.
                let text = pane.usedTools ? pane.entries.last(where: { $0.role == .assistant })?.text ?? report.text : report.text
                setLastAssistant(&pane, text: text, status: .complete)
                showStructured(report.structured, raw: report.text, in: &pane, fields: showsFields)
            }
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

    /// Marks the last answer with what the schema check found: a valid answer gets its fields
    /// (shown when `fields`), an invalid one its first problem.
    static func showStructured(_ structured: StructuredAnswer?, raw: String, in pane: inout PaneState, fields: Bool) {
        guard let structured, let last = pane.entries.indices.last, pane.entries[last].role == .assistant else { return }
        if structured.isValid, let value = structured.value {
            let faces = StructuredFaces(raw: raw, value: value)
            pane.entries[last].structured = faces
            setLastAssistant(&pane, text: fields ? faces.fields : faces.raw, status: .complete)
        } else {
            pane.entries[last].schemaProblem = structured.problems.first?.description
        }
    }

    /// F6: every structured answer as its fields, or as the JSON it came as.
    static func showFields(_ fields: Bool, state: inout AppState) {
        state.showsFields = fields
        for pane in state.panes.indices {
            for entry in state.panes[pane].entries.indices {
                guard let faces = state.panes[pane].entries[entry].structured else { continue }
                state.panes[pane].entries[entry].text = fields ? faces.fields : faces.raw
                state.panes[pane].entries[entry].generation += 1
            }
        }
        state.notice = fields ? "Structured answers show their fields; F6 shows the JSON." : "Structured answers show their JSON; F6 shows the fields."
    }

    /// A new attempt sends the same request, so only the input estimate carries over.
    static func restartCounters(_ pane: inout PaneState, at time: Double) {
        let input = pane.counters.inputTokens
        pane.counters = TurnCounters(startedAt: time)
        pane.counters.inputTokens = input
    }

    static func finish(_ pane: inout PaneState, report: TurnReport, at time: Double) {
        pane.counters.finishedAt = time
        pane.counters.inputTokens = report.usage.inputTokens
        pane.counters.outputTokens = report.usage.outputTokens ?? pane.counters.outputTokens
        pane.counters.inputEstimated = report.inputEstimated
        pane.counters.outputEstimated = report.outputEstimated
        pane.counters.reportedCostPicos = report.costPicos
        pane.counters.reported = true
        if let first = report.timeToFirstToken, let start = pane.counters.sentAt ?? pane.counters.startedAt,
           pane.counters.firstTokenAt == nil {
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
        state.panes[index].answerID = turn.answer
        state.panes[index].textBeforeStep = ""
        state.panes[index].usedTools = false
        state.panes[index].droppedTurns = turn.droppedTurns
        state.round = max(state.round, turn.round)
        state.panes[index].usingModel = nil
        state.panes[index].scrollTop = nil
    }
}
