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

/// A JSON text checked and indexed in one pass, then read in place.
///
/// Streamed chunks are read for a few fields each: building a whole tree of strings, arrays and
/// objects per chunk, and freeing it again, cost more than the rest of decoding. The tape is the
/// text and a flat list of its values, lent to a closure: a lookup compares bytes, counts no
/// references and allocates nothing, and only what is asked for is made into a `String`.
public enum JSONTape {
    enum Kind: UInt8 {
        case null, `true`, `false`, number, string, array, object
    }

    /// 16 bytes, so that a chunk's tokens fit the stack; `read` keeps documents under 4 GiB.
    struct Token {
        var kind: Kind
        /// A string with escapes, which must be decoded rather than copied.
        var escaped: Bool
        private var startOffset: UInt32
        private var endOffset: UInt32
        private var nextIndex: UInt32

        init(kind: Kind, escaped: Bool = false, start: Int, end: Int, next: Int) {
            self.kind = kind
            self.escaped = escaped
            startOffset = UInt32(start)
            endOffset = UInt32(end)
            nextIndex = UInt32(next)
        }

        /// The value's bytes; for a string, without its quotes.
        var start: Int { Int(startOffset) }
        var end: Int {
            get { Int(endOffset) }
            set { endOffset = UInt32(newValue) }
        }

        /// The index of the token after this value and everything inside it.
        var next: Int {
            get { Int(nextIndex) }
            set { nextIndex = UInt32(newValue) }
        }
    }

    /// The tokens did not fit the room given: index again with more.
    fileprivate struct TapeFull: Error {}

    /// Checks and indexes `bytes`, then lends `body` the root value; throws for anything but one
    /// JSON value with optional whitespace. Elements point into `bytes` and the index, so they
    /// are valid only inside `body`: take out Strings and numbers, never the elements.
    public static func read<Result>(_ bytes: [UInt8], _ body: (JSONElement) throws -> Result) throws -> Result {
        guard bytes.count < UInt32.max else { throw JSONParseError(offset: 0, reason: "larger than 4 GiB") }
        // A streamed chunk holds a few dozen values, whose tokens fit in the 1 KiB that Swift
        // allocates on the stack. A bigger document is indexed again with room for a token per
        // byte, the most there can be, since each value starts at a byte of its own.
        do {
            return try withUnsafeTemporaryAllocation(of: Token.self, capacity: 1024 / MemoryLayout<Token>.stride) {
                try index(bytes, into: $0, body)
            }
        } catch is TapeFull {
            return try withUnsafeTemporaryAllocation(of: Token.self, capacity: bytes.count + 1) { try index(bytes, into: $0, body) }
        }
    }

    private static func index<Result>(_ bytes: [UInt8], into storage: UnsafeMutableBufferPointer<Token>,
                                      _ body: (JSONElement) throws -> Result) throws -> Result {
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONTapeReader(bytes: buffer, storage: storage)
            reader.skipWhitespace()
            try reader.readValue(depth: 0)
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw reader.error("trailing characters") }
            let tokens = UnsafeBufferPointer(rebasing: storage[..<reader.count])
            return try body(JSONElement(tokens: tokens, bytes: buffer, index: 0))
        }
    }
}

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

/// Checks JSON syntax and records a token per value, building nothing else.
private struct JSONTapeReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Where the tokens go, in the order their values start; `count` of them are written.
    let storage: UnsafeMutableBufferPointer<JSONTape.Token>
    var count = 0
    static let maxDepth = 512

    init(bytes: UnsafeBufferPointer<UInt8>, storage: UnsafeMutableBufferPointer<JSONTape.Token>) {
        self.bytes = bytes
        self.storage = storage
    }

    func error(_ reason: String) -> JSONParseError { JSONParseError(offset: index, reason: reason) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func readValue(depth: Int) throws {
        guard depth < Self.maxDepth else { throw error("nesting too deep") }
        guard index < bytes.count else { throw error("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try readObject(depth: depth)
        case UInt8(ascii: "["): try readArray(depth: depth)
        case UInt8(ascii: "\""): try readString()
        case UInt8(ascii: "t"): try readLiteral("true", .true)
        case UInt8(ascii: "f"): try readLiteral("false", .false)
        case UInt8(ascii: "n"): try readLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try readNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func record(_ kind: JSONTape.Kind, from start: Int, escaped: Bool = false) throws {
        try append(JSONTape.Token(kind: kind, escaped: escaped, start: start, end: index, next: count + 1))
    }

    mutating func readLiteral(_ literal: StaticString, _ kind: JSONTape.Kind) throws {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("unexpected end") }
        let base = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != base[offset] {
            throw error("invalid literal")
        }
        let start = index
        index += count
        try record(kind, from: start)
    }

    private mutating func append(_ token: JSONTape.Token) throws {
        guard count < storage.count else { throw JSONTape.TapeFull() }
        storage.initializeElement(at: count, to: token)
        count += 1
    }

    /// Opens a container's token; `close` fixes its end once its contents are read.
    private mutating func open(_ kind: JSONTape.Kind) throws -> Int {
        try append(JSONTape.Token(kind: kind, start: index, end: index, next: 0))
        index += 1
        return count - 1
    }

    private mutating func close(_ token: Int) {
        index += 1
        storage[token].end = index
        storage[token].next = count
    }

    mutating func readObject(depth: Int) throws {
        let token = try open(.object)
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { return close(token) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
            try readString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            try readValue(depth: depth + 1)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                return close(token)
            } else {
                throw error("expected ',' or '}'")
            }
        }
    }

    mutating func readArray(depth: Int) throws {
        let token = try open(.array)
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { return close(token) }
        while true {
            skipWhitespace()
            try readValue(depth: depth + 1)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                return close(token)
            } else {
                throw error("expected ',' or ']'")
            }
        }
    }

    /// Checks a number by JSON's grammar, `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, so
    /// that `01`, `1-2`, `1.2.3` and `1.` are refused as JSON refuses them.
    mutating func readNumber() throws {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
            skipDigits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
            skipDigits()
        }
        if index < bytes.count, isDigit(bytes[index]) || bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: "-")
            || bytes[index] == UInt8(ascii: "+") || bytes[index] | 0x20 == UInt8(ascii: "e") {
            throw error("invalid number")
        }
        try record(.number, from: start)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    /// Checks a string, escapes included, and records its bytes between the quotes.
    mutating func readString() throws {
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            // Most of a string is plain text: skip it in a tight loop on a local index.
            var plain = index
            while plain < bytes.count, bytes[plain] >= 0x20, bytes[plain] != UInt8(ascii: "\""), bytes[plain] != UInt8(ascii: "\\") {
                plain += 1
            }
            index = plain
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                try record(.string, from: start, escaped: escaped)
                index += 1
                return
            }
            if byte < 0x20 { throw error("control character in string") }
            index += 1
            guard byte == UInt8(ascii: "\\") else { continue }
            escaped = true
            guard index < bytes.count else { throw error("unexpected end") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                 UInt8(ascii: "r"), UInt8(ascii: "t"):
                break
            case UInt8(ascii: "u"):
                let scalar = try readHex4()
                // A high surrogate's partner is read with it, so that a bad one is reported here.
                if (0xD800...0xDBFF).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                   bytes[index + 1] == UInt8(ascii: "u") {
                    index += 2
                    _ = try readHex4()
                }
            default:
                throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    mutating func readHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("unexpected end") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
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
