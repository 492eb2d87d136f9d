import Foundation
import Synchronization

/// Names a turn in events, with what its consumers need to know of it: who answers, in which
/// role and round, with which model at what price. Immutable, and shared by reference, so that a
/// delta carries one pointer through every layer. A failover names the same turn (same serial)
/// on its new model.
public final class TurnID: Sendable, Hashable, CustomStringConvertible {
    /// Unique among the turns of a process: events of a turn that was replaced are told apart.
    public let serial: Int
    public let personaID: String
    public let personaName: String
    public let role: TranscriptMessage.Role
    public let round: Int
    /// Older turns left out of the prompt to fit the model's context window.
    public let droppedTurns: Int
    /// The request's size by the local estimator, so input counters show before usage arrives.
    public let estimatedInputTokens: Int
    public let model: ModelRef
    public let providerType: ProviderType
    /// Nil when the model's price is unknown.
    public let price: ModelPrice?
    /// Names the answer in the ledger and the transcript across processes: every request the
    /// turn makes (retries, failovers, tool steps) is a ledger row under it, so that a vote on the
    /// answer finds what it cost.
    public let answer: String

    public init(serial: Int = TurnID.nextSerial(), personaID: String, personaName: String, role: TranscriptMessage.Role = .persona,
                round: Int = 1, droppedTurns: Int = 0, estimatedInputTokens: Int = 0, model: ModelRef,
                providerType: ProviderType = .openai, price: ModelPrice? = nil, answer: String = TurnID.randomAnswerID()) {
        self.serial = serial
        self.answer = answer
        self.personaID = personaID
        self.personaName = personaName
        self.role = role
        self.round = round
        self.droppedTurns = droppedTurns
        self.estimatedInputTokens = estimatedInputTokens
        self.model = model
        self.providerType = providerType
        self.price = price
    }

    /// The same turn, answered now by another model.
    public func failingOver(to model: ModelRef, providerType: ProviderType, price: ModelPrice?) -> TurnID {
        TurnID(serial: serial, personaID: personaID, personaName: personaName, role: role, round: round, droppedTurns: droppedTurns,
               estimatedInputTokens: estimatedInputTokens, model: model, providerType: providerType, price: price, answer: answer)
    }

    private static let counter = Mutex(0)

    /// A random version-4 UUID, lowercased. Foundation's `UUID()` opens, reads and closes
    /// /dev/urandom for each one, which a thousand turns at once feel; the system generator
    /// asks the kernel directly.
    public static func randomAnswerID() -> String {
        var generator = SystemRandomNumberGenerator()
        var halves = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &halves) { bytes in
            bytes[6] = bytes[6] & 0x0F | 0x40
            bytes[8] = bytes[8] & 0x3F | 0x80
            return UUID(uuid: bytes.load(as: uuid_t.self)).uuidString.lowercased()
        }
    }

    public static func nextSerial() -> Int {
        counter.withLock { value in
            value += 1
            return value
        }
    }

    public static func == (lhs: TurnID, rhs: TurnID) -> Bool {
        lhs.serial == rhs.serial && lhs.personaID == rhs.personaID && lhs.personaName == rhs.personaName && lhs.role == rhs.role
            && lhs.round == rhs.round && lhs.droppedTurns == rhs.droppedTurns && lhs.estimatedInputTokens == rhs.estimatedInputTokens
            && lhs.model == rhs.model && lhs.providerType == rhs.providerType && lhs.price == rhs.price && lhs.answer == rhs.answer
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(serial) }

    public var description: String { "\(personaID) #\(serial) (\(model), round \(round))" }
}

/// What the engine tells every consumer of a turn: the chat screen, the headless printers and the
/// transcript. A new kind of event is added here and in `StreamEvent`, nowhere else.
public struct TurnEvent: Sendable, Equatable {
    public var turn: TurnID
    public var kind: Kind

    public init(_ turn: TurnID, _ kind: Kind) {
        self.turn = turn
        self.kind = kind
    }

