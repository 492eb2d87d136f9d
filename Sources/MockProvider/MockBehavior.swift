import Foundation

/// What the mock does with one request: which text it streams, how fast, and which fault it injects.
public struct MockBehavior: Sendable, Equatable {
    /// The answer. When nil, the mock writes `tokens` words of its own.
    public var text: String?
    /// The text is a refusal: OpenAI streams it as `delta.refusal`, Anthropic ends with
    /// `stop_reason: refusal`; the other formats have no word for it.
    public var refusal = false
    /// Tools the model calls after its text, in the wire format's own way.
    public var toolCalls: [MockToolCall] = []
    /// How many deltas the generated answer has (ignored when `text` is set).
    public var tokens: Int
    /// How many characters each delta carries when `text` is set.
    public var chunkSize: Int
    /// Pause between deltas, in seconds ("slow drip").
    public var delayPerToken: Double
    /// How a council review is answered (a request that shows answers fenced with a nonce); other
    /// requests are answered as usual. See `MockCouncil`.
    public var verdict: MockCouncil.Style?
    /// Pause before the first delta, in seconds: a server reading a long prompt, or one with a
    /// queue of requests ahead of this one.
    public var firstTokenDelay: Double = 0
    /// Answer with this status and a provider-shaped error body instead of a stream.
    public var status: Int
    public var errorMessage: String
    /// Extra response headers, such as `Retry-After`.
    public var headers: [String: String]
    /// Close the connection without finishing, after this many deltas.
    public var dropAfter: Int?
    /// Go silent for `stallSeconds` after this many deltas.
    public var stallAfter: Int?
    public var stallSeconds: Double
    /// After this many deltas, write the rest of the stream one byte every `dripSeconds`: never
    /// silent, never a whole event.
    public var dripAfter: Int?
    public var dripSeconds: Double
    /// Send a payload that is not valid JSON after this many deltas.
    public var malformedAfter: Int?
    /// Send the provider's in-stream error event after this many deltas.
    public var errorAfter: Int?
    /// Reported usage; nil fields are derived from the request and the answer. Any value goes,
    /// a negative or absurd one included, as a hostile provider would send it.
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var cachedInputTokens: Int
    public var cacheWriteTokens: Int
    public var reasoningTokens: Int
    /// Leave usage out of the stream, as llama.cpp's server does.
    public var omitUsage: Bool
    /// Send these bytes as the body, exactly, instead of a generated answer: a recorded response.
    public var replayBody: [UInt8]?
    public var replayContentType: String
    /// Size of the chunks a replayed stream is written in.
    public var replayChunkSize: Int
    /// Write the replayed body with its head in one write, with a Content-Length: a server that
    /// buffers its answer, whose first token lands with its head.
    public var replayInOneWrite = false

    public init(text: String? = nil, tokens: Int = 24, chunkSize: Int = 4, delayPerToken: Double = 0,
                status: Int = 200, errorMessage: String = "mock failure", headers: [String: String] = [:],
                dropAfter: Int? = nil, stallAfter: Int? = nil, stallSeconds: Double = 5,
                dripAfter: Int? = nil, dripSeconds: Double = 1, malformedAfter: Int? = nil,
                errorAfter: Int? = nil, inputTokens: Int? = nil, outputTokens: Int? = nil, cachedInputTokens: Int = 0,
                cacheWriteTokens: Int = 0,
                reasoningTokens: Int = 0, omitUsage: Bool = false, replayBody: [UInt8]? = nil,
                replayContentType: String = "text/event-stream", replayChunkSize: Int = 97) {
        self.text = text
        self.tokens = tokens
        self.chunkSize = chunkSize
        self.delayPerToken = delayPerToken
        self.status = status
        self.errorMessage = errorMessage
        self.headers = headers
        self.dropAfter = dropAfter
        self.stallAfter = stallAfter
        self.stallSeconds = stallSeconds
        self.dripAfter = dripAfter
        self.dripSeconds = dripSeconds
        self.malformedAfter = malformedAfter
        self.errorAfter = errorAfter
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.reasoningTokens = reasoningTokens
        self.omitUsage = omitUsage
        self.replayBody = replayBody
        self.replayContentType = replayContentType
        self.replayChunkSize = replayChunkSize
    }

