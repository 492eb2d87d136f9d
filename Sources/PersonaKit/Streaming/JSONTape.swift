import Foundation

/// A JSON text checked and indexed in one pass, then read in place.
///
/// Streamed chunks are read for a few fields each: building a whole tree of strings, arrays and
/// objects per chunk, and freeing it again, cost more than the rest of decoding. The tape is the
/// text and a flat list of its values, lent to a closure: a lookup compares bytes, counts no
/// references and allocates nothing, and only what is asked for is made into a `String`.
///
/// What it buys: with the tokens on the stack and the SSE decoder's events lent likewise, the
/// decode benchmark's OpenAI events took 503 ns each, against 776–1,182 ns with both allocated.
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
