import Digits

/// The escape sequences a terminal understands, as its terminfo entry gives them.
public struct TerminalCapabilities {
    /// `cup`: the sequence that moves the cursor to a row and column, counted from zero.
    public var moveCursor: (_ row: Int, _ column: Int) -> [UInt8]
    /// `setaf` and `setab` for a palette index, or nil when the terminal has no colours.
    public var foreground: ((Int) -> [UInt8])?
    public var background: ((Int) -> [UInt8])?
    /// `sgr0`: every attribute and colour back to the default.
    public var resetAttributes: [UInt8]
    public var bold: [UInt8]
    public var dim: [UInt8]
    public var italic: [UInt8]
    public var underline: [UInt8]
    public var reverse: [UInt8]
    public var clearScreen: [UInt8]
    public var hideCursor: [UInt8]
    public var showCursor: [UInt8]
    /// `am` without `xenl`: writing the bottom-right cell would scroll the screen.
    public var scrollsAfterLastCell: Bool

    /// xterm-256color's sequences, for painting without a terminfo database: benchmarks and tests.
    public static var xterm256: TerminalCapabilities {
        TerminalCapabilities(
            moveCursor: { row, column in Array("\u{1B}[\(row + 1);\(column + 1)H".utf8) },
            foreground: { Array("\u{1B}[38;5;\($0)m".utf8) }, background: { Array("\u{1B}[48;5;\($0)m".utf8) },
            resetAttributes: Array("\u{1B}[0m".utf8), bold: Array("\u{1B}[1m".utf8), dim: Array("\u{1B}[2m".utf8),
            italic: Array("\u{1B}[3m".utf8), underline: Array("\u{1B}[4m".utf8), reverse: Array("\u{1B}[7m".utf8),
            clearScreen: Array("\u{1B}[H\u{1B}[2J".utf8), hideCursor: Array("\u{1B}[?25l".utf8),
            showCursor: Array("\u{1B}[?25h".utf8), scrollsAfterLastCell: false)
    }

    /// `sequence` without terminfo's padding (`$<5>`, `$<2*/>`): delays that `tputs` would spend
    /// for hardware terminals of old, which must not reach a terminal as text.
    public static func withoutPadding(_ sequence: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(sequence.count)
        var index = 0
        while index < sequence.count {
            if sequence[index] == UInt8(ascii: "$"), index + 1 < sequence.count, sequence[index + 1] == UInt8(ascii: "<"),
               let close = sequence[(index + 2)...].firstIndex(of: UInt8(ascii: ">")),
               sequence[(index + 2)..<close].allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x2A || $0 == 0x2F }) {
                index = close + 1
                continue
            }
            result.append(sequence[index])
            index += 1
        }
        return result
    }
}

/// Turns the cells that changed between two frames into the bytes that paint them.
///
/// Only changed cells are sent. The cursor is moved only where the next cell is not where the last
/// one left it, and only the attributes that change are set. After a wide character or one with
/// combining marks the cursor is placed again, so a terminal that gives it another width than ours
/// misplaces nothing after it. Control characters never reach the terminal.
public struct FrameEncoder {
    public let capabilities: TerminalCapabilities
    public let colorMode: ColorMode
    /// Whether `moveCursor` writes xterm's `ESC [ row ; column H`, counted from one, as nearly
    /// every terminal's does. Moves are then written as digits: a table of them per position, read
    /// after the thread slept, cost a cache miss per move, and a cold frame encoded in 60–65 µs
    /// against 36–40 µs with digits.
    private let movesAreCSI: Bool
    private var moves: [[UInt8]] = []
    private var movesWidth = 0
    private var foregrounds = [[UInt8]?](repeating: nil, count: 256)
    private var backgrounds = [[UInt8]?](repeating: nil, count: 256)
    private var cursorShown: Bool?
    /// The bytes of the last frame's paint, kept so that the next frame needs no allocation.
    private var storage = ByteStorage(capacity: 16_384)
    /// How many cells the last frame painted: the diff as it reached the terminal.
    public private(set) var paintedCells = 0

    public init(capabilities: TerminalCapabilities, colorMode: ColorMode) {
        self.capabilities = capabilities
        self.colorMode = colorMode
        let xterm = TerminalCapabilities.xterm256.moveCursor
        movesAreCSI = [(0, 0), (4, 9), (39, 159), (999, 9_999)].allSatisfy { row, column in
            capabilities.moveCursor(row, column) == xterm(row, column)
        }
    }