    /// Reads directives from a model name, so that a process outside the tests (the tmux tests, the
    /// benchmarks) can script faults: `mock+tokens=50+ttft=1+delay=0.02+status=429+retry_after=1+drop=10`,
    /// an answer, percent-encoded: `mock+text=Hello%2C%20world`, a council reviewer: `mock+verdict=shown`,
    /// or usage a provider should never report: `mock+output=-1000000000`.
    /// Words before the first `+` are the model's name and carry no directive.
    public static func fromModelName(_ model: String, defaults: MockBehavior = MockBehavior()) -> MockBehavior {
        var behavior = defaults
        for directive in model.split(separator: "+").dropFirst() {
            let parts = directive.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0]
            let value = parts.count > 1 ? parts[1] : ""
            switch key {
            case "tokens": behavior.tokens = Int(value) ?? behavior.tokens
            case "delay": behavior.delayPerToken = Double(value) ?? behavior.delayPerToken
            case "ttft": behavior.firstTokenDelay = Double(value) ?? behavior.firstTokenDelay
            case "verdict": behavior.verdict = MockCouncil.Style(rawValue: value)
            case "text": behavior.text = value.removingPercentEncoding ?? value
            case "status": behavior.status = Int(value) ?? behavior.status
            case "retry_after": behavior.headers["Retry-After"] = value
            case "drop": behavior.dropAfter = Int(value)
            case "stall": behavior.stallAfter = Int(value)
            case "stall_seconds": behavior.stallSeconds = Double(value) ?? behavior.stallSeconds
            case "drip": behavior.dripAfter = Int(value)
            case "malformed": behavior.malformedAfter = Int(value)
            case "error": behavior.errorAfter = Int(value)
            case "input": behavior.inputTokens = Int(value)
            case "output": behavior.outputTokens = Int(value)
            case "cached": behavior.cachedInputTokens = Int(value) ?? 0
            case "cache_write": behavior.cacheWriteTokens = Int(value) ?? 0
            case "reasoning": behavior.reasoningTokens = Int(value) ?? 0
            case "no_usage": behavior.omitUsage = true
            default: break
            }
        }
        return behavior
    }
}

/// A tool call the mock's model makes: its arguments as JSON text.
public struct MockToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// One request as the mock received it, for tests to inspect.
public struct MockRequest: Sendable {
    public var method: String
    public var path: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Seconds since the server started.
    public var receivedAt: Double

    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.last(where: { $0.name.lowercased() == lowered })?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The wire format the path asks for.
    public var format: MockWireFormat? {
        let route = path.split(separator: "?").first.map(String.init) ?? path
        if route.hasSuffix("/chat/completions") { return .openai }
        if route.hasSuffix("/v1/messages") { return .anthropic }
        if route.contains(":streamGenerateContent") { return .gemini }
        if route.hasSuffix("/api/chat") { return .ollama }
        return nil
    }

    /// The tool an Anthropic request obliges the model to call (`tool_choice: {type: "tool"}`):
    /// the mock then answers through it, as Claude does.
    public var forcedTool: String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let choice = object["tool_choice"] as? [String: Any], choice["type"] as? String == "tool" else { return nil }
        return choice["name"] as? String
    }

    /// The `model` the request names (from the body, or Gemini's path).
    public var model: String {
        if format == .gemini, let start = path.range(of: "/models/"), let end = path.range(of: ":streamGenerateContent") {
            return String(path[start.upperBound..<end.lowerBound]).removingPercentEncoding ?? ""
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return "" }
        return object["model"] as? String ?? ""
    }
}

public enum MockWireFormat: String, Sendable, CaseIterable {
    case openai
    case anthropic
    case gemini
    case ollama
}
