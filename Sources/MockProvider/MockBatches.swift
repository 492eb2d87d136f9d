import Foundation
import Synchronization

/// The three batch APIs, as the mock speaks them: OpenAI files and batches, Anthropic message
/// batches and Gemini batch mode. A batch moves through its states on a clock the test sets
/// (`advance(by:)`), or on the wall clock (`realTime`): validating for a second, in progress
/// until the third, then ended. Its results come back shuffled, so that a client matching by
/// position fails. Each request's answer follows its model name's directives (`+status=500`
/// errors it, `+input=-5` reports hostile usage, `+batch_fail_once` errors a request the first
/// time only), a model with `+batch_expire` makes its batch expire with only its first half
/// done, and one with `+batch_invalid` has OpenAI refuse its file at validation.
public final class MockBatches: Sendable {
    /// Where the clock reads from.
    public enum Clock: Sendable {
        /// Seconds the test has advanced it by.
        case manual
        /// Seconds since the mock started.
        case realTime
    }

    struct Request {
        var customID: String
        var model: String
        var body: [String: Any]
        /// Decided when the batch is created: its model says `+status=…`, or `+batch_fail_once`
        /// and this custom id has not failed before.
        var fails = false
    }

    struct Batch {
        var id: String
        var kind: MockWireFormat
        var created: Double
        var requests: [Request]
        var metadata: [String: Any] = [:]
        var inputFileID: String?
        var displayName: String?
        var model: String
        var failure: [[String: Any]]?
        var cancelledAt: Double?
        var seed: UInt64
    }

    struct File {
        var id: String
        var filename: String
        var purpose: String
        var content: [UInt8]
    }

    private struct State: @unchecked Sendable {
        var manualTime = 0.0
        var batches: [String: Batch] = [:]
        var order: [String] = []
        var files: [String: File] = [:]
        var fileOrder: [String] = []
        var counter = 0
        var holds: [String: Double] = [:]
        var failedOnce: Set<String> = []
    }

    private let state = Mutex(State())
    private let clock: Clock
    /// When the mock started; a manual clock's seconds count from it.
    private let started = Date()

    public init(clock: Clock = .manual) {
        self.clock = clock
    }

    /// Moves the manual clock on.
    public func advance(by seconds: Double) { state.withLock { $0.manualTime += seconds } }

    /// Makes the mock do the work of a call kind (`upload`, `create`), then wait `seconds`
    /// before answering: a client killed meanwhile has had its call made but not answered.
    public func hold(_ call: String, seconds: Double) { state.withLock { $0.holds[call] = seconds } }

    private func now(_ state: State) -> Double {
        clock == .manual ? state.manualTime : Date().timeIntervalSince(started)
    }

    /// Custom ids of every request in every batch created, in creation order.
    public var submittedCustomIDs: [String] {
        state.withLock { state in state.order.flatMap { state.batches[$0]!.requests.map(\.customID) } }
    }

    /// How many batches were created.
    public var batchCount: Int { state.withLock { $0.order.count } }

    /// How many files were uploaded.
    public var uploadCount: Int { state.withLock { $0.fileOrder.count } }

    struct Response {
        var status = 200
        var body: String
        var contentType = "application/json"
        /// The call kind, for `hold`.
        var call: String?
    }

    /// Whether `path` is one of the batch APIs' routes.
    static func isBatchRoute(_ path: String) -> Bool {
        let route = path.split(separator: "?").first.map(String.init) ?? path
        return route.hasSuffix("/v1/files") || route.contains("/v1/files/") || route.contains("/v1/batches")
            || route.contains("/v1/messages/batches") || route.contains(":batchGenerateContent") || route.contains("/v1beta/batches")
    }

    /// Answers a batch API request, or nil when the route is not one.
    func handle(_ request: MockRequest, baseURL: String) -> Response? {
        let route = request.path.split(separator: "?").first.map(String.init) ?? request.path
        let response = state.withLock { state -> Response? in
            respond(request, route: route, baseURL: baseURL, state: &state)
        }
        if let call = response?.call, let seconds = state.withLock({ $0.holds[call] }) { Thread.sleep(forTimeInterval: seconds) }
        return response
    }

