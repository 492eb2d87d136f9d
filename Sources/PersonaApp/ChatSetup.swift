import Foundation
import PersonaKit
import TerminalUI

/// Builds the chat screen's starting state.
public enum ChatSetup {
    /// `pane` as a council's chairman's: keyed apart from its pane as a member, and named so.
    static func chairPane(_ pane: PaneState) -> PaneState {
        var chair = pane
        chair.personaID = AppState.chairKey(pane.personaID)
        chair.name = "Chairman · " + pane.name
        return chair
    }

    public static func pane(for member: Participant, index: Int, catalog: PriceCatalog?) -> PaneState {
        PaneState(personaID: member.persona.id, name: member.persona.name,
                  color: Theme.personaColor(member.persona.color, index: index), model: member.model,
                  price: catalog?.price(for: member.model), providerType: member.endpoint.type)
    }

    /// The screen's first state: the roster's panes, the caps, and what the ledger holds for the
    /// session (a resumed one has spent already) and for today.
    public static func state(for roster: [Participant], session: String, accounting: Accounting, workspace: Workspace,
                             width: Int, height: Int, mode: ConversationMode = .parallel, rounds: Int = 3,
                             judge: Participant? = nil, resumed: [TranscriptMessage] = []) -> AppState {
        var panes = roster.enumerated().map { pane(for: $1, index: $0, catalog: accounting.catalog) }
        if let judge { panes.append(pane(for: judge, index: panes.count, catalog: accounting.catalog)) }
        var state = AppState(session: session, panes: panes, width: width, height: height)
        state.mode = mode
        state.debateRounds = rounds
        state.judgeID = judge?.persona.id
        // A resumed council brings back its chairman's pane and its last ranking (F8).
        if let chairman = resumed.last(where: { $0.role == .chairman }) {
            let pane = chairPane(PaneState(personaID: chairman.speaker, name: chairman.name, color: Theme.personaColor(nil, index: state.panes.count),
                                           model: ModelRef(provider: chairman.provider ?? "", model: chairman.model ?? "")))
            state.panes.append(pane)
            state.chairPaneID = pane.personaID
        }
        state.councilTable = resumed.last(where: \.isCouncilRanking)?.text.components(separatedBy: "\n")
        refill(&state, from: resumed)
        state.caps = accounting.budget.caps
        state.warnAtPermille = permille(workspace.config.budget.warnAt)
        if let ledger = accounting.ledger, case .ledgerTotals(_, let sessionTotals, let today)? = LedgerFigures.read(ledger, session: session) {
            state.sessionSpent = sessionTotals
            state.todaySpent = today
        }
        return state
    }

    static func permille(_ fraction: Decimal) -> Int {
        NSDecimalNumber(decimal: fraction * 1000).intValue
    }

    /// `session $1.00, daily $10.00`.
    static func describe(_ caps: BudgetCaps) -> String {
        [caps.session.map { "session " + Money.format(picos: $0) }, caps.daily.map { "daily " + Money.format(picos: $0) }]
            .compactMap { $0 }.joined(separator: ", ")
    }

    /// Refills the panes from a saved session: each of the user's messages in the panes of the
    /// personas that were there for it (in every pane if none answered it yet), and each answer in
    /// its persona's. What the session spent comes from the ledger.
    static func refill(_ state: inout AppState, from messages: [TranscriptMessage]) {
        let seen = state.panes.map { TranscriptMessage.userRoundsSeen(by: $0.personaID, in: messages) }
        for message in messages {
            switch message.role {
            case .user:
                let present = state.panes.indices.filter { seen[$0].contains(message.round) }
                ChatReducer.appendUserEntry(message.text, to: present.isEmpty ? Array(state.panes.indices) : present, state: &state)
            case .persona, .judge, .reviewer, .chairman:
                let key = message.role == .chairman ? AppState.chairKey(message.speaker) : message.speaker
                guard let index = state.panes.firstIndex(where: { $0.personaID == key }) else { continue }
                let status: TranscriptEntry.Status
                switch message.status {
                case .complete: status = .complete
                case .stopped: status = .stopped
                case .refused: status = .refused(message.error ?? "")
                case .failed: status = .failed(message.error ?? "failed")
                }
                // The tools the turn called come first, a line each, as they showed while it ran.
                let toolLines = message.tools.map { ToolLine.text($0, .pane) + "\n" }.joined()
                var entry = TranscriptEntry(id: state.nextEntryID, role: .assistant, text: toolLines + (toolLines.isEmpty ? "" : "\n") + message.text,
                                            status: status)
                if let value = message.structured {
                    let faces = StructuredFaces(raw: message.text, value: value)
                    entry.structured = faces
                    entry.text = state.showsFields ? faces.fields : faces.raw
                }
                state.panes[index].entries.append(entry)
                state.nextEntryID += 1
            case .moderator:
                break
            }
            state.round = max(state.round, message.round)
        }
    }
}
