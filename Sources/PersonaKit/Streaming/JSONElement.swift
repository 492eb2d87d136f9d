import Foundation

/// One value of a tape, read on demand; valid only inside `JSONTape.read`'s closure.
public struct JSONElement: JSONReadable {
    let tokens: UnsafeBufferPointer<JSONTape.Token>
    let bytes: UnsafeBufferPointer<UInt8>
    let index: Int

    private var token: JSONTape.Token { tokens[index] }

    private func element(_ index: Int) -> JSONElement { JSONElement(tokens: tokens, bytes: bytes, index: index) }

    public subscript(key: String) -> JSONElement? {
        let found = key.utf8.withContiguousStorageIfAvailable { member(named: $0) }
            ?? Array(key.utf8).withUnsafeBufferPointer { member(named: $0) }
        return found.map(element)
    }

    public subscript(position: Int) -> JSONElement? {
        guard token.kind == .array, position >= 0 else { return nil }
        var item = index + 1
        var count = 0
        while item < token.next {
            if count == position { return element(item) }
            count += 1
            item = tokens[item].next
        }
        return nil
    }

    public var string: String? {
        guard token.kind == .string else { return nil }
        return text(of: token)
    }

    public var int: Int? { JSON.integer(fromNumber: numberText) }

    public var double: Double? { numberText.flatMap(Double.init) }

    public var bool: Bool? {
        switch token.kind {
        case .true: return true
        case .false: return false
        default: return nil
        }
    }

    public var isNull: Bool { token.kind == .null }

    public var isObject: Bool { token.kind == .object }

    public var array: [JSONElement]? {
        guard token.kind == .array else { return nil }
        var items: [JSONElement] = []
        var item = index + 1
        while item < token.next {
            items.append(element(item))
            item = tokens[item].next
        }
        return items
    }

    public var serialized: String { materialized.serialized }

    /// The value as a `JSON` tree, which may outlive the tape.
    public var materialized: JSON {
        switch token.kind {
        case .null: return .null
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .number: return .number(numberText ?? "")
        case .string: return .string(text(of: token))
        case .array: return .array(array?.map(\.materialized) ?? [])
        case .object:
            var members: [JSONObject.Member] = []
            var member = index + 1
            while member < token.next {
                members.append(JSONObject.Member(key: text(of: tokens[member]), value: element(member + 1).materialized))
                member = tokens[member + 1].next
            }
            return .object(JSONObject(members))
        }
    }

    private var numberText: String? {
        guard token.kind == .number else { return nil }
        return text(of: token)
    }

    /// The index of the value of this object's first member whose key spells `wanted`; nil when
    /// it has none, or is no object.
    private func member(named wanted: UnsafeBufferPointer<UInt8>) -> Int? {
        guard token.kind == .object else { return nil }
        let end = token.next
        var member = index + 1
        while member < end {
            let key = tokens[member]
            if key.escaped {
                let text = Self.unescaped(UnsafeBufferPointer(rebasing: bytes[key.start..<key.end]))
                if text.elementsEqual(wanted) { return member + 1 }
            } else if key.end - key.start == wanted.count,
                      wanted.isEmpty || memcmp(bytes.baseAddress! + key.start, wanted.baseAddress!, wanted.count) == 0 {
                return member + 1
            }
            member = tokens[member + 1].next
        }
        return nil
    }

    /// A string's text with its escapes decoded, or a number's literal.
    private func text(of token: JSONTape.Token) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
        return token.escaped ? String(decoding: Self.unescaped(raw), as: UTF8.self) : String(decoding: raw, as: UTF8.self)
    }

    /// The bytes of a string the reader has checked, with its escapes decoded; a lone surrogate
    /// becomes U+FFFD.
    private static func unescaped(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = 0
        func hex4() -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = raw[index]
                let digit: UInt8 = byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : (byte | 0x20) - UInt8(ascii: "a") + 10
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }
        func append(_ value: UInt32) {
            out.append(contentsOf: UTF8.encode(Unicode.Scalar(value) ?? "\u{FFFD}")!)
        }
        while index < raw.count {
            let byte = raw[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            let escape = raw[index]
            index += 1
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    if index + 1 < raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u") {
                        index += 2
                        let low = hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            append(0xFFFD)
                            scalar = low
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    scalar = 0xFFFD
                }
                append(scalar)
            default:
                // `"`, `\` and `/` stand for themselves.
                out.append(escape)
            }
        }
        return out
    }
}
