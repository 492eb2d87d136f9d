import Foundation

/// What happened in one attempt at one turn, however it ended.
public struct TurnOutcome: Sendable, Equatable {
    /// The answer text received, complete or partial.
    public var text: String
    public var reasoning: String
    /// Usage as the provider reported it; empty when it reported none.
    public var reportedUsage: Usage
    public var finish: FinishReason?
    public var error: ProviderError?
    /// HTTP status of the response, when one arrived.
    public var httpStatus: Int?
    public var responseHeaders: HTTPHeaders
    /// Seconds from sending the request to the first answer or reasoning token.
    public var timeToFirstToken: Double?
    public var duration: Double
    /// What the model said in refusing, apart from the answer; empty when it did not refuse.
    public var refusal = ""
    /// The tools the model called, with their whole arguments.
    public var toolCalls: [ToolCall] = []
}

/// Runs one request through transport, decoder and adapter, and accumulates the outcome.
public struct TurnRunner: Sendable {
    public var transport: CurlTransport
    public var timeouts: TransportTimeouts
    public var limits: StreamLimits

    /// Bytes of a non-stream body kept to read an error from it.
    static let errorBodyLimit = 1 << 20

    public init(transport: CurlTransport = .shared, timeouts: TransportTimeouts = TransportTimeouts(),
                limits: StreamLimits = StreamLimits()) {
        self.transport = transport
        self.timeouts = timeouts
        self.limits = limits
    }

    /// Runs the request, telling `onEvent` of answer text, reasoning and usage as they stream
    /// (deltas of one read come as one); the ending is in the outcome. While `pace` is held,
    /// reading waits, and the transfer pauses once its buffer is full.
    public func run(_ request: ChatRequest, endpoint: ProviderEndpoint, pace: ReadPace? = nil,
                    onEvent: @Sendable (StreamEvent) -> Void = { _ in }) async -> TurnOutcome {
        let adapter = Adapters.adapter(for: endpoint.type)
        let httpRequest = adapter.makeRequest(request, endpoint: endpoint)
        let started = MonotonicClock.now
        var accumulator = StreamAccumulator(adapter: adapter, started: started, limits: limits,
                                            answerTool: request.responseFormat?.name)
        var head: HTTPResponseHead?
        var errorBody: [UInt8] = []

        // Read on the transfer thread, which runs this loop right after the pass that brought the
        // bytes (see `TransferThreadExecutor`); the caller's task continues on its own executor.
        await withTaskExecutorPreference(transport.readers) {
            do {
                let response = transport.stream(httpRequest, timeouts: timeouts)
                reading: for try await part in response {
                    switch part {
                    case .head(let received):
                        head = received
                    case .body(let bytes):
                        guard let head, (200..<300).contains(head.status) else {
                            errorBody.append(contentsOf: bytes.prefix(Self.errorBodyLimit - errorBody.count))
                            if errorBody.count >= Self.errorBodyLimit { break reading }
                            continue
                        }
                        // After a failure inside the stream, reading goes on only to collect usage
                        // that some providers send after the error.
                        accumulator.feed(bytes, onEvent: onEvent)
                        if accumulator.hasFirstToken { response.markFirstToken() }
                        // A server that sends a byte now and then, but never a whole event, is silent.
                        if let silence = accumulator.silence(now: MonotonicClock.now, timeouts: timeouts) {
                            accumulator.stop(ProviderError(kind: .timeout, message: silence))
                        }
                        // Leaving the loop ends the transfer.
                        if accumulator.mustStop { break reading }
                        if let pace, pace.isHeld {
                            await pace.wait()
                            // The wait was the reader's, not the server's silence.
                            accumulator.excusePause(now: MonotonicClock.now)
                        }
                    }
                }
                if Task.isCancelled {
                    accumulator.fail(ProviderError.stoppedByUser)
                } else if let head, !(200..<300).contains(head.status) {
                    accumulator.fail(ProviderErrorParser.fromHTTP(status: head.status, headers: head.headers, body: errorBody))
                } else if !accumulator.mustStop {
                    accumulator.finishStream(onEvent: onEvent)
                }
            } catch let error as TransportError {
                accumulator.flushPending(onEvent: onEvent)
                accumulator.fail(Self.providerError(from: error))
            } catch {
                accumulator.fail(ProviderError(kind: .network, message: String(describing: error)))
            }
        }

        var outcome = accumulator.outcome(duration: MonotonicClock.seconds(from: started))
        outcome.httpStatus = head?.status
        outcome.responseHeaders = head?.headers ?? HTTPHeaders()
        if var failure = outcome.error, failure.status == nil, let status = head?.status {
            failure.status = status
            if let wait = head?.headers.retryAfterSeconds(), failure.retryAfter == nil { failure.retryAfter = wait }
            outcome.error = failure
        }
        return outcome
    }

