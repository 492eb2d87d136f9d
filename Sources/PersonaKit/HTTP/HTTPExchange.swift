import Foundation

/// A whole response: for the requests that are not streams, such as a batch API's.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public var isSuccess: Bool { (200..<300).contains(status) }
}

extension CurlTransport {
    /// Sends `request` and gathers its response. A body past `limit` bytes fails the exchange
    /// rather than filling memory. Throws `TransportError` below HTTP.
    public func exchange(_ request: HTTPRequest, timeouts: TransportTimeouts = TransportTimeouts(), limit: Int = 1 << 30) async throws
        -> HTTPReply
    {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        for try await part in stream(request, timeouts: timeouts) {
            switch part {
            case .head(let received): head = received
            case .body(let bytes):
                guard body.count + bytes.count <= limit else {
                    throw TransportError(kind: .network, message: "the response is larger than \(limit >> 20) MiB")
                }
                body += bytes
            }
        }
        guard let head else { throw TransportError(kind: .network, message: "the server closed the connection without a response") }
        return HTTPReply(status: head.status, headers: head.headers, body: body)
    }
}
