import Foundation

/// A batch API call that failed: the provider refused it, or could not be reached.
public struct BatchCallError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// Worth trying again later (a 429, a 5xx, the network); otherwise the part fails.
    public var retryable: Bool
    public var retryAfter: Double?

    public init(message: String, retryable: Bool, retryAfter: Double? = nil) {
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}

/// What a provider says about one of its batches.
public struct ProviderBatchStatus: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        case running
        case ended
        /// Refused at validation, or failed whole; its requests errored.
        case failed
        case expired
        case cancelled
    }

    public var phase: Phase
    /// The provider's own word: `in_progress`, `BATCH_STATE_RUNNING`, …
    public var providerState: String
    public var done = 0
    public var failed = 0
    public var outputFileID: String?
    public var errorFileID: String?
    public var resultsURL: String?
    /// Why a batch failed, with the provider's line errors.
    public var problem: String?

    public var isFinal: Bool { phase != .running }
}

/// One line of a batch's input: a request and the id its result comes back under.
public struct BatchInputLine: Sendable {
    public var customID: String
    /// The provider's request body (no streaming), as JSON text.
    public var body: String
}

/// Talks to one provider's batch API (DESIGN.md §13): OpenAI files and batches, Anthropic
/// message batches, Gemini batch mode. Every call carries the key in a header only.
public struct BatchClient: Sendable {
    public var endpoint: ProviderEndpoint
    public var api: BatchAPI
    public var transport: CurlTransport
    public var timeouts: TransportTimeouts

    public init(endpoint: ProviderEndpoint, api: BatchAPI, transport: CurlTransport = .shared,
                timeouts: TransportTimeouts = TransportTimeouts(connect: 10, idle: 120, total: 1800)) {
        self.endpoint = endpoint
        self.api = api
        self.transport = transport
        self.timeouts = timeouts
    }

    // MARK: Request bodies

    /// The body a streaming request would carry, without its streaming fields: a batch line's request.
    public static func body(for request: ChatRequest, endpoint: ProviderEndpoint) -> String {
        let http = Adapters.adapter(for: endpoint.type).makeRequest(request, endpoint: endpoint)
        guard var object = (try? JSON.parse(http.body))?.object else { return http.bodyText }
        object["stream"] = nil
        object["stream_options"] = nil
        return JSON.object(object).serialized
    }

    /// The JSONL of OpenAI's input file.
    static func openAIInputFile(_ lines: [BatchInputLine]) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in lines {
            bytes += Array(#"{"custom_id":"#.utf8) + JSON.string(line.customID).serializedBytes
            bytes += Array(#","method":"POST","url":"/v1/chat/completions","body":"#.utf8) + Array(line.body.utf8) + [UInt8(ascii: "}"), 10]
        }
        return bytes
    }

    /// A file's bytes in a batch, as each provider's size limit counts them.
    public static func lineSize(_ line: BatchInputLine) -> Int { line.body.utf8.count + line.customID.utf8.count + 96 }

    // MARK: Calls

    private func headers(json: Bool = true) -> HTTPHeaders {
        var headers = HTTPHeaders([("Accept", "application/json")])
        if json { headers.add("Content-Type", "application/json") }
        endpoint.addAccessHeaders(to: &headers)
        return headers
    }

    private func call(_ method: String, _ url: String, body: [UInt8] = [], headers custom: HTTPHeaders? = nil) async throws -> HTTPReply {
        let request = HTTPRequest(method: method, url: url, headers: custom ?? headers(json: !body.isEmpty), body: body)
        let reply: HTTPReply
        do {
            reply = try await transport.exchange(request, timeouts: timeouts)
        } catch let error as TransportError {
            throw BatchCallError(message: "\(endpoint.name) could not be reached: \(error.message)", retryable: error.kind != .cancelled)
        }
        guard reply.isSuccess else {
            let error = ProviderErrorParser.fromHTTP(status: reply.status, headers: reply.headers, body: reply.body)
            let message: String
            switch error.kind {
            case .auth:
                message = "\(endpoint.name) refused the key in \(endpoint.apiKeyEnv) (HTTP \(reply.status)): \(error.message)"
            default:
                message = "\(endpoint.name) answered HTTP \(reply.status): \(error.message)"
            }
            throw BatchCallError(message: Secrets.redact(message), retryable: error.retryable, retryAfter: error.retryAfter)
        }
        return reply
    }

    private func json(_ reply: HTTPReply) throws -> JSON {
        do { return try JSON.parse(reply.body) } catch {
            throw BatchCallError(message: "\(endpoint.name) answered with malformed JSON: \(error)", retryable: true)
        }
    }

    /// Uploads OpenAI's input file, named after the part so that an uncertain upload can be found.
    public func upload(part: String, lines: [BatchInputLine]) async throws -> String {
        let boundary = "persona-" + UUID().uuidString
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(part).jsonl\"\r\n".utf8)
        body += Array("Content-Type: application/jsonl\r\n\r\n".utf8) + Self.openAIInputFile(lines) + Array("\r\n--\(boundary)--\r\n".utf8)
        var headers = headers(json: false)
        headers.add("Content-Type", "multipart/form-data; boundary=\(boundary)")
        let reply = try await call("POST", endpoint.url("/files"), body: body, headers: headers)
        guard let id = try json(reply)["id"]?.string else { throw BatchCallError(message: "the upload's answer has no file id", retryable: false) }
        return id
    }