    static func providerError(from error: TransportError) -> ProviderError {
        switch error.kind {
        case .cancelled: return ProviderError.stoppedByUser
        case .timeout: return ProviderError(kind: .timeout, message: error.message)
        case .network:
            return ProviderError(kind: .network, message: NetworkDiagnosis.explain(curlCode: error.curlCode, detail: error.message))
        }
    }
}

/// How much of a response Persona holds: a hostile server could send one endless line.
public struct StreamLimits: Sendable, Equatable {
    /// The most bytes one line or event may hold.
    public var eventBytes: Int
    /// The most bytes of answer and reasoning text one response may hold.
    public var answerBytes: Int

    public init(eventMiB: Int = 16) {
        eventBytes = eventMiB << 20
        answerBytes = eventBytes * 4
    }
}

/// Folds decoded stream events into text, usage and an ending.
struct StreamAccumulator {
    let adapter: any ProviderAdapter
    let started: UInt64
    let limits: StreamLimits
    /// The tool whose input is the answer (Anthropic's way to a schema): its arguments stream as text.
    let answerTool: String?
    private var sse: SSEDecoder
    private var ndjson: NDJSONDecoder
    private var text = ""
    private var reasoning = ""
    private var refusal = ""
    private var usage = Usage()
    private var finish: FinishReason?
    private(set) var failure: ProviderError?
    private var firstToken: Double?
    private var sawEvent = false
    private var eventCount = 0
    /// When `silence` last saw new events, on the uptime clock, and how many there were then.
    private var lastEventAt: UInt64
    private var eventsAtLastCheck = 0
    /// True once reading must stop: the response broke a limit or went silent.
    private(set) var mustStop = false
    /// The start of a body that held no events, in case it is a plain JSON error with status 200.
    private var undecodedBody: [UInt8] = []
    /// Answer text decoded from the current read and not yet reported. A read that carried twenty
    /// events is reported as one delta, so the engine and the screen handle it once, not twenty times.
    private var unsentDelta = ""
    /// What the adapter made of the current event; one array kept for the whole stream.
    private var decoded: [StreamEvent] = []
    private var toolCalls: [ToolCallDelta] = []
    private var answerToolIndex: Int?

    init(adapter: any ProviderAdapter, started: UInt64, limits: StreamLimits = StreamLimits(), answerTool: String? = nil) {
        self.adapter = adapter
        self.started = started
        self.limits = limits
        self.answerTool = answerTool
        lastEventAt = started
        sse = SSEDecoder(limit: limits.eventBytes)
        ndjson = NDJSONDecoder(limit: limits.eventBytes)
    }

    /// The reader paused (`ReadPace`) until `now`: that wait is not the server's silence.
    mutating func excusePause(now: UInt64) {
        lastEventAt = now
    }

