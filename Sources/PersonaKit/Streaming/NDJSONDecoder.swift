/// An incremental newline-delimited JSON splitter (Ollama's stream format).
///
/// It yields each non-blank line's bytes, whatever the chunk boundaries; a trailing `\r` is dropped.
public struct NDJSONDecoder: Sendable {
    private var pending: [UInt8] = []
    /// The most bytes one line may hold.
    public let limit: Int
    /// Set when a line grew past `limit`; nothing more is read or kept.
    public private(set) var exceededLimit = false

    public init(limit: Int = 16 << 20) {
        self.limit = limit
    }

    public mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.withUnsafeBufferPointer { feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        guard !exceededLimit else { return lines }
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 0x0A {
            guard keep(UnsafeBufferPointer(rebasing: bytes[start..<index])) else { return lines }
            emit(into: &lines)
            start = index + 1
        }
        if start < bytes.count { _ = keep(UnsafeBufferPointer(rebasing: bytes[start..<bytes.count])) }
        return lines
    }

    /// Holds a line's bytes until its end arrives; false, and nothing held, past the limit.
    private mutating func keep(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard pending.count + bytes.count <= limit else {
            exceededLimit = true
            pending = []
            return false
        }
        pending.append(contentsOf: bytes)
        return true
    }

    /// Ends the stream, yielding a last line that had no newline.
    public mutating func finish() -> [[UInt8]] {
        var lines: [[UInt8]] = []
        guard !exceededLimit else { return lines }
        emit(into: &lines)
        return lines
    }

    private mutating func emit(into lines: inout [[UInt8]]) {
        defer { pending.removeAll(keepingCapacity: true) }
        if pending.last == 0x0D { pending.removeLast() }
        guard pending.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
        lines.append(pending)
    }
}
