/// How many terminal columns text takes: East Asian wide and fullwidth characters and emoji take
/// two, combining marks and zero-width characters none, everything else one.
public enum DisplayWidth {
    public static func of(_ character: Character) -> Int {
        let utf8 = character.utf8
        if utf8.count == 1, let byte = utf8.first { return byte >= 0x20 && byte < 0x7F ? 1 : 0 }
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        // A variation selector 16 asks for emoji presentation, which terminals draw two wide.
        if scalars.count > 1, scalars.contains("\u{FE0F}"), first.properties.isEmoji { return 2 }
        return of(first)
    }

    public static func of(_ scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value < 0x20 || (0x7F..<0xA0).contains(value) { return 0 }
        if value < 0x300 { return 1 }
        if symbols.contains(value) { return Int(symbolWidths[Int(value - symbols.lowerBound)]) }
        return measured(scalar)
    }

    /// Punctuation, arrows, box drawing, blocks, shapes and dingbats: the screen's own symbols
    /// (`│ ● ✓ → █ ░`) come from here, drawn on every frame.
    private static let symbols: Range<UInt32> = 0x2000..<0x2800

    /// Their widths, measured once: looking each symbol up in the Unicode property tables on
    /// every frame cost more than laying out the text around it (frames 16 ms apart render in
    /// 212–232 µs with the table, 240–248 µs without).
    private static let symbolWidths: [UInt8] = symbols.map { UInt8(measured(Unicode.Scalar($0)!)) }

    private static func measured(_ scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if value == 0x200B || (0x1160...0x11FF).contains(value) { return 0 }
        if scalar.properties.isEmojiPresentation { return 2 }
        return isWide(value) ? 2 : 1
    }

    public static func of(_ text: String) -> Int {
        var width = 0
        scan(text, ascii: { _ in
            width += 1
            return true
        }, other: { _, characterWidth in
            width += characterWidth
            return true
        })
        return width
    }

    /// Walks `text` character by character, giving printable ASCII to `ascii` as bytes and every
    /// other character to `other` with its width, until either returns false.
    @inline(__always)
    static func scan(_ text: String, ascii: (UInt8) -> Bool, other: (Character, Int) -> Bool) {
        var contiguous = text
        contiguous.withUTF8 { bytes in
            var walk = CharacterWalk(text, bytes: bytes)
            while let step = walk.next() {
                switch step {
                case .ascii(let byte): guard ascii(byte) else { return }
                case .character(let character): guard other(character, of(character)) else { return }
                }
            }
        }
    }

    /// East Asian Wide (W) and Fullwidth (F) ranges.
    static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF,
             0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3,
             0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    /// The longest prefix of `text` that fits in `width` columns.
    public static func prefix(_ text: String, fitting width: Int) -> String {
        var used = 0
        var end = text.startIndex
        for index in text.indices {
            let next = used + of(text[index])
            if next > width { break }
            used = next
            end = text.index(after: index)
        }
        return String(text[..<end])
    }

    /// `text` cut to `width` columns, ending in `…` when something was cut.
    public static func truncate(_ text: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        if of(text) <= width { return text }
        return prefix(text, fitting: width - 1) + "…"
    }
}

/// A walk through text by characters that takes printable ASCII as bytes.
///
/// Most text on screen is ASCII, where a byte is a character and no graphemes need finding. A
/// printable ASCII byte is taken alone only when the byte after it is ASCII too, since a
/// combining mark may follow it.
@frozen
public struct CharacterWalk {
    public enum Step {
        case ascii(UInt8)
        case character(Character)
    }

    @usableFromInline let text: String
    @usableFromInline let bytes: UnsafeBufferPointer<UInt8>
    @usableFromInline let complete: Bool
    /// The byte where the next step starts.
    @usableFromInline var offset: Int

    /// Walks `text`, whose UTF-8 is `bytes` (from `withUTF8`: read in place, since indexing the
    /// UTF-8 view costs far more per byte), from the byte `offset`, which starts a character. With
    /// `complete` false the text may still grow, so a last ASCII byte comes as a character: a mark
    /// may yet join it.
    @inlinable
    public init(_ text: String, bytes: UnsafeBufferPointer<UInt8>, from offset: Int = 0, complete: Bool = true) {
        self.text = text
        self.bytes = bytes
        self.complete = complete
        self.offset = offset
    }

    @inlinable
    public mutating func next() -> Step? {
        guard offset < bytes.count else { return nil }
        let byte = bytes[offset]
        let whole = offset + 1 < bytes.count ? bytes[offset + 1] < 0x80 : complete
        if byte >= 0x20, byte < 0x7F, whole {
            offset += 1
            return .ascii(byte)
        }
        let character = text[text.utf8.index(text.utf8.startIndex, offsetBy: offset)]
        offset += character.utf8.count
        return .character(character)
    }
}