    /// Why the stream counts as silent at `now`, if it does: no complete event for the idle limit
    /// (before the first, for the first-byte limit). Called once a reading pass, so the clock is
    /// read once a pass rather than once an event.
    mutating func silence(now: UInt64, timeouts: TransportTimeouts) -> String? {
        if eventCount > eventsAtLastCheck {
            eventsAtLastCheck = eventCount
            lastEventAt = now
            return nil
        }
        let allowance = sawEvent ? timeouts.idle : timeouts.firstByte
        guard now > lastEventAt, Double(now - lastEventAt) / 1e9 > allowance else { return nil }
        let seconds = CurlTransport.formatSeconds(allowance)
        return sawEvent ? "no complete event from the server for \(seconds) s, only stray bytes (timeouts.stream_idle)"
            : "no complete event from the server within \(seconds) s (the first-byte limit: 4 × timeouts.stream_idle)"
    }

    mutating func feed(_ bytes: [UInt8], onEvent: (StreamEvent) -> Void) {
        if !sawEvent, undecodedBody.count < TurnRunner.errorBodyLimit { undecodedBody.append(contentsOf: bytes) }
        switch adapter.framing {
        case .serverSentEvents:
            // Taken out while it lends its events, since applying them changes the accumulator.
            var decoder = SSEDecoder(limit: 0)
            swap(&decoder, &sse)
            bytes.withUnsafeBufferPointer { buffer in decoder.feed(buffer) { apply($0, onEvent: onEvent) } }
            swap(&decoder, &sse)
        case .newlineDelimitedJSON:
            for line in ndjson.feed(bytes) { apply(SSEEvent(data: line), onEvent: onEvent) }
        }
        sendDelta(onEvent)
        if sse.exceededLimit || ndjson.exceededLimit {
            stop(ProviderError(kind: .badResponse, message: "the provider sent a line or event of more than "
                + "\(limits.eventBytes >> 20) MiB (limits.event_mib); the answer was cut there"))
        } else if text.utf8.count + reasoning.utf8.count > limits.answerBytes {
            stop(ProviderError(kind: .badResponse, message: "the provider sent more than \(limits.answerBytes >> 20) MiB of text "
                + "(4 × limits.event_mib); the answer was cut there"))
        }
    }

    /// Fails the stream and stops reading it.
    mutating func stop(_ error: ProviderError) {
        fail(error)
        mustStop = true
    }

    /// Delivers whatever the decoders still hold, at the end of the body or when it broke off.
    mutating func flushPending(onEvent: (StreamEvent) -> Void) {
        guard failure == nil else { return }
        switch adapter.framing {
        case .serverSentEvents:
            for event in sse.finish() { apply(event, onEvent: onEvent) }
        case .newlineDelimitedJSON:
            for line in ndjson.finish() { apply(SSEEvent(data: line), onEvent: onEvent) }
        }
        sendDelta(onEvent)
    }

    mutating func finishStream(onEvent: (StreamEvent) -> Void) {
        flushPending(onEvent: onEvent)
        guard failure == nil, finish == nil else { return }
        if !sawEvent, let json = try? JSON.parse(undecodedBody),
           let error = ProviderErrorParser.fromErrorObject(json, status: nil) {
            failure = error
        } else if !sawEvent {
            failure = ProviderError(kind: .server, message: "the provider closed the response without sending any event")
        } else {
            failure = ProviderError(kind: .network, message: "the stream ended before the model finished its answer")
        }
    }

    mutating func fail(_ error: ProviderError) {
        if failure == nil { failure = error }
    }

