import Synchronization

/// A terminal colour, chosen from the 256-colour palette and reduced on poorer terminals.
public enum Color: Hashable, Sendable {
    case `default`
    /// An xterm-256 palette index.
    case palette(UInt8)

    public static let black = Color.palette(0)
    public static let red = Color.palette(1)
    public static let green = Color.palette(2)
    public static let yellow = Color.palette(3)
    public static let blue = Color.palette(4)
    public static let magenta = Color.palette(5)
    public static let cyan = Color.palette(6)
    public static let white = Color.palette(7)
    public static let gray = Color.palette(244)

    /// A persona's colour by name (`red`, `orange`, …) or palette number (`0`–`255`).
    public init?(name: String) {
        switch name.lowercased() {
        case "black": self = .black
        case "red": self = .palette(203)
        case "green": self = .palette(114)
        case "yellow": self = .palette(221)
        case "blue": self = .palette(75)
        case "magenta": self = .palette(176)
        case "cyan": self = .palette(80)
        case "white": self = .palette(255)
        case "orange": self = .palette(215)
        case "purple": self = .palette(141)
        case "pink": self = .palette(218)
        case "teal": self = .palette(37)
        case "gray", "grey": self = .gray
        default:
            guard let index = UInt8(name) else { return nil }
            self = .palette(index)
        }
    }

    /// The nearest of the eight basic colours, for terminals without 256.
    public var basic: Color {
        guard case .palette(let index) = self else { return self }
        if index < 16 { return .palette(index % 8) }
        if index >= 232 { return index >= 244 ? .white : .black }
        let cube = Int(index) - 16
        let red = cube / 36, green = (cube / 6) % 6, blue = cube % 6
        let bits = (red >= 3 ? 1 : 0) | (green >= 3 ? 2 : 0) | (blue >= 3 ? 4 : 0)
        return .palette(UInt8(bits == 0 && max(red, green, blue) >= 2 ? 7 : bits))
    }
}

/// How a cell is drawn.
///
/// Colours and attributes are kept in one word, so that styles, and the cells that hold them,
/// compare as integers: a frame compares thousands of cells with the last one.
public struct Style: Hashable, Sendable {
    /// Bits 0–8: foreground, 9–17: background (a palette index, or 256 for the default);
    /// bits 18–22: bold, dim, italic, underline, reverse. `Cell` keeps a flag of its own in bit 23.
    fileprivate var bits: UInt32

    public init(foreground: Color = .default, background: Color = .default, bold: Bool = false, dim: Bool = false,
                italic: Bool = false, underline: Bool = false, reverse: Bool = false) {
        bits = Self.code(foreground) | Self.code(background) << 9
        self.bold = bold
        self.dim = dim
        self.italic = italic
        self.underline = underline
        self.reverse = reverse
    }

    public static let plain = Style()

    fileprivate init(bits: UInt32) { self.bits = bits }

    public var foreground: Color {
        get { Self.color(bits & 0x1FF) }
        set { bits = bits & ~0x1FF | Self.code(newValue) }
    }

    public var background: Color {
        get { Self.color(bits >> 9 & 0x1FF) }
        set { bits = bits & ~(0x1FF << 9) | Self.code(newValue) << 9 }
    }

    public var bold: Bool { get { flag(18) } set { set(18, newValue) } }
    public var dim: Bool { get { flag(19) } set { set(19, newValue) } }
    public var italic: Bool { get { flag(20) } set { set(20, newValue) } }
    public var underline: Bool { get { flag(21) } set { set(21, newValue) } }
    public var reverse: Bool { get { flag(22) } set { set(22, newValue) } }

    private func flag(_ bit: UInt32) -> Bool { bits & 1 << bit != 0 }

    private mutating func set(_ bit: UInt32, _ on: Bool) {
        bits = on ? bits | 1 << bit : bits & ~(1 << bit)
    }

    private static func code(_ color: Color) -> UInt32 {
        switch color {
        case .default: return 256
        case .palette(let index): return UInt32(index)
        }
    }

    private static func color(_ code: UInt32) -> Color { code > 255 ? .default : .palette(UInt8(code)) }
}

/// One screen cell. A wide character occupies its cell and a `continuation` cell to its right.
///
/// A cell is one 64-bit word, so that a frame, which is copied, compared and painted cell by cell
/// sixty times a second, is as little memory as it can be: a frame is drawn after the thread has
/// slept, and every cache line it spans is fetched again. A 160×40 frame is 51 KB, where cells of
/// 32 bytes made it 205 KB.
public struct Cell: Hashable, Sendable {
    /// Bits 0–22: the style; 23: `isContinuation`; 24–44: the character's first scalar (21 bits,
    /// all a scalar needs); 45–63: its combining marks' number in `CombiningMarks`, or zero.
    private var bits: UInt64

