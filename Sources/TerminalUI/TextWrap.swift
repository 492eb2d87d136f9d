/// Greedy word wrapping measured in display columns, fed one character at a time.
///
/// Lines break after spaces; a word longer than the width is cut where it must be. The space at a
/// break is dropped, so continuation lines start with text. Wide characters never straddle lines.
/// A line, once emitted, never changes as more text arrives, so streamed text is wrapped once.
public struct LineWrapper: Sendable {
    public let width: Int
    /// The lines that are final.
    public private(set) var lines: [[StyledRun]] = []
    /// The line being filled. Its glyphs are plain values, so growing and copying the line costs
    /// no reference counting: printable ASCII is kept as its byte, anything else in `others`.
    private var line: [Glyph] = []
    private var others: [Character] = []
    private var lineWidth = 0
    /// Index in `line` just after the last space, where the line may break.
    private var breakIndex: Int?
    private var widthAtBreak = 0

    public init(width: Int) {
        self.width = max(1, width)
    }

    public mutating func feed(_ character: Character, _ style: Style) {
        let utf8 = character.utf8
        if utf8.count == 1, let byte = utf8.first, byte >= 0x20, byte < 0x7F { return feed(ascii: byte, style) }
        place(style, ascii: 0, other: character, width: DisplayWidth.of(character), isSpace: false)
    }

    /// Feeds a printable ASCII character (0x20–0x7E), without the cost of a `Character`'s
    /// comparisons: most of a model's answer comes this way.
    public mutating func feed(ascii byte: UInt8, _ style: Style) {
        place(style, ascii: byte, other: nil, width: 1, isSpace: byte == 0x20)
    }

    private struct Glyph {
        var style: Style
        /// The character when it is printable ASCII, else 0.
        var ascii: UInt8
        /// Where in `others` the character is when it is not ASCII.
        var other: Int32
    }

    private mutating func place(_ style: Style, ascii: UInt8, other: Character?, width characterWidth: Int, isSpace: Bool) {
        if isSpace, line.isEmpty, !lines.isEmpty { return }
        if lineWidth + characterWidth > width, !line.isEmpty {
            if isSpace {
                emit(line[...])
                resetLine()
                return
            }
            if let cut = breakIndex, cut > 0 {
                emit(line[..<cut])
                line.removeFirst(cut)
                lineWidth -= widthAtBreak
            }
            // What is left may still not fit beside a wide character: cut it there.
            if lineWidth + characterWidth > width, !line.isEmpty {
                emit(line[...])
                resetLine()
            }
            breakIndex = nil
        }
        var glyph = Glyph(style: style, ascii: ascii, other: -1)
        if let other {
            // Kept only now: the wrapping above may have started a new line, and with it `others`.
            others.append(other)
            glyph.other = Int32(others.count - 1)
        }
        line.append(glyph)
        lineWidth += characterWidth
        if isSpace {
            breakIndex = line.count
            widthAtBreak = lineWidth
        }
    }

    public mutating func feed(_ run: StyledRun) {
        for character in run.text { feed(character, run.style) }
    }

    /// The line still being filled, if it shows anything (an empty paragraph shows one empty line).
    public var pendingLine: [StyledRun]? {
        guard !line.isEmpty || lines.isEmpty else { return nil }
        return group(trimmed(line[...]))
    }

    /// `pendingLine` laid out in cells, padded to the width in `padding` when given (a code
    /// block's tint). A streaming answer's last line changes with every frame: its cells are made
    /// straight from the glyphs, without the runs' strings in between.
    public func pendingRow(padding: Style? = nil) -> CellRow? {
        guard !line.isEmpty || lines.isEmpty else { return nil }
        var cells: [Cell] = []
        cells.reserveCapacity(width)
        for glyph in trimmed(line[...]) {
            if glyph.ascii != 0 {
                cells.append(Cell(ascii: glyph.ascii, style: glyph.style))
                continue
            }
            let character = others[Int(glyph.other)]
            let columns = DisplayWidth.of(character)
            guard columns > 0 else { continue }
            cells.append(Cell(character, style: glyph.style))
            if columns == 2 { cells.append(Cell(" ", style: glyph.style, isContinuation: true)) }
        }
        let row = CellRow(cells: cells)
        return padding.map { row.padded(to: width, style: $0) } ?? row
    }

    /// The final lines plus the line still being filled: what to show now.
    public var allLines: [[StyledRun]] {
        guard let pendingLine else { return lines }
        return lines + [pendingLine]
    }

    private mutating func resetLine() {
        // The line's room is kept: a wrapped answer fills a line of about the same length next.
        line.removeAll(keepingCapacity: true)
        others.removeAll(keepingCapacity: true)
        lineWidth = 0
        breakIndex = nil
    }

    private mutating func emit(_ glyphs: ArraySlice<Glyph>) {
        lines.append(group(trimmed(glyphs)))
    }

    private func trimmed(_ glyphs: ArraySlice<Glyph>) -> ArraySlice<Glyph> {
        var result = glyphs
        while let last = result.last, last.ascii == 0x20 { result = result.dropLast() }
        return result
    }

    /// Runs of one style each. A run's text is gathered as bytes and made a `String` once, which
    /// costs far less than appending its characters one by one.
    private func group(_ glyphs: ArraySlice<Glyph>) -> [StyledRun] {
        var runs: [StyledRun] = []
        var bytes: [UInt8] = []
        var runStyle: Style?
        for glyph in glyphs {
            if let current = runStyle, current != glyph.style {
                runs.append(StyledRun(String(decoding: bytes, as: UTF8.self), current))
                bytes.removeAll(keepingCapacity: true)
            }
            runStyle = glyph.style
            if glyph.ascii != 0 {
                bytes.append(glyph.ascii)
            } else {
                bytes.append(contentsOf: others[Int(glyph.other)].utf8)
            }
        }
        if let runStyle { runs.append(StyledRun(String(decoding: bytes, as: UTF8.self), runStyle)) }
        return runs
    }
}

public enum TextWrap {
    /// Wraps one logical line (no newlines) of styled runs.
    public static func wrap(_ runs: [StyledRun], width: Int) -> [[StyledRun]] {
        guard width > 0 else { return [] }
        var wrapper = LineWrapper(width: width)
        for run in runs { wrapper.feed(run) }
        return wrapper.allLines
    }

    /// Wraps plain text, honouring its newlines.
    public static func wrap(_ text: String, width: Int) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).flatMap { paragraph in
            wrap([StyledRun(String(paragraph))], width: width).map { $0.map(\.text).joined() }
        }
    }
}