    /// The cases with a report or an error are rare and `indirect`, so that the deltas, which
    /// pass through every layer, stay small to copy.
    public enum Kind: Sendable, Equatable {
        /// The turn began: its request is about to be sent.
        case started
        /// An attempt's request went out, past the budget, the rate limiter and any queue for the
        /// server: time to first token counts from here.
        case sent
        case delta(String)
        /// Usage reported mid-stream, merged so far.
        indirect case usage(Usage)
        /// The rate limiter holds the request back for `wait` seconds.
        case queued(wait: Double)
        /// The attempt failed and starts over after a delay; what it had streamed is kept.
        indirect case retry(TurnRetry)
        /// The turn moves to the next model of its chain: the event's turn names the new one.
        indirect case failover(from: ModelRef, reason: ProviderError)
        /// The answer broke its schema and goes back to the model with the problems: a new
        /// request starts, and the pane's text starts over.
        indirect case repair(SchemaRepair)
        /// The model asked for a tool; it runs now.
        indirect case toolCall(ToolActivity)
        /// A tool gave its result (or its error), which goes back to the model.
        indirect case toolResult(ToolActivity)
        indirect case done(TurnReport)
        indirect case failed(ProviderError, TurnReport)
    }

    /// Whether a request of the turn ended with this event, so that the ledger holds a new row.
    public var endsAnAttempt: Bool {
        switch kind {
        case .done, .failed, .retry, .failover, .repair: return true
        case .started, .sent, .delta, .usage, .queued, .toolCall, .toolResult: return false
        }
    }
}

/// An attempt that failed and will be made again from the start.
public struct TurnRetry: Sendable, Equatable {
    public var attempt: Int
    public var of: Int
    /// Seconds before the next attempt.
    public var delay: Double
    public var reason: ProviderError
    /// What the failed attempt had streamed.
    public var partialText: String

    public init(attempt: Int, of: Int, delay: Double, reason: ProviderError, partialText: String) {
        self.attempt = attempt
        self.of = of
        self.delay = delay
        self.reason = reason
        self.partialText = partialText
    }
}

/// An answer sent back to be fixed because it broke its schema.
public struct SchemaRepair: Sendable, Equatable {
    /// Which repair this is, of how many the persona allows.
    public var attempt: Int
    public var of: Int
    public var problems: [SchemaProblem]
    /// The answer that broke the schema.
    public var rejectedText: String

    public init(attempt: Int, of: Int, problems: [SchemaProblem], rejectedText: String) {
        self.attempt = attempt
        self.of = of
        self.problems = problems
        self.rejectedText = rejectedText
    }
}

/// A tool call of a turn, and once it ran, its result.
public struct ToolActivity: Sendable, Equatable {
    /// The step (request) of the turn that asked for it, from 1.
    public var step: Int
    public var call: ToolCall
    /// How people read the tool's name: `time/get_current_time`.
    public var label: String
    public var result: ToolResult?
    /// Seconds the tool took.
    public var duration: Double?

    public init(step: Int, call: ToolCall, label: String, result: ToolResult? = nil, duration: Double? = nil) {
        self.step = step
        self.call = call
        self.label = label
        self.result = result
        self.duration = duration
    }
}

extension ToolActivity {
    /// The call and its result as JSON, as the `tool_result` event and a saved session give it.
    public var record: JSONObject {
        JSONObject([
            .init(key: "step", value: .int(step)), .init(key: "id", value: .string(call.id)), .init(key: "name", value: .string(label)),
            .init(key: "tool", value: .string(call.name)), .init(key: "arguments", value: call.arguments),
            .init(key: "content", value: .string(result?.content ?? "")), .init(key: "is_error", value: .bool(result?.isError ?? false)),
            .init(key: "duration_ms", value: duration.map { .int(Int(($0 * 1000).rounded())) } ?? .null),
        ])
    }

    /// A call read back from `record`; nil when the object is not one.
    public init?(record: JSON) {
        guard let id = record["id"]?.string, let label = record["name"]?.string else { return nil }
        self.init(step: record["step"]?.int ?? 1, call: ToolCall(id: id, name: record["tool"]?.string ?? label, arguments: record["arguments"] ?? .null),
                  label: label, result: ToolResult(callID: id, content: record["content"]?.string ?? "", isError: record["is_error"]?.bool ?? false),
                  duration: record["duration_ms"]?.int.map { Double($0) / 1000 })
    }
}
