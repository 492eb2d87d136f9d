import Foundation

/// Header fields in wire order, looked up case-insensitively.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public private(set) var fields: [Field] = []

    public init(_ pairs: [(String, String)] = []) {
        fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }

    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.last(where: { $0.name.lowercased() == lowered })?.value
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}

/// One outgoing request. The body is sent as it is, streamed to the socket by libcurl.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String = "POST", url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// The body as text, for tests and diagnostics (never logged: it may quote the user).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var headers: HTTPHeaders

    public init(status: Int, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }
}

/// What a streaming response yields: the head exactly once, first, then body chunks as they arrive.
public enum HTTPStreamPart: Sendable, Equatable {
    case head(HTTPResponseHead)
    case body([UInt8])
}

/// Limits for one transfer, in seconds.
public struct TransportTimeouts: Sendable, Equatable {
    /// Time allowed to establish the connection (TCP and TLS).
    public var connect: Double
    /// Longest silence allowed between body bytes. Before the first one, `firstByteFactor` times
    /// as long is allowed.
    public var idle: Double
    /// The longest a whole transfer may take, however steadily data comes.
    public var total: Double

    public static let firstByteFactor = 4.0

    public init(connect: Double = 10, idle: Double = 30, total: Double = 600) {
        self.connect = connect
        self.idle = idle
        self.total = total
    }

    /// The silence allowed before the first byte: reasoning models may think for minutes.
    public var firstByte: Double { idle * Self.firstByteFactor }
}

/// A transfer that failed below HTTP: no connection, a reset, a TLS failure, silence, or a cancel.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case network
        case timeout
        case cancelled
    }

    public var kind: Kind
    public var message: String
    /// libcurl's result code, for diagnostics; 0 when the failure is ours (idle timeout, cancel).
    public var curlCode: Int

    public init(kind: Kind, message: String, curlCode: Int = 0) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String { message }
}

extension HTTPHeaders {
    /// Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date).
    public func retryAfterSeconds(now: Date = Date()) -> Double? {
        if let millis = self["retry-after-ms"].flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), millis >= 0 {
            return millis / 1000
        }
        guard let value = self["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value), seconds >= 0 { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return Swift.max(0, date.timeIntervalSince(now))
    }
}
