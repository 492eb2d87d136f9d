import TerminalUI

/// Where everything goes on a screen of a given size: a pure function of the state.
struct ScreenLayout: Equatable {
    static let minimumWidth = 40
    static let minimumHeight = 10
    /// Panes narrower than this move to a grid.
    static let minimumPaneWidth = 30

    struct PanePlacement: Equatable {
        var index: Int
        var frame: Rect

        var title: Rect { Rect(x: frame.x, y: frame.y, width: frame.width, height: 1) }
        /// Text keeps a column's gutter on each side, clear of the separators.
        var body: Rect { frame.inset(left: 1, top: 1, right: 1, bottom: 1) }
        var status: Rect { Rect(x: frame.x + 1, y: frame.maxY - 1, width: frame.width - 2, height: 1) }
    }

    var tooSmall = false
    var header = Rect(x: 0, y: 0, width: 0, height: 0)
    var panes: [PanePlacement] = []
    /// Vertical lines between pane columns.
    var separators: [Rect] = []
    var input = Rect(x: 0, y: 0, width: 0, height: 0)
    var hint = Rect(x: 0, y: 0, width: 0, height: 0)

    /// The layout of `state`, whose input wraps to `inputLineCount` lines (counted here when nil).
    init(_ state: AppState, inputLineCount: Int? = nil) {
        let width = state.width, height = state.height
        guard width >= Self.minimumWidth, height >= Self.minimumHeight else {
            tooSmall = true
            return
        }
        header = Rect(x: 0, y: 0, width: width, height: 1)
        let wrapped = inputLineCount ?? InputView.lines(state.input.text, width: width).count
        let inputLines = min(max(1, wrapped), max(1, (height - 4) / 3))
        // A notice longer than the line takes a second one.
        let hintLines = state.notice.map { DisplayWidth.of($0) > width ? 2 : 1 } ?? 1
        hint = Rect(x: 0, y: height - hintLines, width: width, height: hintLines)
        input = Rect(x: 0, y: hint.y - inputLines, width: width, height: inputLines)
        let area = Rect(x: 0, y: 1, width: width, height: input.y - 1)

        if let solo = state.soloID, let index = state.panes.firstIndex(where: { $0.personaID == solo }) {
            panes = [PanePlacement(index: index, frame: area)]
            return
        }
        if state.zoomed, state.panes.indices.contains(state.focus) {
            panes = [PanePlacement(index: state.focus, frame: area)]
            return
        }
        // A council's chairman answers across the full width, below the members.
        var grid = area
        var members = Array(state.panes.indices)
        var chair: PanePlacement?
        if let chairID = state.chairPaneID, let index = state.panes.firstIndex(where: { $0.personaID == chairID }), members.count > 1 {
            let height = max(4, area.height / 3)
            grid = Rect(x: area.x, y: area.y, width: area.width, height: area.height - height)
            chair = PanePlacement(index: index, frame: Rect(x: area.x, y: grid.maxY, width: area.width, height: height))
            members.removeAll { $0 == index }
        }
        defer { if let chair { panes.append(chair) } }
        let count = members.count
        guard count > 0 else { return }
        var columns = count
        while columns > 1, (grid.width - (columns - 1)) / columns < Self.minimumPaneWidth { columns -= 1 }
        let rows = (count + columns - 1) / columns
        let rowHeight = grid.height / rows
        for (position, index) in members.enumerated() {
            let row = position / columns, column = position % columns
            // The last row may hold fewer panes; they share its width.
            let inRow = row == rows - 1 ? count - row * columns : columns
            let usable = grid.width - (inRow - 1)
            let base = usable / inRow, extra = usable % inRow
            let x = column * (base + 1) + min(column, extra)
            let paneWidth = base + (column < extra ? 1 : 0)
            let y = grid.y + row * rowHeight
            let paneHeight = row == rows - 1 ? grid.maxY - y : rowHeight
            panes.append(PanePlacement(index: index, frame: Rect(x: x, y: y, width: paneWidth, height: paneHeight)))
            if column < inRow - 1 {
                separators.append(Rect(x: x + paneWidth, y: y, width: 1, height: paneHeight))
            }
        }
    }

    /// The pane under a screen position, for mouse clicks.
    func pane(at x: Int, _ y: Int) -> Int? {
        panes.first { $0.frame.x <= x && x < $0.frame.maxX && $0.frame.y <= y && y < $0.frame.maxY }?.index
    }
}