    /// The bytes that turn `previous` (nil: unknown, so clear and paint all) into `frame`, then place
    /// the cursor (nil hides it).
    public mutating func encode(_ frame: CellBuffer, since previous: CellBuffer?, cursor: (x: Int, y: Int)?) -> [UInt8] {
        encode(frame, since: previous, cursor: cursor) { Array($0) }
    }

    /// As `encode(_:since:cursor:)`, handing `body` the bytes in place; they are valid only in `body`.
    public mutating func encode<Result>(_ frame: CellBuffer, since previous: CellBuffer?, cursor: (x: Int, y: Int)?,
                                        body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var output = ByteWriter(storage)
        if !movesAreCSI, moves.count != frame.width * frame.height || movesWidth != frame.width {
            moves = Array(repeating: [], count: frame.width * frame.height)
            movesWidth = frame.width
        }
        let known = previous.map { $0.width == frame.width && $0.height == frame.height } ?? false
        if !known { output.append(capabilities.clearScreen) }
        let (width, height) = (frame.width, frame.height)
        var pen: Style?
        var lastStyle: Style?
        var position: (x: Int, y: Int)?
        var painted = 0
        let scrollsAfterLastCell = capabilities.scrollsAfterLastCell
        frame.cells.withUnsafeBufferPointer { cells in
            (known ? previous!.cells : []).withUnsafeBufferPointer { old in
                for y in 0..<height {
                    let row = y * width
                    for x in 0..<width {
                        let cell = cells[row + x]
                        // A right half is drawn by its left; a buffer never holds one without the other.
                        if cell.isContinuation || (known && cell == old[row + x]) { continue }
                        if scrollsAfterLastCell, y == height - 1,
                           x == width - 1 || (x == width - 2 && cells[row + x + 1].isContinuation) { continue }
                        // Most changed cells are printable ASCII right after the last, in the pen's style.
                        painted += 1
                        if let at = position, at == (x, y), cell.style == lastStyle, let ascii = cell.printableASCII {
                            output.append(ascii)
                            position = x + 1 < width ? (x + 1, y) : nil
                            continue
                        }
                        if let (atX, atY) = position, atY == y, atX < x,
                           Self.rewrite(cells[(row + atX)..<(row + x)], as: lastStyle, into: &output) {
                            // A short gap of unchanged plain text costs fewer bytes sent again than skipped.
                        } else if position == nil || position! != (x, y) {
                            appendMove(to: x, y, into: &output)
                        }
                        if lastStyle == nil || lastStyle! != cell.style {
                            lastStyle = cell.style
                            let style = colorMode.adapt(cell.style)
                            if pen == nil || pen! != style {
                                appendStyle(style, after: pen, into: &output)
                                pen = style
                            }
                        }
                        let wide = x + 1 < width && cells[row + x + 1].isContinuation
                        let predictable = Self.appendCharacter(cell, wide: wide, into: &output)
                        // Past the last column the terminal's cursor waits to wrap; place it again.
                        position = predictable && x + 1 < width ? (x + 1, y) : nil
                    }
                }
            }
        }
        if pen != nil, pen != .plain { output.append(capabilities.resetAttributes) }
        if let cursor, cursor.x >= 0, cursor.y >= 0, cursor.x < frame.width, cursor.y < frame.height {
            appendMove(to: cursor.x, cursor.y, into: &output)
            if cursorShown != true { output.append(capabilities.showCursor) }
            cursorShown = true
        } else if cursorShown != false {
            output.append(capabilities.hideCursor)
            cursorShown = false
        }
        storage = output.storage
        paintedCells = painted
        return body(UnsafeBufferPointer(start: output.storage.start, count: output.count))
    }

    private mutating func appendMove(to x: Int, _ y: Int, into output: inout ByteWriter) {
        if movesAreCSI {
            output.append(0x1B)
            output.append(UInt8(ascii: "["))
            output.append(decimal: y + 1)
            output.append(UInt8(ascii: ";"))
            output.append(decimal: x + 1)
            return output.append(UInt8(ascii: "H"))
        }
        let index = y * movesWidth + x
        guard index < moves.count else { return output.append(capabilities.moveCursor(y, x)) }
        if moves[index].isEmpty { moves[index] = capabilities.moveCursor(y, x) }
        output.append(moves[index])
    }

