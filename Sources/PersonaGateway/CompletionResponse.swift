import Foundation
import HTTPTypes
import Hummingbird
import PersonaKit

/// One chat completion in flight: the engine runs the turn on a task of its own, and its events
/// come through a stream to the response. A turn that fails before it says anything gets an
/// error status; once text flows, the response is a 200 that streams (or, without `stream`,
/// one JSON body at the end). A client that goes away stops the turn, and the engine records
/// what it cost, marked as an estimate where the provider's usage never came.
struct CompletionResponse: Sendable {
    let turn: PlannedTurn
    let body: ChatCompletionRequest
    let engine: ConversationEngine
    let requestID: String

    func response() async -> Response {
        let events = TurnEvents(engine: engine, turn: turn)
        let id = "chatcmpl-" + requestID
        let created = Int(Date().timeIntervalSince1970)
        // Wait for the first text, or the end: until then the status can still say what went wrong.
        var early: [TurnEvent] = []
        while let event = await events.next() {
            early.append(event)
            switch event.kind {
            case .delta: break
            case .done, .failed: break
            default: continue
            }
            break
        }
        guard let last = early.last else { return GatewayServer.failure(GatewayError(500, "the turn ended without a word"), requestID: requestID) }
        if case .failed(let error, let report) = last.kind, report.text.isEmpty {
            return GatewayServer.failure(GatewayError(ChatCompletions.status(of: error), error.description,
                                                      type: error.kind == .budget ? "insufficient_quota" : "upstream_error"),
                                         requestID: requestID)
        }
        var headers = Self.headers(last.turn, requestID: requestID)
        guard body.stream else {
            var report: TurnReport?
            var turnID = last.turn
            for event in early { if let ended = Self.ending(event) { report = ended } }
            while report == nil, let event = await events.next() {
                turnID = event.turn
                report = Self.ending(event)
            }
            let final = report ?? .notSent()
            headers = Self.headers(turnID, requestID: requestID)
            headers[HTTPField.Name("X-Request-Cost")!] = OpenAIWire.cost(final)
            return GatewayServer.json(200, OpenAIWire.completion(id: id, created: created, model: turnID.model.description, report: final),
                                      headers: headers)
        }
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let includeUsage = body.includeUsage
        let model = last.turn.model.description
        let pending = early
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var sentRole = false
            func send(_ event: TurnEvent, _ writer: inout any ResponseBodyWriter) async throws -> Bool {
                switch event.kind {
                case .delta(let text):
                    var delta: [String: JSON] = ["content": .string(text)]
                    if !sentRole { delta["role"] = .string("assistant") }
                    sentRole = true
                    try await writer.write(ByteBuffer(string: OpenAIWire.chunk(id: id, created: created, model: model,
                                                                               delta: .object(JSONObject(delta.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: $0.value) })))))
                    return false
                case .done(let report), .failed(_, let report):
                    var tail = OpenAIWire.chunk(id: id, created: created, model: model, delta: .object([:]),
                                                finish: OpenAIWire.finishReason(report.finishReason))
                    if includeUsage { tail += OpenAIWire.usageChunk(id: id, created: created, model: model, report: report) }
                    try await writer.write(ByteBuffer(string: tail + "data: [DONE]\n\n"))
                    return true
                default:
                    return false
                }
            }
            do {
                for event in pending where try await send(event, &writer) { return try await writer.finish(nil) }
                while let event = await events.next() {
                    if try await send(event, &writer) { return try await writer.finish(nil) }
                }
                try await writer.finish(nil)
            } catch {
                // The client went away: stop the upstream request, and wait until its row is written.
                await events.stop()
                throw error
            }
        })
    }

    static func ending(_ event: TurnEvent) -> TurnReport? {
        switch event.kind {
        case .done(let report), .failed(_, let report): return report
        default: return nil
        }
    }

    static func headers(_ turn: TurnID, requestID: String) -> HTTPFields {
        var headers: HTTPFields = [:]
        headers[GatewayServer.requestIDHeader] = requestID
        headers[HTTPField.Name("X-Provider-Used")!] = turn.model.provider
        headers[HTTPField.Name("X-Model-Used")!] = turn.model.model
        return headers
    }
}

/// A turn running on its own task, its events read in order. One reader at a time: the handler
/// until the response begins, then the response's body; hence unchecked.
final class TurnEvents: @unchecked Sendable {
    private let task: Task<Void, Never>
    private var iterator: AsyncStream<TurnEvent>.Iterator

    init(engine: ConversationEngine, turn: PlannedTurn) {
        let (stream, continuation) = AsyncStream.makeStream(of: TurnEvent.self)
        task = Task {
            await engine.run(turn) { continuation.yield($0) }
            continuation.finish()
        }
        iterator = stream.makeAsyncIterator()
    }

    func next() async -> TurnEvent? { await iterator.next() }

    /// Cancels the turn and waits for it to record how it ended.
    func stop() async {
        task.cancel()
        await task.value
    }

    deinit { task.cancel() }
}
