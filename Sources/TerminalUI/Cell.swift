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
/// The character is kept as plain scalars, not as a `Character`, so that a cell is 16 bytes with
/// no padding and no reference to count: a frame copies and compares thousands of them.
public struct Cell: Hashable, Sendable {
    /// Up to three combining marks after it, 21 bits each (all a scalar needs); unused slots are zero.
    private var packedMarks: UInt64
    /// The character's first scalar.
    public private(set) var base: UInt32
    /// The style's bits, with `isContinuation` in bit 23.
    private var styleAndFlag: UInt32

    public var style: Style {
        get { Style(bits: styleAndFlag & ~Self.continuationBit) }
        set { styleAndFlag = newValue.bits | styleAndFlag & Self.continuationBit }
    }

    /// True for the right half of a wide character; such a cell draws nothing itself.
    public var isContinuation: Bool {
        get { styleAndFlag & Self.continuationBit != 0 }
        set { styleAndFlag = newValue ? styleAndFlag | Self.continuationBit : styleAndFlag & ~Self.continuationBit }
    }

    private static let continuationBit: UInt32 = 1 << 23

    public init(_ character: Character = " ", style: Style = .plain, isContinuation: Bool = false) {
        var scalars = character.unicodeScalars.makeIterator()
        base = scalars.next()?.value ?? 0x20
        packedMarks = 0
        for slot in 0..<Self.markSlots {
            guard let mark = scalars.next() else { break }
            packedMarks |= UInt64(mark.value) << (21 * slot)
        }
        styleAndFlag = style.bits | (isContinuation ? Self.continuationBit : 0)
    }

    /// A printable ASCII character, without going through `Character`.
    init(ascii: UInt8, style: Style) {
        base = UInt32(ascii)
        packedMarks = 0
        styleAndFlag = style.bits
    }

    /// How many combining marks a cell keeps; a terminal cell holds few (ncurses' CCHARW_MAX is 5).
    public static let markSlots = 3

    /// The combining mark in `slot` (0 to 2), or zero.
    public func mark(_ slot: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: packedMarks >> (21 * slot)) & 0x1F_FFFF
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