    /// An input file uploaded for `part` before a crash could record it.
    public func findUpload(part: String) async throws -> String? {
        let reply = try await call("GET", endpoint.url("/files?purpose=batch&limit=10000&order=desc"))
        return try json(reply)["data"]?.array?.first { $0["filename"]?.string == "\(part).jsonl" }?["id"]?.string
    }

    /// Creates the provider's batch and returns its id. Not idempotent: the part is recorded as
    /// `creating` first.
    public func create(part: String, job: String, model: String, fileID: String?, lines: [BatchInputLine]) async throws -> String {
        switch api {
        case .openai:
            let body = JSON.object([
                "input_file_id": .string(fileID ?? ""), "endpoint": .string("/v1/chat/completions"), "completion_window": .string("24h"),
                "metadata": .object(["persona_job": .string(job), "persona_part": .string(part)]),
            ])
            let reply = try await call("POST", endpoint.url("/batches"), body: body.serializedBytes)
            return try id(reply, "id")
        case .anthropic:
            var body = Array(#"{"requests":["#.utf8)
            for (index, line) in lines.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body += Array(#"{"custom_id":"#.utf8) + JSON.string(line.customID).serializedBytes + Array(#","params":"#.utf8)
                body += Array(line.body.utf8) + [UInt8(ascii: "}")]
            }
            body += Array("]}".utf8)
            let reply = try await call("POST", endpoint.url("/v1/messages/batches"), body: body)
            return try id(reply, "id")
        case .gemini:
            var body = Array(#"{"batch":{"display_name":"#.utf8) + JSON.string(part).serializedBytes
            body += Array(#","input_config":{"requests":{"requests":["#.utf8)
            for (index, line) in lines.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body += Array(#"{"request":"#.utf8) + Array(line.body.utf8) + Array(#","metadata":{"key":"#.utf8)
                body += JSON.string(line.customID).serializedBytes + Array("}}".utf8)
            }
            body += Array("]}}}}".utf8)
            let reply = try await call("POST", endpoint.url("/v1beta/models/\(Self.geminiModel(model)):batchGenerateContent"), body: body)
            return try id(reply, "name")
        case .live:
            throw BatchCallError(message: "a live part has no provider batch", retryable: false)
        }
    }

    private func id(_ reply: HTTPReply, _ field: String) throws -> String {
        guard let id = try json(reply)[field]?.string, !id.isEmpty else {
            throw BatchCallError(message: "\(endpoint.name) created a batch but gave no id", retryable: false)
        }
        return id
    }

    static func geminiModel(_ model: String) -> String { model.hasPrefix("models/") ? String(model.dropFirst(7)) : model }

    /// Looks for the batch of `part` that a crash kept from being recorded: by metadata on
    /// OpenAI, by display name on Gemini, and on Anthropic, which keeps neither, among the
    /// batches created since `since` with the part's number of requests.
    public func find(part: String, requests: Int, since: Date) async throws -> String? {
        switch api {
        case .openai:
            let reply = try await call("GET", endpoint.url("/batches?limit=100"))
            return try json(reply)["data"]?.array?.first { $0["metadata"]?["persona_part"]?.string == part }?["id"]?.string
        case .anthropic:
            let reply = try await call("GET", endpoint.url("/v1/messages/batches?limit=100"))
            let earliest = since.addingTimeInterval(-60)
            return try json(reply)["data"]?.array?.first { batch in
                guard let created = batch["created_at"]?.string.flatMap(Self.parseTime), created >= earliest else { return false }
                let counts = batch["request_counts"]
                let total = ["processing", "succeeded", "errored", "canceled", "expired"].reduce(0) { $0 + (counts?[$1]?.int ?? 0) }
                return total == requests
            }?["id"]?.string
        case .gemini:
            let reply = try await call("GET", endpoint.url("/v1beta/batches?pageSize=100"))
            let list = try json(reply)
            return (list["operations"]?.array ?? list["batches"]?.array ?? []).first { operation in
                let batch = operation["metadata"] ?? operation
                return batch["displayName"]?.string == part || batch["display_name"]?.string == part
            }?["name"]?.string
        case .live:
            return nil
        }
    }

    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    public func status(batchID: String) async throws -> ProviderBatchStatus {
        switch api {
        case .openai:
            return Self.openAIStatus(try json(try await call("GET", endpoint.url("/batches/\(batchID)"))))
        case .anthropic:
            return Self.anthropicStatus(try json(try await call("GET", endpoint.url("/v1/messages/batches/\(batchID)"))))
        case .gemini:
            return Self.geminiStatus(try json(try await call("GET", endpoint.url("/v1beta/\(batchID)"))))
        case .live:
            throw BatchCallError(message: "a live part has no provider batch", retryable: false)
        }
    }

    static func openAIStatus(_ batch: JSON) -> ProviderBatchStatus {
        let state = batch["status"]?.string ?? "unknown"
        let phase: ProviderBatchStatus.Phase
        switch state {
        case "completed": phase = .ended
        case "failed": phase = .failed
        case "expired": phase = .expired
        case "cancelled": phase = .cancelled
        default: phase = .running
        }
        var status = ProviderBatchStatus(phase: phase, providerState: state, done: batch["request_counts"]?["completed"]?.int ?? 0,
                                         failed: batch["request_counts"]?["failed"]?.int ?? 0)
        status.outputFileID = batch["output_file_id"]?.string
        status.errorFileID = batch["error_file_id"]?.string
        let errors = (batch["errors"]?["data"]?.array ?? []).map { error in
            (error["line"]?.int.map { "line \($0): " } ?? "") + (error["message"]?.string ?? error["code"]?.string ?? "an error")
        }
        if !errors.isEmpty { status.problem = errors.prefix(20).joined(separator: "; ") }
        return status
    }

    static func anthropicStatus(_ batch: JSON) -> ProviderBatchStatus {
        let state = batch["processing_status"]?.string ?? "unknown"
        let counts = batch["request_counts"]
        var status = ProviderBatchStatus(phase: state == "ended" ? .ended : .running, providerState: state,
                                         done: counts?["succeeded"]?.int ?? 0,
                                         failed: ["errored", "canceled", "expired"].reduce(0) { $0 + (counts?[$1]?.int ?? 0) })
        status.resultsURL = batch["results_url"]?.string
        return status
    }

    /// Gemini's operation: its state under `metadata` (or the batch itself), `BATCH_STATE_*` or
    /// `JOB_STATE_*`, and counts that may come as strings.
    static func geminiStatus(_ operation: JSON) -> ProviderBatchStatus {
        let batch = operation["metadata"] ?? operation
        let state = batch["state"]?.string ?? operation["state"]?.string ?? "unknown"
        let phase: ProviderBatchStatus.Phase
        switch state.replacingOccurrences(of: "JOB_STATE_", with: "BATCH_STATE_") {
        case "BATCH_STATE_SUCCEEDED": phase = .ended
        case "BATCH_STATE_FAILED": phase = .failed
        case "BATCH_STATE_CANCELLED": phase = .cancelled
        case "BATCH_STATE_EXPIRED": phase = .expired
        default: phase = operation["done"]?.bool == true ? .ended : .running
        }
        func count(_ name: String) -> Int { batch["batchStats"]?[name]?.int ?? batch["batchStats"]?[name]?.string.flatMap { Int($0) } ?? 0 }
        var status = ProviderBatchStatus(phase: phase, providerState: state, done: count("successfulRequestCount"),
                                         failed: count("failedRequestCount"))
        if let error = operation["error"]?["message"]?.string { status.problem = error }
        return status
    }

    /// Every result line of an ended batch, raw: OpenAI's output and error files, Anthropic's
    /// results file, or Gemini's inline responses (one body, read by `BatchResults`).
    public func download(_ part: BatchPart) async throws -> [[UInt8]] {
        switch api {
        case .openai:
            var files: [[UInt8]] = []
            for id in [part.outputFileID, part.errorFileID].compactMap({ $0 }) {
                files.append(try await call("GET", endpoint.url("/files/\(id)/content")).body)
            }
            return files
        case .anthropic:
            guard let url = part.resultsURL else { throw BatchCallError(message: "the ended batch has no results_url", retryable: true) }
            // The key goes only to the provider's own host.
            guard Self.origin(url) == Self.origin(endpoint.baseURL) else {
                throw BatchCallError(message: "the results_url \(url) is not on \(endpoint.baseURL); Persona sends the key nowhere else",
                                     retryable: false)
            }
            return [try await call("GET", url).body]
        case .gemini:
            return [try await call("GET", endpoint.url("/v1beta/\(part.batchID ?? "")")).body]
        case .live:
            return []
        }
    }

    static func origin(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return nil }
        return "\(scheme)://\(host.lowercased()):\(components.port ?? (scheme == "https" ? 443 : 80))"
    }

    public func cancel(batchID: String) async throws {
        switch api {
        case .openai: _ = try await call("POST", endpoint.url("/batches/\(batchID)/cancel"))
        case .anthropic: _ = try await call("POST", endpoint.url("/v1/messages/batches/\(batchID)/cancel"))
        case .gemini: _ = try await call("POST", endpoint.url("/v1beta/\(batchID):cancel"))
        case .live: break
        }
    }
}