    private static let continuationBit: UInt64 = 1 << 23
    private static let styleMask: UInt64 = 0x7F_FFFF
    private static let baseShift: UInt64 = 24
    private static let marksShift: UInt64 = 45

    /// The character's first scalar.
    public var base: UInt32 { UInt32(truncatingIfNeeded: bits >> Self.baseShift) & 0x1F_FFFF }

    public var style: Style {
        get { Style(bits: UInt32(truncatingIfNeeded: bits & Self.styleMask)) }
        set { bits = bits & ~Self.styleMask | UInt64(newValue.bits) }
    }

    /// True for the right half of a wide character; such a cell draws nothing itself.
    public var isContinuation: Bool {
        get { bits & Self.continuationBit != 0 }
        set { bits = newValue ? bits | Self.continuationBit : bits & ~Self.continuationBit }
    }

    public init(_ character: Character = " ", style: Style = .plain, isContinuation: Bool = false) {
        var scalars = character.unicodeScalars.makeIterator()
        let base = scalars.next()?.value ?? 0x20
        var packedMarks: UInt64 = 0
        for slot in 0..<Self.markSlots {
            guard let mark = scalars.next() else { break }
            packedMarks |= UInt64(mark.value) << (21 * UInt64(slot))
        }
        bits = UInt64(style.bits) | UInt64(base) << Self.baseShift
            | UInt64(CombiningMarks.number(of: packedMarks)) << Self.marksShift
        self.isContinuation = isContinuation
    }

    /// A printable ASCII character, without going through `Character`.
    init(ascii: UInt8, style: Style) {
        self.init(scalar: UInt32(ascii), style: style)
    }

    /// A character of one scalar, without going through `Character`.
    init(scalar: UInt32, style: Style) {
        bits = UInt64(style.bits) | UInt64(scalar) << Self.baseShift
    }

    /// How many combining marks a cell keeps; a terminal cell holds few (ncurses' CCHARW_MAX is 5).
    public static let markSlots = 3

    /// Whether the character has combining marks after its first scalar.
    public var hasMarks: Bool { bits >> Self.marksShift != 0 }

    /// The character when it is printable ASCII with no marks, the most common cell by far.
    public var printableASCII: UInt8? {
        let character = bits >> Self.baseShift
        return character >= 0x20 && character < 0x7F ? UInt8(truncatingIfNeeded: character) : nil
    }

    /// The combining mark in `slot` (0 to 2), or zero.
    public func mark(_ slot: Int) -> UInt32 {
        guard hasMarks else { return 0 }
        let packed = CombiningMarks.packed(number: UInt32(truncatingIfNeeded: bits >> Self.marksShift))
        return UInt32(truncatingIfNeeded: packed >> (21 * UInt64(slot))) & 0x1F_FFFF
    }

    public var character: Character {
        var text = String(Unicode.Scalar(base).map(Character.init) ?? " ")
        for slot in 0..<Self.markSlots where mark(slot) != 0 {
            if let scalar = Unicode.Scalar(mark(slot)) { text.unicodeScalars.append(scalar) }
        }
        return Character(text)
    }

    public static let blank = Cell()
}

/// The combining-mark sequences that cells hold, each kept once under a number, so that a cell
/// needs 19 bits for its marks instead of 63. Text holds few distinct sequences; should a session
/// ever meet half a million, the characters after that keep their base and lose their marks.
enum CombiningMarks {
    private struct Table {
        var numbers: [UInt64: UInt32] = [:]
        var sequences: [UInt64] = [0]
    }

    private static let table = Mutex(Table())
    private static let limit = 1 << 19

    /// The number of `packed` (three 21-bit marks), zero for none.
    static func number(of packed: UInt64) -> UInt32 {
        guard packed != 0 else { return 0 }
        return table.withLock { table in
            if let number = table.numbers[packed] { return number }
            guard table.sequences.count < limit else { return 0 }
            let number = UInt32(table.sequences.count)
            table.sequences.append(packed)
            table.numbers[packed] = number
            return number
        }
    }

    static func packed(number: UInt32) -> UInt64 {
        table.withLock { $0.sequences[Int(number)] }
    }
}

/// A rectangle of cells; `x` and `y` are the top-left corner.
public struct Rect: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width == 0 || height == 0 }

    public func inset(left: Int = 0, top: Int = 0, right: Int = 0, bottom: Int = 0) -> Rect {
        Rect(x: x + left, y: y + top, width: width - left - right, height: height - top - bottom)
    }
}
