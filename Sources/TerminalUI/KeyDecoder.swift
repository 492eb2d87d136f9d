/// A key press, paste or mouse event, decoded from the terminal's bytes.
public enum Key: Hashable, Sendable {
    case character(Character)
    case enter
    /// Ctrl-J or Alt-Enter: a newline in the input.
    case newline
    case tab
    case shiftTab
    case backspace
    case delete
    case escape
    case up, down, left, right
    case home, end, pageUp, pageDown
    case function(Int)
    /// Ctrl plus a letter, as that lowercase letter.
    case control(Character)
    case alt(Character)
    /// Text pasted inside the terminal's bracketed-paste markers.
    case paste(String)
    case wheelUp(x: Int, y: Int)
    case wheelDown(x: Int, y: Int)
    case click(x: Int, y: Int)
}

/// Turns raw terminal input into keys: UTF-8 text, control keys, CSI and SS3 escape sequences,
/// bracketed paste and SGR mouse reports.
///
/// Input may arrive split anywhere. A lone ESC is held back until more bytes arrive or the caller
/// decides it has waited long enough (`flushPendingEscape`), because ESC also starts sequences.
public struct KeyDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var pasting = false
    private var pasted: [UInt8] = []

    public init() {}

    /// True when the bytes held back could be the start of an escape sequence.
    public var hasPendingEscape: Bool { !pasting && buffer.first == 0x1B }

    public mutating func feed(_ bytes: [UInt8]) -> [Key] {
        buffer.append(contentsOf: bytes)
        var keys: [Key] = []
        while !buffer.isEmpty {
            if pasting {
                guard collectPaste(into: &keys) else { break }
                continue
            }
            guard let (key, length) = decodeOne() else { break }
            buffer.removeFirst(length)
            if let key { keys.append(key) }
        }
        return keys
    }

    /// Gives up waiting: held-back bytes starting with ESC are a press of Escape (then whatever followed).
    public mutating func flushPendingEscape() -> [Key] {
        guard hasPendingEscape else { return [] }
        buffer.removeFirst()
        return [.escape] + feed([])
    }

    private static let pasteEnd: [UInt8] = Array("\u{1B}[201~".utf8)

    private mutating func collectPaste(into keys: inout [Key]) -> Bool {
        let end = Self.pasteEnd
        if buffer.count >= end.count {
            for start in 0...(buffer.count - end.count) where buffer[start..<(start + end.count)].elementsEqual(end) {
                pasted.append(contentsOf: buffer[..<start])
                buffer.removeFirst(start + end.count)
                pasting = false
                let text = String(decoding: pasted, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
                    .replacingOccurrences(of: "\r", with: "\n")
                keys.append(.paste(text))
                pasted = []
                return true
            }
        }
        // Keep a tail that might be the start of the end marker.
        let keep = min(buffer.count, end.count - 1)
        pasted.append(contentsOf: buffer[..<(buffer.count - keep)])
        buffer.removeFirst(buffer.count - keep)
        return false
    }

    /// Decodes the key at the start of the buffer: nil when more bytes are needed; a nil key when
    /// the bytes mean nothing to Persona.
    private mutating func decodeOne() -> (Key?, Int)? {
        let byte = buffer[0]
        switch byte {
        case 0x1B: return decodeEscape()
        case 0x0D: return (.enter, 1)
        case 0x0A: return (.newline, 1)
        case 0x09: return (.tab, 1)
        case 0x7F, 0x08: return (.backspace, 1)
        case 0x00: return (nil, 1)
        case 0x01...0x1A: return (.control(Character(Unicode.Scalar(byte + 0x60))), 1)
        case 0x1C...0x1F: return (nil, 1)
        default: return decodeText(at: 0).map { (.character($0.0), $0.1) }
        }
    }

    private func decodeText(at offset: Int) -> (Character, Int)? {
        let lead = buffer[offset]
        let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        guard buffer.count - offset >= length else { return nil }
        let text = String(decoding: buffer[offset..<(offset + length)], as: UTF8.self)
        return (text.first ?? "\u{FFFD}", length)
    }

    private mutating func decodeEscape() -> (Key?, Int)? {
        guard buffer.count >= 2 else { return nil }
        switch buffer[1] {
        case UInt8(ascii: "["): return decodeCSI()
        case UInt8(ascii: "O"):
            guard buffer.count >= 3 else { return nil }
            let key: Key?
            switch buffer[2] {
            case UInt8(ascii: "P"): key = .function(1)
            case UInt8(ascii: "Q"): key = .function(2)
            case UInt8(ascii: "R"): key = .function(3)
            case UInt8(ascii: "S"): key = .function(4)
            case UInt8(ascii: "A"): key = .up
            case UInt8(ascii: "B"): key = .down
            case UInt8(ascii: "C"): key = .right
            case UInt8(ascii: "D"): key = .left
            case UInt8(ascii: "H"): key = .home
            case UInt8(ascii: "F"): key = .end
            case UInt8(ascii: "M"): key = .enter
            default: key = nil
            }
            return (key, 3)
        case 0x0D, 0x0A: return (.newline, 2)
        case 0x1B: return (.escape, 1)
        case 0x7F: return (.alt("\u{7F}"), 2)
        default:
            guard let (character, length) = decodeText(at: 1) else { return nil }
            return (.alt(character), 1 + length)
        }
    }

    private mutating func decodeCSI() -> (Key?, Int)? {
        var end = 2
        while end < buffer.count, !(0x40...0x7E).contains(buffer[end]) { end += 1 }
        guard end < buffer.count else { return nil }
        let parameters = String(decoding: buffer[2..<end], as: UTF8.self)
        let final = buffer[end]
        let length = end + 1
        if parameters.hasPrefix("<"), final == UInt8(ascii: "M") || final == UInt8(ascii: "m") {
            return (mouse(parameters.dropFirst(), pressed: final == UInt8(ascii: "M")), length)
        }
        let numbers = parameters.split(separator: ";").map { Int($0) ?? 0 }
        switch final {
        case UInt8(ascii: "A"): return (.up, length)
        case UInt8(ascii: "B"): return (.down, length)
        case UInt8(ascii: "C"): return (.right, length)
        case UInt8(ascii: "D"): return (.left, length)
        case UInt8(ascii: "H"): return (.home, length)
        case UInt8(ascii: "F"): return (.end, length)
        case UInt8(ascii: "Z"): return (.shiftTab, length)
        case UInt8(ascii: "P"): return (.function(1), length)
        case UInt8(ascii: "Q"): return (.function(2), length)
        case UInt8(ascii: "R"): return (.function(3), length)
        case UInt8(ascii: "S"): return (.function(4), length)
        case UInt8(ascii: "~"):
            switch numbers.first ?? 0 {
            case 1, 7: return (.home, length)
            case 4, 8: return (.end, length)
            case 3: return (.delete, length)
            case 5: return (.pageUp, length)
            case 6: return (.pageDown, length)
            case 11...15: return (.function(numbers[0] - 10), length)
            case 17...21: return (.function(numbers[0] - 11), length)
            case 23, 24: return (.function(numbers[0] - 12), length)
            case 200:
                pasting = true
                return (nil, length)
            default: return (nil, length)
            }
        default:
            return (nil, length)
        }
    }

    private func mouse(_ parameters: Substring, pressed: Bool) -> Key? {
        let fields = parameters.split(separator: ";").compactMap { Int($0) }
        guard fields.count == 3 else { return nil }
        let x = fields[1] - 1, y = fields[2] - 1
        switch fields[0] {
        case 64: return .wheelUp(x: x, y: y)
        case 65: return .wheelDown(x: x, y: y)
        case 0 where pressed: return .click(x: x, y: y)
        default: return nil
        }
    }
}
