/// A run of text in one style.
public struct StyledRun: Hashable, Sendable {
    public var text: String
    public var style: Style

    public init(_ text: String, _ style: Style = .plain) {
        self.text = text
        self.style = style
    }
}

/// A line laid out in cells once, to be copied into frames.
///
/// Text that does not change between frames (the wrapped lines of an answer) is measured and split
/// into cells once, instead of on every frame that shows it.
public struct CellRow: Equatable, Sendable {
    public let cells: [Cell]

    /// `runs` as `CellBuffer.put` draws them, at most `width` columns.
    public init(_ runs: [StyledRun], width: Int) {
        var line = CellBuffer(width: width, height: 1)
        let used = line.put(runs, x: 0, y: 0)
        var cells = line.cells
        // Without the buffer's reference the cells are trimmed in place, not copied.
        line = CellBuffer(width: 0, height: 0)
        cells.removeLast(cells.count - max(0, used))
        self.cells = cells
    }

    /// The `width` cells of a one-row buffer after `draw`, for rows drawn with fills and limits.
    public init(width: Int, drawing draw: (inout CellBuffer) -> Void) {
        var line = CellBuffer(width: width, height: 1)
        draw(&line)
        cells = line.cells
    }

    init(cells: [Cell]) { self.cells = cells }

    /// The row filled out to `width` columns with blanks in `style`, as a code block is tinted to
    /// its pane's edge.
    public func padded(to width: Int, style: Style) -> CellRow {
        guard cells.count < width else { return self }
        return CellRow(cells: cells + repeatElement(Cell(" ", style: style), count: width - cells.count))
    }

    public static let empty = CellRow([], width: 0)

    /// The row as plain text, wide characters once.
    public var text: String { String(cells.filter { !$0.isContinuation }.map(\.character)) }
}

/// A frame: a grid of cells that views draw into and that a `Screen` shows.
public struct CellBuffer: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, fill: Cell = .blank) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: fill, count: self.width * self.height)
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// Every cell blank again, in place.
    public mutating func blank() {
        cells.withUnsafeMutableBufferPointer { $0.update(repeating: .blank) }
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    public func contains(x: Int, y: Int) -> Bool { x >= 0 && y >= 0 && x < width && y < height }

    /// Fills `rect` (clipped to the buffer) with blanks in `style`.
    public mutating func fill(_ rect: Rect, style: Style = .plain, character: Character = " ") {
        let clipped = clip(rect)
        let cell = Cell(character, style: style)
        for y in clipped.y..<clipped.maxY {
            for x in clipped.x..<clipped.maxX { self[x, y] = cell }
        }
    }

    /// Writes `utf8` from (`x`, `y`), one cell per scalar, clipped to `limit` columns and to the
    /// buffer; returns the column after the last cell written. For text whose every scalar takes
    /// one column, such as figures and their labels, which are redrawn on every frame: it is
    /// written without finding graphemes or measuring widths. A control character comes out as `?`.
    @discardableResult
    public mutating func put(narrow utf8: UnsafeBufferPointer<UInt8>, x: Int, y: Int, style: Style = .plain, limit: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let end = min(width, limit.map { x + $0 } ?? width)
        var column = x
        var decoder = UTF8()
        var bytes = utf8.makeIterator()
        while column < end, case .scalarValue(let scalar) = decoder.decode(&bytes) {
            if column >= 0 {
                clearWideNeighbours(x: column, y: y, width: 1)
                self[column, y] = InertText.isControl(scalar.value) ? Cell(ascii: UInt8(ascii: "?"), style: style)
                    : Cell(scalar: scalar.value, style: style)
            }
            column += 1
        }
        return column
    }

    /// Writes `text` from (`x`, `y`) on one line, clipped to `limit` columns and to the buffer.
    /// Returns the column after the last character written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style = .plain, limit: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let end = min(width, limit.map { x + $0 } ?? width)
        var column = x
        DisplayWidth.scan(text, ascii: { byte in
            guard column + 1 <= end else { return false }
            if column >= 0 {
                clearWideNeighbours(x: column, y: y, width: 1)
                self[column, y] = Cell(ascii: byte, style: style)
            }
            column += 1
            return true
        }, other: { character, cellWidth in
            if cellWidth == 0 { return true }
            guard column + cellWidth <= end else { return false }
            if column >= 0 {
                clearWideNeighbours(x: column, y: y, width: cellWidth)
                self[column, y] = Cell(character, style: style)
                if cellWidth == 2 { self[column + 1, y] = Cell(" ", style: style, isContinuation: true) }
            }
            column += cellWidth
            return true
        })
        return column
    }

    /// Writes styled runs one after another on one line.
    @discardableResult
    public mutating func put(_ runs: [StyledRun], x: Int, y: Int, limit: Int? = nil) -> Int {
        var column = x
        let end = limit.map { x + $0 }
        for run in runs {
            let remaining = end.map { $0 - column }
            if let remaining, remaining <= 0 { break }
            column = put(run.text, x: column, y: y, style: run.style, limit: remaining)
        }
        return column
    }

    /// Copies `row` to (`x`, `y`), clipped to `limit` columns and to the buffer; a wide character
    /// that would be cut in half is left out. Returns the column after the last cell written.
    @discardableResult
    public mutating func put(_ row: CellRow, x: Int, y: Int, limit: Int? = nil) -> Int {
        guard y >= 0, y < height, x >= 0 else { return x }
        var count = min(row.cells.count, min(width, limit.map { x + $0 } ?? width) - x)
        if count > 0, count < row.cells.count, row.cells[count].isContinuation { count -= 1 }
        guard count > 0 else { return x }
        clearWideNeighbours(x: x, y: y, width: count)
        let start = y * width + x
        cells.withUnsafeMutableBufferPointer { destination in
            row.cells.withUnsafeBufferPointer { source in
                (destination.baseAddress! + start).update(from: source.baseAddress!, count: count)
            }
        }
        return x + count
    }

    /// Overwriting half of a wide character leaves its other half as a blank, never as a torn glyph.
    private mutating func clearWideNeighbours(x: Int, y: Int, width: Int) {
        if self[x, y].isContinuation, x > 0 { self[x - 1, y] = Cell(" ", style: self[x - 1, y].style) }
        let after = x + width
        if after < self.width, self[after, y].isContinuation { self[after, y] = Cell(" ", style: self[after, y].style) }
    }

    public func clip(_ rect: Rect) -> Rect {
        let x = max(0, rect.x), y = max(0, rect.y)
        return Rect(x: x, y: y, width: min(width, rect.maxX) - x, height: min(height, rect.maxY) - y)
    }

    /// Row `y` as plain text, wide characters once, trailing spaces trimmed: what tests compare.
    public func line(_ y: Int) -> String {
        var text = ""
        for x in 0..<width where !self[x, y].isContinuation { text.append(self[x, y].character) }
        while text.last == " " { text.removeLast() }
        return text
    }

    public var lines: [String] { (0..<height).map(line) }
}