    private func respond(_ request: MockRequest, route: String, baseURL: String, state: inout State) -> Response? {
        let post = request.method == "POST"
        if route.hasSuffix("/v1/files"), post { return upload(request, state: &state) }
        if route.hasSuffix("/v1/files"), !post { return listFiles(state) }
        if let id = capture(route, #"/v1/files/([^/]+)/content$"#) {
            if let file = state.files[id] {
                return Response(body: String(decoding: file.content, as: UTF8.self), contentType: "application/jsonl")
            }
            return openAIFile(id, state: state).map { Response(body: $0, contentType: "application/jsonl") } ?? notFound()
        }
        if route.hasSuffix("/v1/batches"), post { return createOpenAI(request, state: &state) }
        if route.hasSuffix("/v1/batches") { return list(.openai, state: state, baseURL: baseURL) }
        if let id = capture(route, #"/v1/batches/([^/]+)/cancel$"#) { return cancel(id, state: &state, baseURL: baseURL) }
        if let id = capture(route, #"/v1/batches/([^/]+)$"#) { return show(id, state: state, baseURL: baseURL) }
        if route.hasSuffix("/v1/messages/batches"), post { return createAnthropic(request, state: &state, baseURL: baseURL) }
        if route.hasSuffix("/v1/messages/batches") { return list(.anthropic, state: state, baseURL: baseURL) }
        if let id = capture(route, #"/v1/messages/batches/([^/]+)/cancel$"#) { return cancel(id, state: &state, baseURL: baseURL) }
        if let id = capture(route, #"/v1/messages/batches/([^/]+)/results$"#) { return results(id, state: state) }
        if let id = capture(route, #"/v1/messages/batches/([^/]+)$"#) { return show(id, state: state, baseURL: baseURL) }
        if let model = capture(route, #"/v1beta/models/([^/:]+):batchGenerateContent$"#) {
            return createGemini(request, model: model, state: &state, baseURL: baseURL)
        }
        if route.hasSuffix("/v1beta/batches") { return list(.gemini, state: state, baseURL: baseURL) }
        if let id = capture(route, #"/v1beta/batches/([^/:]+):cancel$"#) { return cancel("batches/" + id, state: &state, baseURL: baseURL) }
        if let id = capture(route, #"/v1beta/batches/([^/:]+)$"#) { return show("batches/" + id, state: state, baseURL: baseURL) }
        return nil
    }

    private func capture(_ text: String, _ pattern: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), match.numberOfRanges > 1,
              let range = Range(match.range(at: 1), in: text) else { return nil }
        return String(text[range])
    }

    private func notFound() -> Response {
        Response(status: 404, body: json(["error": ["message": "no such batch or file", "type": "not_found_error"]]))
    }

    private func badRequest(_ message: String) -> Response {
        Response(status: 400, body: json(["type": "error", "error": ["type": "invalid_request_error", "message": message]]))
    }

    private func json(_ object: Any) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private func nextID(_ prefix: String, state: inout State) -> String {
        state.counter += 1
        return "\(prefix)\(state.counter)"
    }

    // MARK: OpenAI

    private func upload(_ request: MockRequest, state: inout State) -> Response {
        guard let boundary = request.header("content-type")?.components(separatedBy: "boundary=").last else {
            return badRequest("expected multipart/form-data")
        }
        var filename = "upload.jsonl"
        var purpose = ""
        var content: [UInt8] = []
        let delimiter = Array("--\(boundary)".utf8)
        for section in split(request.body, by: delimiter) {
            guard let headerEnd = find([13, 10, 13, 10], in: section) else { continue }
            let head = String(decoding: section[..<headerEnd], as: UTF8.self)
            var value = Array(section[(headerEnd + 4)...])
            if value.suffix(2) == [13, 10] { value.removeLast(2) }
            if head.contains("name=\"purpose\"") { purpose = String(decoding: value, as: UTF8.self) }
            if head.contains("name=\"file\"") {
                content = value
                if let name = capture(head, #"filename="([^"]+)""#) { filename = name }
            }
        }
        guard purpose == "batch" else { return badRequest("purpose must be batch") }
        let id = nextID("file-", state: &state)
        state.files[id] = File(id: id, filename: filename, purpose: purpose, content: content)
        state.fileOrder.append(id)
        var response = Response(body: json(["id": id, "object": "file", "bytes": content.count, "filename": filename, "purpose": purpose]))
        response.call = "upload"
        return response
    }

    private func listFiles(_ state: State) -> Response {
        let files = state.fileOrder.reversed().map { id -> [String: Any] in
            let file = state.files[id]!
            return ["id": id, "object": "file", "filename": file.filename, "purpose": file.purpose, "bytes": file.content.count]
        }
        return Response(body: json(["object": "list", "data": files]))
    }

    private func createOpenAI(_ request: MockRequest, state: inout State) -> Response {
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
              let fileID = body["input_file_id"] as? String, let file = state.files[fileID] else {
            return badRequest("input_file_id names no uploaded file")
        }
        guard body["endpoint"] as? String == "/v1/chat/completions", body["completion_window"] as? String == "24h" else {
            return badRequest("endpoint must be /v1/chat/completions and completion_window 24h")
        }
        var requests: [Request] = []
        var errors: [[String: Any]] = []
        var seen: Set<String> = []
        for (index, line) in String(decoding: file.content, as: UTF8.self).split(separator: "\n").enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let customID = object["custom_id"] as? String, object["method"] as? String == "POST",
                  object["url"] as? String == "/v1/chat/completions", let requestBody = object["body"] as? [String: Any] else {
                errors.append(["code": "invalid_request", "line": index + 1, "message": "each line needs custom_id, method, url and body"])
                continue
            }
            if !seen.insert(customID).inserted {
                errors.append(["code": "duplicate_custom_id", "line": index + 1, "message": "custom_id \(customID) is used twice"])
            }
            if requestBody["stream"] != nil { errors.append(["code": "invalid_request", "line": index + 1, "message": "stream is not allowed"]) }
            if (requestBody["model"] as? String ?? "").contains("+batch_invalid") {
                errors.append(["code": "invalid_request", "line": index + 1, "message": "the mock refuses this line"])
            }
            requests.append(Request(customID: customID, model: requestBody["model"] as? String ?? "", body: requestBody))
        }
        requests = decideFailures(requests, state: &state)
        let models = Set(requests.map(\.model))
        if models.count > 1 { errors.append(["code": "mixed_models", "line": 1, "message": "a batch file holds one model"]) }
        let id = nextID("batch_", state: &state)
        var batch = Batch(id: id, kind: .openai, created: now(state), requests: requests, metadata: body["metadata"] as? [String: Any] ?? [:],
                          inputFileID: fileID, model: requests.first?.model ?? "", seed: UInt64(state.counter))
        if !errors.isEmpty { batch.failure = errors }
        state.batches[id] = batch
        state.order.append(id)
        var response = Response(body: json(describe(batch, state: state, baseURL: "")))
        response.call = "create"
        return response
    }

    // MARK: Anthropic

    private func createAnthropic(_ request: MockRequest, state: inout State, baseURL: String) -> Response {
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
              let items = body["requests"] as? [[String: Any]], !items.isEmpty else { return badRequest("requests: must be a non-empty list") }
        var requests: [Request] = []
        var seen: Set<String> = []
        for item in items {
            guard let customID = item["custom_id"] as? String,
                  customID.range(of: #"^[a-zA-Z0-9_-]{1,64}$"#, options: .regularExpression) != nil else {
                return badRequest("requests.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$")
            }
            guard seen.insert(customID).inserted else { return badRequest("requests: custom_id \(customID) is used twice") }
            guard let params = item["params"] as? [String: Any], params["max_tokens"] != nil, params["stream"] == nil else {
                return badRequest("requests.params: needs max_tokens and no stream")
            }
            requests.append(Request(customID: customID, model: params["model"] as? String ?? "", body: params))
        }
        requests = decideFailures(requests, state: &state)
        let id = nextID("msgbatch_", state: &state)
        let batch = Batch(id: id, kind: .anthropic, created: now(state), requests: requests, model: requests[0].model, seed: UInt64(state.counter))
        state.batches[id] = batch
        state.order.append(id)
        var response = Response(body: json(describe(batch, state: state, baseURL: baseURL)))
        response.call = "create"
        return response
    }

    // MARK: Gemini

    private func createGemini(_ request: MockRequest, model: String, state: inout State, baseURL: String) -> Response {
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
              let batch = body["batch"] as? [String: Any], let name = batch["display_name"] as? String,
              let items = ((batch["input_config"] as? [String: Any])?["requests"] as? [String: Any])?["requests"] as? [[String: Any]] else {
            return badRequest("batch.display_name and batch.input_config.requests.requests are required")
        }
        guard request.body.count < 20 << 20 else { return badRequest("inline requests must be under 20 MB") }
        var requests: [Request] = []
        for item in items {
            guard let key = (item["metadata"] as? [String: Any])?["key"] as? String, let inner = item["request"] as? [String: Any] else {
                return badRequest("each request needs request and metadata.key")
            }
            requests.append(Request(customID: key, model: model, body: inner))
        }
        requests = decideFailures(requests, state: &state)
        let id = "batches/" + nextID("b", state: &state)
        let created = Batch(id: id, kind: .gemini, created: now(state), requests: requests, displayName: name, model: model,
                            seed: UInt64(state.counter))
        state.batches[id] = created
        state.order.append(id)
        var response = Response(body: json(describe(created, state: state, baseURL: baseURL)))
        response.call = "create"
        return response
    }

    // MARK: Progress

    private enum Phase {
        case validating
        case running(done: Int)
        case finalizing
        case ended
        case failed
        case expired(done: Int)
        case cancelled(done: Int)
    }

    private func expires(_ batch: Batch) -> Bool { batch.model.contains("+batch_expire") }

    private func phase(_ batch: Batch, at time: Double) -> Phase {
        if batch.failure != nil { return time - batch.created >= 1 ? .failed : .validating }
        let count = batch.requests.count
        func doneBy(_ moment: Double) -> Int { min(count, max(0, Int(Double(count) * (moment - batch.created - 1) / 2))) }
        if let cancelled = batch.cancelledAt { return .cancelled(done: doneBy(cancelled)) }
        let age = time - batch.created
        if age < 1 { return .validating }
        if age < 3 { return .running(done: doneBy(time)) }
        if expires(batch) { return .expired(done: count / 2) }
        if age < 3.5 { return .finalizing }
        return .ended
    }

    /// The requests with a result, in the shuffled order results come back in, and those without.
    private func outcome(_ batch: Batch, at time: Double) -> (done: [Request], undone: [Request]) {
        var generator = SplitMix(seed: batch.seed)
        let shuffled = batch.requests.shuffled(using: &generator)
        let count: Int
        switch phase(batch, at: time) {
        case .ended: count = batch.requests.count
        case .expired(let done), .cancelled(let done), .running(let done): count = done
        default: count = 0
        }
        // The first `count` in input order are done; results come back shuffled.
        let doneIDs = Set(batch.requests.prefix(count).map(\.customID))
        return (shuffled.filter { doneIDs.contains($0.customID) }, shuffled.filter { !doneIDs.contains($0.customID) })
    }

    private func describe(_ batch: Batch, state: State, baseURL: String) -> [String: Any] {
        let time = now(state)
        let phase = phase(batch, at: time)
        let total = batch.requests.count
        let (done, undone) = outcome(batch, at: time)
        let failedCount = done.filter(\.fails).count
        let created = started.addingTimeInterval(batch.created)
        let iso = ISO8601DateFormatter().string(from: created)
        switch batch.kind {
        case .openai:
            var status: String
            switch phase {
            case .validating: status = "validating"
            case .running: status = "in_progress"
            case .finalizing: status = "finalizing"
            case .ended: status = "completed"
            case .failed: status = "failed"
            case .expired: status = "expired"
            case .cancelled: status = "cancelled"
            }
            var object: [String: Any] = [
                "id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": batch.inputFileID ?? "",
                "completion_window": "24h", "status": status, "created_at": Int(created.timeIntervalSince1970), "metadata": batch.metadata,
                "request_counts": ["total": total, "completed": done.count - failedCount, "failed": failedCount + (status == "expired" ? undone.count : 0)],
                "output_file_id": NSNull(), "error_file_id": NSNull(), "errors": NSNull(),
            ]
            if case .failed = phase { object["errors"] = ["object": "list", "data": batch.failure ?? []] }
            if ["completed", "expired", "cancelled"].contains(status) {
                object["output_file_id"] = "\(batch.id)-output"
                object["error_file_id"] = "\(batch.id)-errors"
            }
            return object
        case .anthropic:
            let ended: Bool
            switch phase {
            case .ended, .expired, .cancelled: ended = true
            default: ended = false
            }
            var counts = ["processing": ended ? 0 : total - done.count, "succeeded": done.count - failedCount, "errored": failedCount,
                          "canceled": 0, "expired": 0]
            if case .expired = phase { counts["expired"] = undone.count }
            if case .cancelled = phase { counts["canceled"] = undone.count }
            var object: [String: Any] = [
                "id": batch.id, "type": "message_batch", "created_at": iso, "request_counts": counts, "results_url": NSNull(),
                "processing_status": ended ? "ended" : batch.cancelledAt != nil ? "canceling" : "in_progress",
            ]
            if ended { object["results_url"] = "\(baseURL)/v1/messages/batches/\(batch.id)/results" }
            return object
        case .gemini:
            var state: String
            switch phase {
            case .validating: state = "BATCH_STATE_PENDING"
            case .running, .finalizing: state = "BATCH_STATE_RUNNING"
            case .ended: state = "BATCH_STATE_SUCCEEDED"
            case .failed: state = "BATCH_STATE_FAILED"
            case .expired: state = "BATCH_STATE_EXPIRED"
            case .cancelled: state = "BATCH_STATE_CANCELLED"
            }
            let metadata: [String: Any] = [
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch", "name": batch.id,
                "displayName": batch.displayName ?? "", "model": "models/\(batch.model)", "state": state, "createTime": iso,
                "batchStats": ["requestCount": String(total), "successfulRequestCount": String(done.count - failedCount),
                               "failedRequestCount": String(failedCount), "pendingRequestCount": String(total - done.count)],
            ]
            var operation: [String: Any] = ["name": batch.id, "metadata": metadata, "done": false]
            if ["BATCH_STATE_SUCCEEDED", "BATCH_STATE_EXPIRED", "BATCH_STATE_CANCELLED"].contains(state) {
                operation["done"] = true
                operation["response"] = [
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
                    "inlinedResponses": ["inlinedResponses": done.map { request -> [String: Any] in
                        if request.fails {
                            return ["metadata": ["key": request.customID], "error": ["code": 500, "message": errorMessage(request)]]
                        }
                        return ["metadata": ["key": request.customID], "response": answer(request, format: .gemini)]
                    }],
                ]
            }
            return operation
        case .ollama:
            return [:]
        }
    }

    private func show(_ id: String, state: State, baseURL: String) -> Response {
        guard let batch = state.batches[id] else { return notFound() }
        return Response(body: json(describe(batch, state: state, baseURL: baseURL)))
    }

    private func list(_ kind: MockWireFormat, state: State, baseURL: String) -> Response {
        let matching: [Batch] = state.order.reversed().compactMap { state.batches[$0] }.filter { $0.kind == kind }
        let batches: [[String: Any]] = matching.map { describe($0, state: state, baseURL: baseURL) }
        let body: [String: Any] = kind == .gemini ? ["operations": batches] : ["data": batches, "has_more": false]
        return Response(body: json(body))
    }

    private func cancel(_ id: String, state: inout State, baseURL: String) -> Response {
        guard var batch = state.batches[id] else { return notFound() }
        if batch.cancelledAt == nil { batch.cancelledAt = now(state) }
        state.batches[id] = batch
        return Response(body: json(describe(batch, state: state, baseURL: baseURL)))
    }

    private func behavior(_ request: Request) -> MockBehavior { MockBehavior.fromModelName(request.model) }

    private func decideFailures(_ requests: [Request], state: inout State) -> [Request] {
        requests.map { request in
            var decided = request
            let failsOnce = request.model.contains("+batch_fail_once") && state.failedOnce.insert(request.customID).inserted
            decided.fails = behavior(request).status >= 300 || failsOnce
            return decided
        }
    }

    private func errorMessage(_ request: Request) -> String {
        let behavior = behavior(request)
        return behavior.status >= 300 ? behavior.errorMessage : "the mock failed this request once"
    }

    /// What the model answers: its scripted text, or the prompt's last message echoed, so a test
    /// can tell that each answer reached its own prompt.
    private func answerText(_ request: Request, behavior: MockBehavior) -> String {
        if let text = behavior.text { return text }
        let prompt: String
        if let messages = request.body["messages"] as? [[String: Any]], let last = messages.last {
            prompt = last["content"] as? String ?? ((last["content"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.joined() ?? "")
        } else if let contents = request.body["contents"] as? [[String: Any]], let last = contents.last {
            prompt = (last["parts"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.joined() ?? ""
        } else {
            prompt = ""
        }
        return "Answer to: " + String(prompt.prefix(300))
    }

    private func answer(_ request: Request, format: MockWireFormat) -> [String: Any] {
        let behavior = behavior(request)
        let text = answerText(request, behavior: behavior)
        let input = behavior.inputTokens ?? max(1, ((try? JSONSerialization.data(withJSONObject: request.body))?.count ?? 4) / 4)
        let output = behavior.outputTokens ?? max(1, text.count / 4)
        switch format {
        case .openai:
            return ["id": "chatcmpl-\(request.customID)", "object": "chat.completion", "model": request.model,
                    "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
                    "usage": ["prompt_tokens": input, "completion_tokens": output, "total_tokens": input &+ output,
                              "prompt_tokens_details": ["cached_tokens": behavior.cachedInputTokens]]]
        case .anthropic:
            return ["id": "msg_\(request.customID)", "type": "message", "role": "assistant", "model": request.model,
                    "content": [["type": "text", "text": text]], "stop_reason": "end_turn",
                    "usage": ["input_tokens": input, "output_tokens": output, "cache_read_input_tokens": behavior.cachedInputTokens,
                              "cache_creation_input_tokens": behavior.cacheWriteTokens]]
        case .gemini, .ollama:
            var usage: [String: Any] = ["promptTokenCount": input, "candidatesTokenCount": output, "totalTokenCount": input &+ output]
            if behavior.cachedInputTokens > 0 { usage["cachedContentTokenCount"] = behavior.cachedInputTokens }
            return ["candidates": [["content": ["parts": [["text": text]], "role": "model"], "finishReason": "STOP"]],
                    "usageMetadata": usage, "modelVersion": request.model]
        }
    }

    /// Anthropic's results file, or OpenAI's output and error files.
    private func results(_ id: String, state: State) -> Response? {
        guard let batch = state.batches[id] else { return notFound() }
        let (done, undone) = outcome(batch, at: now(state))
        var lines: [String] = done.map { request in
            let result: [String: Any] = request.fails
                ? ["type": "errored", "error": ["type": "error", "error": ["type": "api_error", "message": errorMessage(request)]]]
                : ["type": "succeeded", "message": answer(request, format: .anthropic)]
            return json(["custom_id": request.customID, "result": result])
        }
        if case .expired = phase(batch, at: now(state)) {
            lines += undone.map { json(["custom_id": $0.customID, "result": ["type": "expired"]]) }
        } else if batch.cancelledAt != nil {
            lines += undone.map { json(["custom_id": $0.customID, "result": ["type": "canceled"]]) }
        }
        return Response(body: lines.map { $0 + "\n" }.joined(), contentType: "application/binary")
    }

    /// OpenAI's output file (`<batch>-output`) and error file (`<batch>-errors`), served as files.
    private func openAIFile(_ fileID: String, state: State) -> String? {
        do {
            for suffix in ["-output", "-errors"] where fileID.hasSuffix(suffix) {
                guard let batch = state.batches[String(fileID.dropLast(suffix.count))] else { return nil }
                let (done, undone) = outcome(batch, at: now(state))
                if suffix == "-output" {
                    return done.filter { !$0.fails }.map { request in
                        json(["id": "batch_req_\(request.customID)", "custom_id": request.customID, "error": NSNull(),
                              "response": ["status_code": 200, "request_id": "req_\(request.customID)", "body": answer(request, format: .openai)]]) + "\n"
                    }.joined()
                }
                var lines = done.filter(\.fails).map { request -> String in
                    json(["id": "batch_req_\(request.customID)", "custom_id": request.customID, "error": NSNull(),
                          "response": ["status_code": 500, "request_id": "req_\(request.customID)",
                                       "body": ["error": ["message": errorMessage(request), "type": "server_error"]]]]) + "\n"
                }
                if case .expired = phase(batch, at: now(state)) {
                    lines += undone.map {
                        json(["id": "batch_req_\($0.customID)", "custom_id": $0.customID, "response": NSNull(),
                              "error": ["code": "batch_expired", "message": "This request could not be executed before the completion window expired."]]) + "\n"
                    }
                }
                return lines.joined()
            }
            return nil
        }
    }

    private func split(_ bytes: [UInt8], by delimiter: [UInt8]) -> [[UInt8]] {
        var sections: [[UInt8]] = []
        var start = 0
        var index = 0
        while index + delimiter.count <= bytes.count {
            if bytes[index..<(index + delimiter.count)].elementsEqual(delimiter) {
                sections.append(Array(bytes[start..<index]))
                index += delimiter.count
                start = index
            } else {
                index += 1
            }
        }
        sections.append(Array(bytes[start...]))
        return sections
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

/// A seeded generator, so that one batch's results always come back in the same shuffled order.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