    /// Moves the terminal from `pen` (nil: unknown) to `style`: attributes that turn off, or a
    /// colour that goes back to the default, need a reset first; otherwise only what changed is sent.
    private mutating func appendStyle(_ style: Style, after pen: Style?, into output: inout ByteWriter) {
        var from = pen ?? .plain
        let turnsOff = pen == nil || (from.bold && !style.bold) || (from.dim && !style.dim) || (from.italic && !style.italic)
            || (from.underline && !style.underline) || (from.reverse && !style.reverse)
            || (from.foreground != .default && style.foreground == .default)
            || (from.background != .default && style.background == .default)
        if turnsOff {
            output.append(capabilities.resetAttributes)
            from = .plain
        }
        if style.bold && !from.bold { output.append(capabilities.bold) }
        if style.dim && !from.dim { output.append(capabilities.dim) }
        if style.italic && !from.italic { output.append(capabilities.italic) }
        if style.underline && !from.underline { output.append(capabilities.underline) }
        if style.reverse && !from.reverse { output.append(capabilities.reverse) }
        if style.foreground != from.foreground, case .palette(let index) = style.foreground, let foreground = capabilities.foreground {
            if foregrounds[Int(index)] == nil { foregrounds[Int(index)] = foreground(Int(index)) }
            output.append(foregrounds[Int(index)]!)
        }
        if style.background != from.background, case .palette(let index) = style.background, let background = capabilities.background {
            if backgrounds[Int(index)] == nil { backgrounds[Int(index)] = background(Int(index)) }
            output.append(backgrounds[Int(index)]!)
        }
    }

    /// Sends `gap` again when that is shorter than a cursor movement: a few printable ASCII cells
    /// in the style the terminal is already in. Returns false, sending nothing, otherwise.
    private static func rewrite(_ gap: Slice<UnsafeBufferPointer<Cell>>, as style: Style?, into output: inout ByteWriter) -> Bool {
        guard gap.count <= 4, let style else { return false }
        for cell in gap where cell.style != style || cell.printableASCII == nil { return false }
        for cell in gap { output.append(UInt8(cell.base)) }
        return true
    }

    /// Appends the cell's character as UTF-8. Returns whether the terminal's cursor surely moved one
    /// column: false for wide characters, characters with marks, and symbols that some terminals
    /// draw as emoji, whose widths terminals disagree on.
    private static func appendCharacter(_ cell: Cell, wide: Bool, into output: inout ByteWriter) -> Bool {
        if let ascii = cell.printableASCII {
            output.append(ascii)
            return true
        }
        appendScalar(cell.base, into: &output)
        guard cell.hasMarks else { return !wide && !(0x2600...0x27BF).contains(cell.base) && cell.base < 0x1F000 }
        for slot in 0..<Cell.markSlots where cell.mark(slot) != 0 { appendScalar(cell.mark(slot), into: &output) }
        return false
    }

    private static func appendScalar(_ value: UInt32, into output: inout ByteWriter) {
        // Views keep control characters out of cells; this is the last line of defence.
        guard !InertText.isControl(value), let scalar = Unicode.Scalar(value) else { return output.append(UInt8(ascii: "?")) }
        UTF8.encode(scalar) { output.append($0) }
    }
}

/// Memory for a frame's bytes, freed with its owner.
private final class ByteStorage {
    let start: UnsafeMutablePointer<UInt8>
    let capacity: Int

    init(capacity: Int) {
        start = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    deinit { start.deallocate() }
}

/// Appends bytes to a `ByteStorage`, moving to one twice the size when it is full. A frame is
/// thousands of single-byte appends; an array would check its uniqueness on each.
private struct ByteWriter {
    private(set) var storage: ByteStorage
    private var start: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(_ storage: ByteStorage) {
        self.storage = storage
        start = storage.start
        capacity = storage.capacity
    }

    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(toHold: 1) }
        start[count] = byte
        count += 1
    }

    mutating func append(_ bytes: [UInt8]) {
        if count + bytes.count > capacity { grow(toHold: bytes.count) }
        bytes.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            (start + count).update(from: base, count: source.count)
        }
        count += bytes.count
    }

    /// A non-negative number's digits.
    mutating func append(decimal value: Int) {
        Digits.write(UInt64(max(0, value))) { append($0) }
    }

    private mutating func grow(toHold extra: Int) {
        let larger = ByteStorage(capacity: max(capacity * 2, count + extra))
        larger.start.update(from: start, count: count)
        storage = larger
        start = larger.start
        capacity = larger.capacity
    }
}
