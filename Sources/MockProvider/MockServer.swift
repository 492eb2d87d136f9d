import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP/1.1 server that answers like OpenAI, Anthropic, Gemini and Ollama.
///
/// The route picks the wire format; a script picks the behaviour per request (by default read from
/// the model name, see `MockBehavior.fromModelName`). Every request is logged for tests to inspect.
public final class MockServer: Sendable {
    public typealias Script = @Sendable (MockRequest) -> MockBehavior

    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let script: Script
    private struct State {
        var log: [MockRequest] = []
        var openConnections: Set<Int32> = []
        var streaming = 0
        var peakStreaming = 0
        var stopped = false
    }

    private let state = Mutex(State())
    private let startedAt = DispatchTime.now().uptimeNanoseconds

    /// Where each streamed delta's send time goes, when a benchmark measures latency end to end.
    private let sendLog: MockSendLog?

    /// The batch APIs' state, and the clock their batches move on.
    public let batches: MockBatches

    public init(port: Int = 0, sendLog: MockSendLog? = nil, batchClock: MockBatches.Clock = .manual,
                script: @escaping Script = { MockBehavior.fromModelName($0.model) }) throws {
        self.script = script
        batches = MockBatches(clock: batchClock)
        self.sendLog = sendLog
        (listener, self.port) = try Self.listenOnLoopback(port: port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "mock-accept"
        thread.start()
    }

    deinit { stop() }

    /// A TCP socket listening on 127.0.0.1 at `port` (0 picks a free one), and the port it has.
    public static func listenOnLoopback(port: Int = 0) throws -> (socket: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MockServerError.socket(errno) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let code = errno
            close(fd)
            throw MockServerError.socket(code)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: actual.sin_port)))
    }

    /// Every request received so far, in arrival order.
    public var requests: [MockRequest] { state.withLock { $0.log } }

    public func clearLog() { state.withLock { $0.log.removeAll() } }

    /// The most responses that were ever streaming at the same moment.
    public var peakConcurrentStreams: Int { state.withLock { $0.peakStreaming } }

    /// Stops accepting and ends every open connection.
    ///
    /// Descriptors are shut down under the lock and closed only by their owning thread, so a
    /// number the system has since reused for another socket is never touched.
    public func stop() {
        let listener = self.listener
        state.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            shutdown(listener, Int32(SHUT_RDWR))
            for connection in state.openConnections { shutdown(connection, Int32(SHUT_RDWR)) }
        }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                // Only stop() ends the loop; a client that gave up (ECONNABORTED) or a signal is no reason to.
                if isStopped { break }
                usleep(1000)
                continue
            }
            var noDelay: Int32 = 1
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.openConnections.insert(connection)
                return true
            }
            guard accepted else {
                close(connection)
                break
            }
            let thread = Thread { [self] in
                serve(connection)
                state.withLock { state in
                    state.openConnections.remove(connection)
                    close(connection)
                }
            }
            thread.start()
        }
        close(listener)
    }

    private func serve(_ connection: Int32) {
        guard let request = readRequest(connection) else { return }
        state.withLock { $0.log.append(request) }
        var behavior = script(request)
        if let style = behavior.verdict, let verdict = MockCouncil.verdict(style, for: request) { behavior.text = verdict }
        let writer = SocketWriter(fd: connection)
        if let recorded = behavior.replayBody {
            replay(recorded, behavior: behavior, writer: writer)
            return
        }
        if MockBatches.isBatchRoute(request.path) {
            if behavior.status >= 300 {
                let format: MockWireFormat = request.path.contains("/v1beta/") ? .gemini : request.header("x-api-key") != nil ? .anthropic : .openai
                writer.respond(status: behavior.status, contentType: "application/json",
                               body: MockWire(format: format, model: "").errorBody(status: behavior.status, message: behavior.errorMessage),
                               headers: behavior.headers)
            } else if let response = batches.handle(request, baseURL: baseURL) {
                writer.respond(status: response.status, contentType: response.contentType, body: response.body)
            } else {
                writer.respond(status: 404, contentType: "application/json", body: #"{"error":"no such route"}"#)
            }
            return
        }
        if request.method == "POST", MockEmbeddings.isRoute(request.path) {
            if behavior.status >= 300 {
                writer.respond(status: behavior.status, contentType: "application/json",
                               body: #"{"error":{"message":"\#(behavior.errorMessage)"}}"#, headers: behavior.headers)
            } else {
                let (status, body) = MockEmbeddings.respond(request)
                writer.respond(status: status, contentType: "application/json", body: body)
            }
            return
        }
        if request.method == "GET", request.path == "/mock/stats" {
            // For a benchmark in another process: how many streams were ever open at once.
            writer.respond(status: 200, contentType: "application/json",
                           body: #"{"peak_streams":\#(peakConcurrentStreams),"requests":\#(requests.count)}"#)
            return
        }
        if request.method == "GET" {
            respondToListing(request, behavior: behavior, writer: writer)
            return
        }
        guard let format = request.format else {
            writer.respond(status: 404, contentType: "application/json", body: #"{"error":"no such route"}"#)
            return
        }
        let wire = MockWire(format: format, model: request.model, answerTool: request.forcedTool)
        if behavior.status >= 300 {
            writer.respond(status: behavior.status, contentType: "application/json",
                           body: wire.errorBody(status: behavior.status, message: behavior.errorMessage),
                           headers: behavior.headers)
            return
        }
        state.withLock { state in
            state.streaming += 1
            state.peakStreaming = max(state.peakStreaming, state.streaming)
        }
        stream(wire, behavior: behavior, request: request, writer: writer)
        state.withLock { $0.streaming -= 1 }
    }

    /// The body the mock streams for `deltas` in `format`, whole: for decoding without a network.
    /// With `answerTool`, an Anthropic answer comes as that tool's input, as for a schema.
    public static func streamBody(_ format: MockWireFormat, model: String, deltas: [String], inputTokens: Int = 12,
                                  answerTool: String? = nil) -> [UInt8] {
        let wire = MockWire(format: format, model: model, answerTool: answerTool)
        let behavior = MockBehavior()
        var body = wire.opening(inputTokens: inputTokens, behavior: behavior)
        body += deltas.enumerated().map { wire.delta($1, index: $0, inputTokens: inputTokens, behavior: behavior) }
        body += wire.closing(inputTokens: inputTokens, outputTokens: deltas.count, behavior: behavior)
        return Array(body.joined().utf8)
    }

    private func stream(_ wire: MockWire, behavior: MockBehavior, request: MockRequest, writer: SocketWriter) {
        let inputTokens = behavior.inputTokens ?? max(1, request.body.count / 4)
        let pieces = behavior.text.map { Self.split($0, every: behavior.chunkSize) }
            ?? (behavior.toolCalls.isEmpty ? Self.generatedDeltas(behavior.tokens) : [])
        let outputTokens = behavior.outputTokens ?? pieces.count + behavior.reasoningTokens
        guard writer.startChunked(contentType: wire.contentType, headers: behavior.headers) else { return }
        for event in wire.opening(inputTokens: inputTokens, behavior: behavior) {
            guard writer.chunk(event) else { return }
        }
        if behavior.firstTokenDelay > 0 { Thread.sleep(forTimeInterval: behavior.firstTokenDelay) }
        // Tokens go out on a fixed schedule, so sleeping's overshoot never slows the stream below its rate.
        let startedStreaming = Self.monotonicNanoseconds()
        var contentBytes = 0
        var sends: [(bytes: Int, at: UInt64)] = []
        defer { if let sendLog { sendLog.record(model: request.model, sends: sends) } }
        for (index, piece) in pieces.enumerated() {
            if behavior.dropAfter == index { writer.abort(); return }
            if behavior.stallAfter == index { Thread.sleep(forTimeInterval: behavior.stallSeconds) }
            if behavior.dripAfter == index {
                let rest = pieces[index...].enumerated().map { wire.delta($1, index: index + $0, inputTokens: inputTokens, behavior: behavior) }
                    + wire.closing(inputTokens: inputTokens, outputTokens: outputTokens, behavior: behavior)
                for byte in rest.joined().utf8 {
                    guard writer.chunk(bytes: [byte]) else { return }
                    Thread.sleep(forTimeInterval: behavior.dripSeconds)
                }
                writer.finishChunked()
                return
            }
            if behavior.malformedAfter == index, !writer.chunk(wire.malformed()) { return }
            if behavior.errorAfter == index {
                _ = writer.chunk(wire.streamError(message: behavior.errorMessage))
                writer.finishChunked()
                return
            }
            if behavior.delayPerToken > 0 {
                let due = startedStreaming + UInt64(Double(index + 1) * behavior.delayPerToken * 1e9)
                let now = Self.monotonicNanoseconds()
                if due > now { usleep(useconds_t((due - now) / 1000)) }
            }
            guard writer.chunk(wire.delta(piece, index: index, inputTokens: inputTokens, behavior: behavior)) else { return }
            if sendLog != nil {
                contentBytes += piece.utf8.count
                sends.append((contentBytes, Self.monotonicNanoseconds()))
            }
        }
        if behavior.dropAfter == pieces.count { writer.abort(); return }
        if behavior.errorAfter == pieces.count {
            _ = writer.chunk(wire.streamError(message: behavior.errorMessage))
            writer.finishChunked()
            return
        }
        for event in wire.toolCalls(behavior) + wire.closing(inputTokens: inputTokens, outputTokens: outputTokens, behavior: behavior) {
            guard writer.chunk(event) else { return }
        }
        writer.finishChunked()
    }

    private func replay(_ body: [UInt8], behavior: MockBehavior, writer: SocketWriter) {
        if behavior.status >= 300 || behavior.replayInOneWrite {
            writer.respond(status: behavior.status, contentType: behavior.replayContentType,
                           body: String(decoding: body, as: UTF8.self), headers: behavior.headers)
            return
        }
        guard writer.startChunked(contentType: behavior.replayContentType, headers: behavior.headers) else { return }
        var offset = 0
        while offset < body.count {
            let end = min(body.count, offset + max(1, behavior.replayChunkSize))
            guard writer.chunk(bytes: Array(body[offset..<end])) else { return }
            offset = end
        }
        writer.finishChunked()
    }

    private func respondToListing(_ request: MockRequest, behavior: MockBehavior, writer: SocketWriter) {
        let route = request.path.split(separator: "?").first.map(String.init) ?? request.path
        if behavior.status >= 400 {
            let format: MockWireFormat = route.hasSuffix("/api/tags") ? .ollama
                : route.contains("/v1beta/") ? .gemini : request.header("x-api-key") != nil ? .anthropic : .openai
            writer.respond(status: behavior.status, contentType: "application/json",
                           body: MockWire(format: format, model: "").errorBody(status: behavior.status, message: behavior.errorMessage),
                           headers: behavior.headers)
            return
        }
        let body: String
        if route.hasSuffix("/api/tags") {
            body = #"{"models":[{"name":"mock:latest","model":"mock:latest","size":1}]}"#
        } else if route.hasSuffix("/v1beta/models") {
            body = #"{"models":[{"name":"models/mock-pro"},{"name":"models/mock-flash"}]}"#
        } else if route.hasSuffix("/models") {
            body = #"{"object":"list","data":[{"id":"mock-large","object":"model"},{"id":"mock-small","object":"model"}]}"#
        } else {
            writer.respond(status: 404, contentType: "application/json", body: #"{"error":"no such route"}"#)
            return
        }
        writer.respond(status: 200, contentType: "application/json", body: body, headers: behavior.headers)
    }

    private func readRequest(_ connection: Int32) -> MockRequest? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            let count = recv(connection, &chunk, chunk.count, 0)
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
            headerEnd = Self.find(separator, in: buffer)
        }
        guard let headerEnd else { return nil }
        let headText = String(decoding: buffer[0..<headerEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let length = headers.last(where: { $0.name.lowercased() == "content-length" }).flatMap { Int($0.value) } ?? 0
        var body = Array(buffer[(headerEnd + 4)...])
        while body.count < length {
            let count = recv(connection, &chunk, min(chunk.count, length - body.count), 0)
            guard count > 0 else { return nil }
            body.append(contentsOf: chunk[0..<count])
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - startedAt) / 1_000_000_000
        return MockRequest(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
                           body: body, receivedAt: elapsed)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    /// The answer the mock writes when it is given no text: `count` deltas, each a word and a space.
    public static func generatedDeltas(_ count: Int) -> [String] {
        let words = ["Consider", "the", "evidence", "before", "the", "claim;", "weigh", "each", "cost", "against",
                     "its", "benefit,", "then", "decide", "what", "follows."]
        return (0..<count).map { index in
            let round = index / words.count
            return words[index % words.count] + (round > 0 ? "\(round)" : "") + " "
        }
    }

    static func split(_ text: String, every size: Int) -> [String] {
        var pieces: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if current.count >= max(1, size) {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}

public enum MockServerError: Error, CustomStringConvertible {
    case socket(Int32)

    public var description: String {
        switch self {
        case .socket(let code): return "mock server socket error: \(String(cString: strerror(code)))"
        }
    }
}

/// Writes an HTTP/1.1 response to a socket; every method reports whether the peer is still there.
private struct SocketWriter {
    let fd: Int32

    func respond(status: Int, contentType: String, body: String, headers: [String: String] = [:]) {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        _ = write(head + "\r\n" + body)
    }

    func startChunked(contentType: String, headers: [String: String]) -> Bool {
        var head = "HTTP/1.1 200 OK\r\nContent-Type: \(contentType)\r\nTransfer-Encoding: chunked\r\n"
        head += "Cache-Control: no-cache\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        return write(head + "\r\n")
    }

    func chunk(_ payload: String) -> Bool {
        chunk(bytes: Array(payload.utf8))
    }

    /// One HTTP chunk; the bytes may end inside a multi-byte character, as real servers' do.
    func chunk(bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return true }
        return write(Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10])
    }

    func finishChunked() { _ = write("0\r\n\r\n") }

    /// Drops the connection mid-body, as a crashed upstream or a broken proxy would.
    func abort() { shutdown(fd, Int32(SHUT_RDWR)) }

    private func write(_ text: String) -> Bool {
        write(Array(text.utf8))
    }

    private func write(_ payload: [UInt8]) -> Bool {
        var bytes = payload
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 {
                if sent < 0, errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 307: return "Temporary Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 529: return "Overloaded"
        default: return "Status"
        }
    }
}

extension MockServer {
    /// CLOCK_MONOTONIC, which every process on the machine shares, so another process can compare.
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// A file of `model bytes nanoseconds` lines: after each delta of a stream was written, the
/// stream's content bytes so far and the CLOCK_MONOTONIC time. A stream's lines are appended when it
/// ends, so logging never delays a token.
public final class MockSendLog: Sendable {
    private let path: String
    /// Held while a stream's lines are appended, so that the lines of two streams never mix.
    private let appending = Mutex(())

    public struct CannotCreate: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "cannot create the send log \(path)" }
    }

    public init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CannotCreate(path: path) }
    }

    func record(model: String, sends: [(bytes: Int, at: UInt64)]) {
        let lines = sends.map { "\(model) \($0.bytes) \($0.at)\n" }.joined()
        appending.withLock { _ in
            guard let handle = FileHandle(forWritingAtPath: path) else { return }
            handle.seekToEndOfFile()
            handle.write(Data(lines.utf8))
            handle.closeFile()
        }
    }
}
