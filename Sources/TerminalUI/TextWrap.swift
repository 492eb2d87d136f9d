/// Greedy word wrapping measured in display columns, fed one character at a time.
///
/// Lines break after spaces; a word longer than the width is cut where it must be. The space at a
/// break is dropped, so continuation lines start with text. Wide characters never straddle lines.
/// A line, once emitted, never changes as more text arrives, so streamed text is wrapped once.
public struct LineWrapper: Sendable {
    public let width: Int
    /// The lines that are final.
    public private(set) var lines: [[StyledRun]] = []
    /// The line being filled: each character with its style, and its byte when it is printable ASCII
    /// (else 0), which spares rebuilding the line's runs the cost of reading the `Character`.
    private var line: [Glyph] = []
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
        place(Glyph(character: character, style: style, ascii: 0), width: DisplayWidth.of(character), isSpace: false)
    }

    /// Feeds a printable ASCII character (0x20–0x7E), without the cost of a `Character`'s
    /// comparisons: most of a model's answer comes this way.
    public mutating func feed(ascii byte: UInt8, _ style: Style) {
        place(Glyph(character: Self.asciiCharacters[Int(byte)], style: style, ascii: byte), width: 1, isSpace: byte == 0x20)
    }

    private struct Glyph {
        var character: Character
        var style: Style
        var ascii: UInt8
    }

    /// Made once: building a `Character` from a byte costs more than wrapping it.
    private static let asciiCharacters = (0..<128).map { Character(Unicode.Scalar(UInt8($0))) }

    private mutating func place(_ glyph: Glyph, width characterWidth: Int, isSpace: Bool) {
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
        return Self.group(Self.trimmed(line[...]))
    }

    /// The final lines plus the line still being filled: what to show now.
    public var allLines: [[StyledRun]] {
        guard let pendingLine else { return lines }
        return lines + [pendingLine]
    }

    private mutating func resetLine() {
        // The line's room is kept: a wrapped answer fills a line of about the same length next.
        line.removeAll(keepingCapacity: true)
        lineWidth = 0
        breakIndex = nil
    }

    private mutating func emit(_ glyphs: ArraySlice<Glyph>) {
        lines.append(Self.group(Self.trimmed(glyphs)))
    }

    private static func trimmed(_ glyphs: ArraySlice<Glyph>) -> ArraySlice<Glyph> {
        var result = glyphs
        while let last = result.last, last.ascii == 0x20 { result = result.dropLast() }
        return result
    }

    /// Runs of one style each. A run's text is gathered as bytes and made a `String` once, which
    /// costs far less than appending its characters one by one.
    private static func group(_ glyphs: ArraySlice<Glyph>) -> [StyledRun] {
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
                bytes.append(contentsOf: glyph.character.utf8)
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
