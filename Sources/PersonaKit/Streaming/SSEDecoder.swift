import Foundation

/// One server-sent event: its `event:` name (`message` when absent) and its joined `data:` lines.
public struct SSEEvent: Sendable, Equatable {
    public var name: String
    public var data: [UInt8]

    public init(name: String = "message", data: [UInt8]) {
        self.name = name
        self.data = data
    }

    public var dataString: String { String(decoding: data, as: UTF8.self) }
}

/// An incremental `text/event-stream` decoder following the WHATWG rules.
///
/// Bytes may be split anywhere, even inside a CRLF or a multi-byte character: the events are the
/// same for every split. Comment lines (`:`) are skipped, `data:` lines are joined with `\n`, and an
/// event is dispatched on a blank line.
public struct SSEDecoder: Sendable {
    private var line: [UInt8] = []
    private var eventName: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var lastWasCR = false
    private var atStreamStart = true
    /// How many comment lines were skipped; OpenRouter sends `: OPENROUTER PROCESSING` keep-alives.
    public private(set) var commentCount = 0

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) -> [SSEEvent] {
        bytes.withUnsafeBufferPointer { feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) -> [SSEEvent] {
        var events: [SSEEvent] = []
        var start = 0
        var index = 0
        if atStreamStart {
            skipByteOrderMark(bytes, index: &index)
            start = index
        }
        while index < bytes.count {
            // Skip to the line's end in a tight loop: bytes above CR are never line ends.
            let textStart = index
            while index < bytes.count, bytes[index] > 0x0D || (bytes[index] != 0x0A && bytes[index] != 0x0D) { index += 1 }
            if index > textStart { lastWasCR = false }
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == 0x0A, lastWasCR, index == start, line.isEmpty {
                // The LF of a CRLF whose CR ended the previous chunk.
                lastWasCR = false
                index += 1
                start = index
                continue
            }
            line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            processLine(into: &events)
            line.removeAll(keepingCapacity: true)
            lastWasCR = byte == 0x0D
            index += 1
            if lastWasCR, index < bytes.count, bytes[index] == 0x0A {
                lastWasCR = false
                index += 1
            }
            start = index
        }
        if start < bytes.count {
            line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        }
        return events
    }

    /// Ends the stream. An event left without its closing blank line is still delivered, because
    /// several providers close the connection straight after the last `data:` line.
    public mutating func finish() -> [SSEEvent] {
        var events: [SSEEvent] = []
        if !line.isEmpty {
            processLine(into: &events)
            line.removeAll()
        }
        dispatch(into: &events)
        return events
    }

    /// Skips a leading UTF-8 BOM, even one split across chunks. A stream whose first bytes only look
    /// like one loses nothing that matters: no valid field name starts with 0xEF.
    private mutating func skipByteOrderMark(_ bytes: UnsafeBufferPointer<UInt8>, index: inout Int) {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        while bomMatched < bom.count, index < bytes.count, bytes[index] == bom[bomMatched] {
            bomMatched += 1
            index += 1
        }
        if bomMatched == bom.count || index < bytes.count { atStreamStart = false }
    }

    private var bomMatched = 0

    private mutating func processLine(into events: inout [SSEEvent]) {
        if line.isEmpty {
            dispatch(into: &events)
            return
        }
        if line[0] == UInt8(ascii: ":") {
            commentCount += 1
            return
        }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let field = colon.map { line[..<$0] } ?? line[...]
        var valueStart = colon.map { $0 + 1 } ?? line.count
        if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = line[valueStart...]
        if Self.spells(field, Self.dataField) {
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
        } else if Self.spells(field, Self.eventField) {
            eventName = Array(value)
        }
        // `id:` and `retry:` are reconnection hints; a chat completion is never resumed, so they are ignored.
    }

    private static let dataField = Array("data".utf8)
    private static let eventField = Array("event".utf8)

    /// Byte for byte, without the generic `elementsEqual` of a slice and a string's UTF-8 view.
    private static func spells(_ field: ArraySlice<UInt8>, _ name: [UInt8]) -> Bool {
        field.count == name.count && field.withUnsafeBufferPointer { field in
            name.withUnsafeBufferPointer { name in memcmp(field.baseAddress!, name.baseAddress!, name.count) == 0 }
        }
    }

    private mutating func dispatch(into events: inout [SSEEvent]) {
        defer {
            data.removeAll(keepingCapacity: true)
            eventName.removeAll(keepingCapacity: true)
            hasData = false
        }
        guard hasData else { return }
        let name = eventName.isEmpty ? "message" : String(decoding: eventName, as: UTF8.self)
        events.append(SSEEvent(name: name, data: data))
    }
}
