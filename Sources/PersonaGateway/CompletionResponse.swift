import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PersonaKit
import Synchronization

/// How a reply is written: OpenAI's chat completion (`/v1`), or the seed API's `generate`,
/// `generate/stream` and `chat` (`/api/v1`), each with its own error shape.
enum ReplyFormat: Sendable {
    case openAI(includeUsage: Bool)
    case generate
    case chat

    var seed: Bool {
        if case .openAI = self { return false }
        return true
    }

    func error(_ error: GatewayError, requestID: String, provider: String? = nil) -> Response {
        GatewayServer.failure(error, requestID: requestID, seed: seed, provider: provider)
    }
}

/// One turn in flight for an HTTP reply: the engine runs it on a task of its own, and its events
/// come through a stream to the response. A turn that fails before it says anything gets an
/// error status; once text flows, the response is a 200 that streams (or, without `stream`,
/// one JSON body at the end). A client that goes away stops the turn, and the engine records
/// what it cost, marked as an estimate where the provider's usage never came.
struct TurnResponse: Sendable {
    let turn: PlannedTurn
    let stream: Bool
    let format: ReplyFormat
    let engine: ConversationEngine
    let requestID: String
    /// The connection's event loop, where a streamed body runs (`EventLoopExecutor`).
    let eventLoop: any EventLoop

    /// Tokens that arrive within this long of the last write go out together in the next: one
    /// write, and one wake of the server's event loop, for several of them. The first goes at once.
    static let coalescing: Duration = .milliseconds(10)

    /// The upstream streams are read at the same interval: reading them more often would wake the
    /// transfer thread for tokens that then wait for the write anyway. While a stream waits for
    /// its first token, the passes come every millisecond, so that it waits for no write.
    static let readingCadence = Cadence(seconds: Double(coalescing.components.seconds) + Double(coalescing.components.attoseconds) / 1e18)
    static let firstTokenCadence = Cadence(seconds: 0.001)

    func response() async -> Response {
        let events = TurnEvents(engine: engine, turn: turn)
        let started = Date()
        // Wait for the first text, or the end: until then the status can still say what went wrong.
        var early: [TurnEvent] = []
        var first: TurnEvent?
        while first == nil {
            let batch = await events.nextBatch()
            if batch.isEmpty { break }
            early += batch
            first = batch.first { if case .delta = $0.kind { return true }; return Self.ending($0) != nil }
        }
        guard let last = first else {
            return format.error(GatewayError(500, "the turn ended without a word"), requestID: requestID)
        }
        if case .failed(let error, let report) = last.kind, report.text.isEmpty {
            return format.error(GatewayError(error), requestID: requestID, provider: last.turn.model.provider)
        }
        guard stream else {
            var ended = early.last(where: { Self.ending($0) != nil })
            while ended == nil {
                let batch = await events.nextBatch()
                if batch.isEmpty { break }
                ended = batch.last(where: { Self.ending($0) != nil })
            }
            let final = ended.flatMap(Self.ending) ?? .notSent()
            let turnID = ended?.turn ?? last.turn
            var headers = await GatewayServer.answerHeaders(turnID.model, requestID: requestID, health: engine.health)
            headers[HTTPField.Name("X-Request-Cost")!] = SeedWire.cost(final.costPicos, estimated: final.estimated)
            let latency = Int(Date().timeIntervalSince(started) * 1000)
            let text: String
            switch format {
            case .openAI: text = OpenAIWire.completion(id: "chatcmpl-" + requestID, created: Int(started.timeIntervalSince1970),
                                                       model: turnID.model.description, report: final)
            case .generate: text = SeedWire.generated(final, turn: turnID, latencyMs: latency)
            case .chat: text = SeedWire.chat(final, turn: turnID, latencyMs: latency)
            }
            return GatewayServer.json(200, text, headers: headers)
        }
        var headers = await GatewayServer.answerHeaders(last.turn.model, requestID: requestID, health: engine.health)
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        // A stream's cost is known only at its end: it follows the body as a trailer.
        headers[HTTPField.Name("Trailer")!] = "X-Request-Cost"
        let chunks = StreamChunks(format: format, id: "chatcmpl-" + requestID, created: Int(started.timeIntervalSince1970),
                                  model: last.turn.model.description)
        let pending = early
        let executor = EventLoopExecutor(eventLoop)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await withTaskExecutorPreference(executor) {
            var chunks = chunks
            var batch = pending
            let clock = ContinuousClock()
            var lastWrite: ContinuousClock.Instant?
            var final: TurnReport?
            do {
                while !batch.isEmpty {
                    // The transfer thread's passes bring a batch about every interval already; a
                    // batch that comes a little early goes out, rather than waking a timer for it.
                    if let lastWrite, clock.now - lastWrite < Self.coalescing / 2 {
                        try await Task.sleep(until: lastWrite + Self.coalescing, clock: clock)
                        batch += events.take() ?? []
                    }
                    var text = ""
                    var ended = false
                    for event in batch where !ended {
                        let (encoded, end) = chunks.encode(event)
                        text += encoded
                        ended = end
                        final = Self.ending(event) ?? final
                    }
                    if !text.isEmpty {
                        try await writer.write(ByteBuffer(string: text))
                        lastWrite = clock.now
                    }
                    if ended { break }
                    batch = await events.nextBatch()
                }
                try await writer.finish(final.map { [HTTPField.Name("X-Request-Cost")!: SeedWire.cost($0.costPicos, estimated: $0.estimated)] })
            } catch {
                // The client went away: stop the upstream request, and wait until its row is written.
                await events.stop()
                throw error
            }
        } })
    }

    static func ending(_ event: TurnEvent) -> TurnReport? {
        switch event.kind {
        case .done(let report), .failed(_, let report): return report
        default: return nil
        }
    }
}

