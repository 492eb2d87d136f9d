import TerminalUI

/// A light Markdown style for model answers: headings, lists, quotes, fenced code blocks on a
/// tinted background, and inline `**bold**` and `` `code` ``.
///
/// It styles one paragraph (a line of the answer) as its characters stream in, so text is styled
/// once however long it grows. A paragraph's kind is decided from its first few characters; inline
/// markers toggle as they arrive, the way streamed Markdown is read.
struct MarkdownParagraph {
    /// The only state that crosses paragraphs: whether a code fence is open.
    struct BlockState: Equatable {
        var inFence = false
    }

    private enum Kind: Equatable {
        case plain
        case heading
        case quote
        case list
        /// A ```` ``` ```` line, or a line inside a fence.
        case code
    }

    private(set) var block: BlockState
    private var kind: Kind?
    private var undecided = ""
    private var bold = false
    private var code = false
    private var pendingStar = false
    /// For headings: the leading `#`s and one space are still being skipped.
    private var skippingHeadingMarks = false

    init(block: BlockState) {
        self.block = block
    }

    var isCode: Bool { kind == .code }

    /// Whether `finish` would feed the wrapper nothing: the paragraph's kind is known and no `*`
    /// waits to learn what it is.
    var holdsNothingBack: Bool { kind != nil && !pendingStar }

    mutating func feed(_ character: Character, into wrapper: inout LineWrapper) {
        guard let kind else {
            undecided.append(character)
            decide(final: false, into: &wrapper)
            return
        }
        styleInline(character, kind: kind, into: &wrapper)
    }

    /// Feeds a printable ASCII character (0x20–0x7E); the same as `feed` with its `Character`,
    /// minus the cost of `Character` comparisons once the paragraph's kind is known.
    mutating func feed(ascii byte: UInt8, into wrapper: inout LineWrapper) {
        guard let kind, !skippingHeadingMarks else { return feed(Character(Unicode.Scalar(byte)), into: &wrapper) }
        if kind == .code { return wrapper.feed(ascii: byte, Theme.code) }
        switch byte {
        case UInt8(ascii: "`"), UInt8(ascii: "*"): styleInline(Character(Unicode.Scalar(byte)), kind: kind, into: &wrapper)
        default:
            if pendingStar { flushStar(kind, &wrapper) }
            wrapper.feed(ascii: byte, style(for: kind))
        }
    }

    /// Ends the paragraph: flushes what was held back and returns the block state for the next one.
    mutating func finish(into wrapper: inout LineWrapper) -> BlockState {
        if kind == nil { decide(final: true, into: &wrapper) }
        if pendingStar {
            wrapper.feed("*", style(for: kind ?? .plain))
            pendingStar = false
        }
        return block
    }

    private mutating func decide(final: Bool, into wrapper: inout LineWrapper) {
        let trimmed = undecided.drop(while: { $0 == " " })
        let indent = String(repeating: " ", count: undecided.count - trimmed.count)
        var decided: Kind?
        var prefix: StyledRun?
        var replay = Substring(undecided)
        if block.inFence {
            if trimmed.first != "`" && (!trimmed.isEmpty || final) {
                decided = .code
            } else if trimmed.count >= 3 || final {
                decided = .code
                if trimmed.hasPrefix("```") { block.inFence = false }
            }
        } else if let first = trimmed.first {
            switch first {
            case "`":
                if trimmed.count >= 3 || final {
                    decided = trimmed.hasPrefix("```") ? .code : .plain
                    if decided == .code { block.inFence = true }
                }
            case "#":
                decided = .heading
                skippingHeadingMarks = true
                replay = trimmed
            case ">", "-", "*", "+":
                if trimmed.count >= 2 || final {
                    let marked = trimmed.dropFirst().first == " "
                    decided = marked ? (first == ">" ? .quote : .list) : .plain
                    if marked {
                        prefix = first == ">" ? StyledRun("│ ", Theme.separator) : StyledRun(indent + "• ", Theme.heading)
                        replay = trimmed.dropFirst(2)
                    }
                }
            case "0"..."9":
                let digits = trimmed.prefix(while: \.isNumber)
                let after = trimmed.dropFirst(digits.count)
                if after.count >= 2 || final || (after.first != nil && after.first != ".") {
                    if after.hasPrefix(". ") {
                        decided = .list
                        prefix = StyledRun(indent + digits + ". ", Theme.heading)
                        replay = after.dropFirst(2)
                    } else {
                        decided = .plain
                    }
                }
            default:
                decided = .plain
            }
        } else if final {
            decided = .plain
        }
        guard let decided else { return }
        kind = decided
        if let prefix { wrapper.feed(prefix) }
        for character in replay { styleInline(character, kind: decided, into: &wrapper) }
        undecided = ""
    }

    private mutating func styleInline(_ character: Character, kind: Kind, into wrapper: inout LineWrapper) {
        if kind == .code {
            wrapper.feed(character, Theme.code)
            return
        }
        if skippingHeadingMarks {
            if character == "#" { return }
            skippingHeadingMarks = false
            if character == " " { return }
        }
        if character == "`" {
            if pendingStar { flushStar(kind, &wrapper) }
            code.toggle()
            return
        }
        if character == "*", !code {
            if pendingStar {
                pendingStar = false
                bold.toggle()
            } else {
                pendingStar = true
            }
            return
        }
        if pendingStar { flushStar(kind, &wrapper) }
        wrapper.feed(character, style(for: kind))
    }

    private mutating func flushStar(_ kind: Kind, _ wrapper: inout LineWrapper) {
        pendingStar = false
        wrapper.feed("*", style(for: kind))
    }

    private func style(for kind: Kind) -> Style {
        var style: Style
        switch kind {
        case .heading: style = Theme.heading
        case .quote: style = Theme.quote
        case .code: return Theme.code
        case .plain, .list: style = .plain
        }
        if code { return Theme.inlineCode }
        if bold { style.bold = true }
        return style
    }
}