    private mutating func apply(_ event: SSEEvent, onEvent: (StreamEvent) -> Void) {
        sawEvent = true
        eventCount += 1
        undecodedBody = []
        decoded.removeAll(keepingCapacity: true)
        adapter.decode(event, into: &decoded)
        for streamEvent in decoded {
            if failure != nil {
                if case .usage(let reported) = streamEvent { usage = usage.merged(with: reported) }
                continue
            }
            switch streamEvent {
            case .delta(let piece):
                markFirstToken()
                text += piece
                unsentDelta += piece
            case .reasoning(let piece):
                markFirstToken()
                sendDelta(onEvent)
                reasoning += piece
                onEvent(.reasoning(piece))
            case .refusal(let piece):
                markFirstToken()
                refusal += piece
            case .toolCall(let piece):
                markFirstToken()
                collect(piece)
            case .usage(let reported):
                usage = usage.merged(with: reported)
                sendDelta(onEvent)
                onEvent(.usage(usage))
            case .finish(let reason):
                finish = reason
            case .failure(let error):
                failure = error
            }
        }
    }

    private mutating func collect(_ piece: ToolCallDelta) {
        if answerToolIndex == nil, let answerTool, piece.name == answerTool { answerToolIndex = piece.index }
        if let index = piece.index, index == answerToolIndex {
            text += piece.arguments
            unsentDelta += piece.arguments
        } else if let index = piece.index, let known = toolCalls.firstIndex(where: { $0.index == index }) {
            toolCalls[known].arguments += piece.arguments
            toolCalls[known].id = toolCalls[known].id ?? piece.id
            toolCalls[known].name = toolCalls[known].name ?? piece.name
        } else {
            toolCalls.append(piece)
        }
    }

    private mutating func sendDelta(_ onEvent: (StreamEvent) -> Void) {
        guard !unsentDelta.isEmpty else { return }
        onEvent(.delta(unsentDelta))
        unsentDelta = ""
    }

    var hasFirstToken: Bool { firstToken != nil }

    private mutating func markFirstToken() {
        if firstToken == nil { firstToken = MonotonicClock.seconds(from: started) }
    }

    func outcome(duration: Double) -> TurnOutcome {
        var ending = finish
        // The answer given through its tool ends the answer, not a step of a tool loop.
        if answerToolIndex != nil, let raw = finish?.raw, finish?.kind == .toolCalls { ending = FinishReason(kind: .stop, raw: raw) }
        // Arguments that are not JSON stay as their text, for the tool loop to send back as an error.
        let calls = toolCalls.enumerated().map { position, call in
            // A model may echo a key it was shown; it is hidden before the call is shown or stored.
            let text = Secrets.redact(call.arguments).trimmingCharacters(in: .whitespacesAndNewlines)
            let arguments = text.isEmpty ? JSON.object([:]) : (try? JSON.parse(text)) ?? .string(text)
            return ToolCall(id: call.id.flatMap { $0.isEmpty ? nil : $0 } ?? "call_\(position + 1)", name: call.name ?? "", arguments: arguments)
        }
        return TurnOutcome(text: text, reasoning: reasoning, reportedUsage: usage, finish: ending, error: failure,
                           httpStatus: nil, responseHeaders: HTTPHeaders(), timeToFirstToken: firstToken, duration: duration,
                           refusal: refusal, toolCalls: calls)
    }
}

extension TurnRunner {
    /// Reads a response body as `run` reads one from the network, arriving in chunks of the given
    /// sizes (cycled): the same decoders, adapter and limits, with no network. For replaying
    /// recorded responses and for fuzzing.
    public static func replay(_ body: [UInt8], chunkSizes: [Int], type: ProviderType, limits: StreamLimits = StreamLimits(),
                              answerTool: String? = nil) -> TurnOutcome {
        var accumulator = StreamAccumulator(adapter: Adapters.adapter(for: type), started: MonotonicClock.now,
                                            limits: limits, answerTool: answerTool)
        var offset = 0
        var chunk = 0
        while offset < body.count, !accumulator.mustStop {
            let size = max(1, chunkSizes.isEmpty ? body.count : chunkSizes[chunk % chunkSizes.count])
            let end = min(body.count, offset + size)
            accumulator.feed(Array(body[offset..<end])) { _ in }
            offset = end
            chunk += 1
        }
        accumulator.finishStream { _ in }
        return accumulator.outcome(duration: 0)
    }
}
