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
    /// A line that a chunk ended inside; lines that end in the chunk they start in are read in place.
    private var line: [UInt8] = []
    private var eventName: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var lastWasCR = false
    private var atStreamStart = true
    private var bomMatched = 0
    /// The last event name made into a String: a stream repeats a handful of names.
    private var lastName = "message"
    private var lastNameBytes: [UInt8] = []
    /// How many comment lines were skipped; OpenRouter sends `: OPENROUTER PROCESSING` keep-alives.
    public private(set) var commentCount = 0
    /// The most bytes one line or one event's data may hold.
    public let limit: Int
    /// Set when a line or an event grew past `limit`; the decoder then reads nothing more, and
    /// holds no more than the limit in memory.
    public private(set) var exceededLimit = false

    public init(limit: Int = 16 << 20) {
        self.limit = limit
    }

    public mutating func feed(_ bytes: [UInt8]) -> [SSEEvent] {
        bytes.withUnsafeBufferPointer { feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) -> [SSEEvent] {
        var events: [SSEEvent] = []
        feed(bytes) { events.append($0) }
        return events
    }

    /// Feeds `bytes` and lends each event they complete to `handle`. The event's data is the
    /// decoder's own buffer, used again for the next event unless `handle` keeps a copy.
    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ handle: (SSEEvent) -> Void) {
        guard !exceededLimit else { return }
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
            let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
            if line.count + text.count > limit { return exceed() }
            if line.isEmpty {
                processLine(text, handle)
            } else {
                // Taken out while it is read, so that the decoder may change as the line is processed.
                var whole: [UInt8] = []
                swap(&whole, &line)
                whole.append(contentsOf: text)
                whole.withUnsafeBufferPointer { processLine($0, handle) }
                whole.removeAll(keepingCapacity: true)
                swap(&whole, &line)
            }
            lastWasCR = byte == 0x0D
            index += 1
            if lastWasCR, index < bytes.count, bytes[index] == 0x0A {
                lastWasCR = false
                index += 1
            }
            start = index
            if exceededLimit { return }
        }
        if start < bytes.count {
            guard line.count + bytes.count - start <= limit else { return exceed() }
            line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        }
    }

    private mutating func exceed() {
        exceededLimit = true
        line = []
        data = []
    }

    /// Ends the stream. An event left without its closing blank line is still delivered, because
    /// several providers close the connection straight after the last `data:` line.
    public mutating func finish() -> [SSEEvent] {
        var events: [SSEEvent] = []
        guard !exceededLimit else { return events }
        if !line.isEmpty {
            let last = line
            line.removeAll()
            last.withUnsafeBufferPointer { processLine($0) { events.append($0) } }
        }
        dispatch { events.append($0) }
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

    private mutating func processLine(_ line: UnsafeBufferPointer<UInt8>, _ handle: (SSEEvent) -> Void) {
        if line.isEmpty { return dispatch(handle) }
        if line[0] == UInt8(ascii: ":") {
            commentCount += 1
            return
        }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
        let field = UnsafeBufferPointer(rebasing: line[..<colon])
        var valueStart = min(colon + 1, line.count)
        if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = UnsafeBufferPointer(rebasing: line[valueStart...])
        if Self.spells(field, "data") {
            guard data.count + value.count < limit else { return exceed() }
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
        } else if Self.spells(field, "event") {
            eventName.removeAll(keepingCapacity: true)
            eventName.append(contentsOf: value)
        }
        // `id:` and `retry:` are reconnection hints; a chat completion is never resumed, so they are ignored.
    }

    private static func spells(_ field: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
        field.count == name.utf8CodeUnitCount && memcmp(field.baseAddress!, name.utf8Start, field.count) == 0
    }

    private mutating func dispatch(_ handle: (SSEEvent) -> Void) {
        defer {
            eventName.removeAll(keepingCapacity: true)
            hasData = false
        }
        guard hasData else { return }
        if !eventName.isEmpty, eventName != lastNameBytes {
            lastNameBytes = eventName
            lastName = String(decoding: eventName, as: UTF8.self)
        }
        // The data is lent, not copied: it comes back for the next event.
        var event = SSEEvent(name: eventName.isEmpty ? "message" : lastName, data: [])
        swap(&event.data, &data)
        handle(event)
        swap(&event.data, &data)
        data.removeAll(keepingCapacity: true)
    }
}
