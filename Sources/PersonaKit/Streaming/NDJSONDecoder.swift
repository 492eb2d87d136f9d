/// An incremental newline-delimited JSON splitter (Ollama's stream format).
///
/// It yields each non-blank line's bytes, whatever the chunk boundaries; a trailing `\r` is dropped.
public struct NDJSONDecoder: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.withUnsafeBufferPointer { feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 0x0A {
            pending.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            emit(into: &lines)
            start = index + 1
        }
        if start < bytes.count {
            pending.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        }
        return lines
    }

    /// Ends the stream, yielding a last line that had no newline.
    public mutating func finish() -> [[UInt8]] {
        var lines: [[UInt8]] = []
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
