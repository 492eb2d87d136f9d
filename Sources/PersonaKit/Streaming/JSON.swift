import Foundation

/// A JSON value, parsed by a small byte-level reader.
///
/// Foundation's decoders cost 15–25 µs per streamed chunk; this reader works straight on the
/// UTF-8 bytes of an SSE `data:` payload, keeps numbers as their source text (so prices and
/// token counts are read exactly), and keeps object members in wire order.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text, so that `Decimal` and `Int` readings are exact.
    case number(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public subscript(key: String) -> JSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public subscript(index: Int) -> JSON? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var int: Int? {
        guard case .number(let text) = self else { return nil }
        return JSON.integer(fromNumber: text)
    }

    /// A number literal as an `Int`, when it is a whole number within range.
    static func integer(fromNumber text: String?) -> Int? {
        guard let text else { return nil }
        if let exact = Int(text) { return exact }
        if let value = Double(text), value.rounded() == value, abs(value) < 9e15 { return Int(value) }
        return nil
    }

    public var double: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    public var decimal: Decimal? {
        if case .number(let text) = self { return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var array: [JSON]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var object: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public static func int(_ value: Int) -> JSON { .number(String(value)) }
    public static func double(_ value: Double) -> JSON { .number(JSON.format(value)) }
    public static func decimal(_ value: Decimal) -> JSON { .number(NSDecimalNumber(decimal: value).stringValue) }
    public static func object(_ members: KeyValuePairs<String, JSON>) -> JSON {
        .object(JSONObject(members.map { JSONObject.Member(key: $0.key, value: $0.value) }))
    }

    private static func format(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}

/// What decoders read of a JSON value: a built `JSON` tree, or a `JSONElement` read in place.
public protocol JSONReadable {
    subscript(key: String) -> Self? { get }
    subscript(index: Int) -> Self? { get }
    var string: String? { get }
    var int: Int? { get }
    var double: Double? { get }
    var bool: Bool? { get }
    var isNull: Bool { get }
    var isObject: Bool { get }
    var array: [Self]? { get }
    /// Compact JSON text of the value.
    var serialized: String { get }
}

extension JSON: JSONReadable {
    public var isObject: Bool { object != nil }
}

/// Object members in the order they were read or built.
public struct JSONObject: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSON
        public init(key: String, value: JSON) {
            self.key = key
            self.value = value
        }
    }

    public private(set) var members: [Member]

    public init(_ members: [Member] = []) { self.members = members }

    public subscript(key: String) -> JSON? {
        get { members.first(where: { $0.key == key })?.value }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    public var keys: [String] { members.map(\.key) }
}

public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSON {
    public static func parse(_ text: String) throws -> JSON {
        try JSONTape.read(Array(text.utf8)) { $0.materialized }
    }

    public static func parse(_ bytes: [UInt8]) throws -> JSON {
        try JSONTape.read(bytes) { $0.materialized }
    }
}

extension JSON {
    /// Compact JSON text. Members keep their order, so output is stable and diffable.
    public var serialized: String {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public var serializedBytes: [UInt8] {
        var out: [UInt8] = []
        write(to: &out)
        return out
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let value): JSON.writeString(value, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (position, item) in items.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func writeString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var pendingC2 = false
        for byte in value.utf8 {
            if pendingC2 {
                pendingC2 = false
                // U+0080–U+009F are C1 controls: escape them so no terminal reading the output acts on them.
                if (0x80...0x9F).contains(byte) {
                    writeEscapedCodeUnit(byte, to: &out)
                    continue
                }
                out.append(0xC2)
            }
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F: writeEscapedCodeUnit(byte, to: &out)
            case 0xC2: pendingC2 = true
            default: out.append(byte)
            }
        }
        if pendingC2 { out.append(0xC2) }
        out.append(UInt8(ascii: "\""))
    }

    private static func writeEscapedCodeUnit(_ value: UInt8, to out: inout [UInt8]) {
        out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
        out.append(hexDigits[Int(value >> 4)])
        out.append(hexDigits[Int(value & 0xF)])
    }
}
