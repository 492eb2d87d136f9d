import PersonaKit
import TerminalUI

/// The top line: the session, its mode, a running debate's round or council's stage, and what
/// the session and the day have cost.
enum HeaderView {
    static func draw(_ state: AppState, in rect: Rect, into frame: inout CellBuffer, rows: RowCache<Key>) {
        // The session's part changes seldom and is laid out once per text; the figures change with
        // every token while answers stream, and are written over it as bytes.
        let progress = state.mode == .parallel || state.mode == .council ? nil : state.progress
        let key = Key(session: state.session, mode: state.mode, progressRound: progress?.current, progressTotal: progress?.total ?? 0,
                      councilStage: state.mode == .council ? state.councilStage : nil, demoModel: state.demoModel, width: rect.width)
        frame.put(rows.row(key) {
            CellRow(width: rect.width) { line in
                line.fill(line.bounds, style: Theme.header)
                line.put(leftRuns(key), x: 0, y: 0)
            }
        }, x: rect.x, y: rect.y)
        var figures = costFigures(state)
        // A council's stage costs go first when they fit beside the session's part; else they give way.
        if state.mode == .council, !state.councilStageStarts.isEmpty {
            let staged = costFigures(state, stages: true)
            let room = rect.width - leftRuns(key).reduce(0) { $0 + DisplayWidth.of($1.text) } - 1
            if staged.reduce(0, { $0 + $1.text.width }) <= room { figures = staged }
        }
        // Right-aligned; on a header too narrow for them, their start is cut rather than their end.
        var x = rect.maxX - figures.reduce(0) { $0 + $1.text.width }
        // A column of the header's own colour keeps the session's text off the figures.
        if x > rect.x { frame.put(" ", x: x - 1, y: rect.y, style: Theme.header) }
        for piece in figures { x = piece.text.put(into: &frame, x: x, y: rect.y, style: piece.style) }
    }

    struct Key: Hashable {
        var session: String
        var mode: ConversationMode
        /// The round of a conversation that counts its rounds, and how many it will run.
        var progressRound: Int?
        var progressTotal: Int
        /// A running council's stage: `2/3 · review`.
        var councilStage: String?
        var demoModel: Bool
        var width: Int
    }

    private static func leftRuns(_ key: Key) -> [StyledRun] {
        var left = [StyledRun(" Persona ", Theme.header), StyledRun("│ \(key.session) │ \(key.mode.rawValue)", Theme.headerDim)]
        // The count belongs to a debate: each message of a parallel conversation is a round too,
        // but a count of them would mean nothing.
        if let current = key.progressRound {
            left.append(StyledRun(" │ round \(current)/\(key.progressTotal)", Theme.header))
        }
        if let stage = key.councilStage { left.append(StyledRun(" \(stage)", Theme.header)) }
        if key.demoModel { left.append(StyledRun(" │ demo model", Theme.header)) }
        return left
    }

    /// `session $0.0123 / $1.00 ████░░░░░░ · today $0.5123`, after a council's `answers $… ·
    /// reviews $… · chair $…` with `stages`: the session against its budget (a
    /// bar that turns yellow at the warning point and red at the cap), then the day's total, with
    /// the bar there when only a daily cap is set. Both are the ledger's figures plus the running
    /// turns; while any of it is an estimate, a sum reads `~$0.0123`. A ledger that stopped
    /// taking rows shows a red mark.
    static func costFigures(_ state: AppState, stages: Bool = false) -> [(text: FigureText, style: Style)] {
        var pieces: [(text: FigureText, style: Style)] = []
        var text = FigureText()
        func add(_ picos: Int64?, estimated: Bool) {
            guard let picos else { return text.add("$?") }
            if estimated { text.add("~") }
            text.add(picos: picos)
        }
        func bar(spent: Int64?, cap: Int64) {
            let (_, filled, style) = BudgetBar.measure(spent: spent, cap: cap, warnAtPermille: state.warnAtPermille)
            text.add(" / ")
            text.add(picos: cap)
            text.add(" ")
            var blocks = FigureText()
            blocks.add(filled, of: "█")
            pieces += [(text, Theme.headerDim), (blocks, style)]
            text = FigureText()
            text.add(BudgetBar.width - filled, of: "░")
        }
        // A council's stages, each the difference of the session's totals as the next began; the
        // running one reads the session's total, with its running turns.
        if stages, state.mode == .council, !state.councilStageStarts.isEmpty {
            let starts = state.councilStageStarts
            for (index, name) in ["answers", "reviews", "chair"].enumerated() where index < starts.count {
                let next = index + 1 < starts.count ? starts[index + 1] : state.sessionCostPicos
                text.add(name + " ")
                add(next.map { $0 - starts[index] }, estimated: index + 1 == starts.count && state.sessionCostIsEstimate)
                text.add(" · ")
            }
        }
        text.add("session ")
        add(state.sessionCostPicos, estimated: state.sessionCostIsEstimate)
        if let cap = state.caps.session { bar(spent: state.sessionCostPicos, cap: cap) }
        if state.todaySpent != nil {
            text.add(" · today ")
            add(state.todayCostPicos, estimated: state.todayCostIsEstimate)
            if state.caps.session == nil, let cap = state.caps.daily { bar(spent: state.todayCostPicos, cap: cap) }
        }
        text.add(" ")
        pieces.append((text, Theme.headerDim))
        if state.ledgerFailure != nil {
            var mark = FigureText()
            mark.add("✗ ledger ")
            pieces.append((mark, Theme.barOver))
        }
        return pieces
    }
}