/// A stream's events as server-sent events in the reply's format: OpenAI's chunks, or the
/// seed's `{"delta", "index"}`; both end with `[DONE]`.
struct StreamChunks: Sendable {
    let format: ReplyFormat
    let id: String
    let created: Int
    let model: String
    private var index = 0

    init(format: ReplyFormat, id: String, created: Int, model: String) {
        self.format = format
        self.id = id
        self.created = created
        self.model = model
    }

    /// The text for `event`, and whether it ends the stream.
    mutating func encode(_ event: TurnEvent) -> (String, Bool) {
        switch event.kind {
        case .delta(let text):
            defer { index += 1 }
            guard case .openAI = format else {
                return ("data: " + JSON.object(["delta": .string(text), "index": .int(index)]).serialized + "\n\n", false)
            }
            var delta: [JSONObject.Member] = []
            if index == 0 { delta.append(.init(key: "role", value: .string("assistant"))) }
            delta.append(.init(key: "content", value: .string(text)))
            return (OpenAIWire.chunk(id: id, created: created, model: model, delta: .object(JSONObject(delta))), false)
        case .done(let report), .failed(_, let report):
            var tail = ""
            if case .openAI(let includeUsage) = format {
                tail = OpenAIWire.chunk(id: id, created: created, model: model, delta: .object([:]), finish: OpenAIWire.finishReason(report.finishReason))
                if includeUsage { tail += OpenAIWire.usageChunk(id: id, created: created, model: model, report: report) }
            }
            return (tail + "data: [DONE]\n\n", true)
        default:
            return ("", false)
        }
    }
}

/// A turn running on its own task, its events queued for one reader at a time: the handler until
/// the response begins, then the response's body.
///
/// A client that reads slower than the model writes holds the turn back: past `backlogLimit`
/// bytes of text unread, the turn's `ReadPace` is held, so it stops reading its response, the
/// transfer pauses and the provider waits on TCP, until the client has taken what is queued.
final class TurnEvents: Sendable {
    static let backlogLimit = 256 << 10

    private struct Queue {
        var events: [TurnEvent] = []
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Bytes of text queued and not yet taken.
        var backlog = 0
    }

    /// The queue, shared with the turn's task, which may outlive this object.
    private final class Shared: Sendable {
        let queue = Mutex(Queue())
    }

    private let shared = Shared()
    private let task: Task<Void, Never>
    let pace = ReadPace()

    init(engine: ConversationEngine, turn: PlannedTurn) {
        let shared = shared
        let pace = pace
        var turn = turn
        turn.pace = pace
        task = Task {
            await engine.run(turn) { event in
                // Held and released under the queue's lock, so that the pace is held only while
                // something waits to be taken.
                let waiter = shared.queue.withLock { queue in
                    queue.events.append(event)
                    if case .delta(let text) = event.kind { queue.backlog += text.utf8.count }
                    if queue.backlog > Self.backlogLimit { pace.hold() }
                    defer { queue.waiter = nil }
                    return queue.waiter
                }
                waiter?.resume()
            }
            let waiter = shared.queue.withLock { queue in
                queue.finished = true
                defer { queue.waiter = nil }
                return queue.waiter
            }
            waiter?.resume()
        }
    }

    /// Every event queued, waiting for one when none is; empty once the turn has ended.
    func nextBatch() async -> [TurnEvent] {
        while true {
            if let taken = take() { return taken }
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let ready = shared.queue.withLock { queue in
                    if queue.events.isEmpty, !queue.finished {
                        queue.waiter = waiter
                        return false
                    }
                    return true
                }
                if ready { waiter.resume() }
            }
        }
    }

    /// The events queued now, without waiting: nil when none is and the turn goes on.
    func take() -> [TurnEvent]? {
        shared.queue.withLock { queue in
            guard !queue.events.isEmpty else { return queue.finished ? [] : nil }
            defer {
                queue.events.removeAll(keepingCapacity: true)
                queue.backlog = 0
                pace.release()
            }
            return queue.events
        }
    }

    /// Cancels the turn and waits for it to record how it ended.
    func stop() async {
        task.cancel()
        await task.value
    }

    deinit { task.cancel() }
}
