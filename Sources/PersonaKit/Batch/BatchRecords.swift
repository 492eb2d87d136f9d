import Foundation

/// Which batch API a part travels through; `live` runs its requests through the streaming engine.
public enum BatchAPI: String, Sendable, Equatable, CaseIterable {
    case openai
    case anthropic
    case gemini
    case live

    /// The batch API an endpoint offers, or `live` when it has none.
    public static func of(_ endpoint: ProviderEndpoint) -> BatchAPI {
        switch endpoint.type {
        case .openai: return endpoint.quirks.batchAPI ? .openai : .live
        case .anthropic: return .anthropic
        case .gemini: return .gemini
        case .ollama: return .live
        }
    }

    /// The most requests, and bytes, one provider batch may hold.
    public var limits: (requests: Int, bytes: Int) {
        switch self {
        case .openai: return (50_000, 200 << 20)
        case .anthropic: return (100_000, 256 << 20)
        // Inline requests, under 20 MB with the envelope.
        case .gemini: return (100_000, 19 << 20)
        case .live: return (Int.max, Int.max)
        }
    }
}

/// A job: many prompts × personas, in one or more rounds, through batch APIs or live.
public struct BatchJob: Sendable, Equatable {
    public enum State: String, Sendable {
        case running
        /// Cancelled by the user; parts still running at a provider end as it cancels them.
        case cancelling
        case ended
        case cancelled

        public var isActive: Bool { self == .running || self == .cancelling }
    }

    public var id: String
    public var name: String?
    public var created: Date
    public var state: State
    /// `parallel` (every persona answers each prompt) or `rounds` (a debate, round by round).
    public var mode: ConversationMode
    public var rounds: Int
    public var maxTokens: Int?
    /// How many requests of a live part run at once.
    public var concurrency: Int
    public var budgetPicos: Int64?
    /// The estimate at batch prices, and at live prices, of every planned request.
    public var estimatePicos: Int64?
    public var liveEstimatePicos: Int64?
    public var reservationID: Int64?
    public var personas: [String]
    /// `--model`, when it overrode the personas' models.
    public var model: String?

    public init(id: String, name: String? = nil, created: Date, state: State = .running, mode: ConversationMode = .parallel,
                rounds: Int = 1, maxTokens: Int? = nil, concurrency: Int = 8, budgetPicos: Int64? = nil, estimatePicos: Int64? = nil,
                liveEstimatePicos: Int64? = nil, reservationID: Int64? = nil, personas: [String], model: String? = nil) {
        self.id = id
        self.name = name
        self.created = created
        self.state = state
        self.mode = mode
        self.rounds = rounds
        self.maxTokens = maxTokens
        self.concurrency = concurrency
        self.budgetPicos = budgetPicos
        self.estimatePicos = estimatePicos
        self.liveEstimatePicos = liveEstimatePicos
        self.reservationID = reservationID
        self.personas = personas
        self.model = model
    }

    /// A job id users can type: `job-` and six letters or digits.
    public static func makeID() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        return "job-" + String((0..<6).map { _ in alphabet.randomElement()! })
    }

    /// The session that holds prompt `index`'s answers.
    public func session(forPrompt index: Int) -> String { "\(id)-q\(index + 1)" }
}

/// One provider batch of a job (or one live run): its requests share a provider and a model.
public struct BatchPart: Sendable, Equatable {
    /// Each step is recorded before the provider call it leads to, and again after it, so a
    /// process that finds a part in `uploading` or `creating` knows the call may have happened.
    public enum State: String, Sendable {
        case planned
        /// The input file is being uploaded (OpenAI).
        case uploading
        case uploaded
        /// The provider batch is being created.
        case creating
        /// The provider has the batch; it is polled until it ends.
        case submitted
        /// The provider's batch ended; its results are to be read.
        case ended
        /// Every result is read.
        case done
        /// The provider refused the batch (validation); its requests errored.
        case failed
        /// Requests of a live part are running.
        case running

        public var isFinished: Bool { self == .done || self == .failed }
    }

    public var id: String
    public var job: String
    public var round: Int
    public var provider: String
    public var model: String
    public var api: BatchAPI
    public var state: State
    public var fileID: String?
    public var batchID: String?
    public var outputFileID: String?
    public var errorFileID: String?
    public var resultsURL: String?
    /// The provider's own word for the batch's state, as last polled.
    public var providerState: String?
    public var providerDone = 0
    public var providerFailed = 0
    public var created: Date
    /// When the current step was recorded: a part found in `creating` is looked for at the
    /// provider among the batches created since.
    public var stepAt: Date?
    public var polledAt: Date?
    public var nextPollAt: Date?
    public var error: String?

    public init(id: String, job: String, round: Int, provider: String, model: String, api: BatchAPI, state: State = .planned,
                created: Date) {
        self.id = id
        self.job = job
        self.round = round
        self.provider = provider
        self.model = model
        self.api = api
        self.state = state
        self.created = created
    }
}

/// One request of a job: a prompt to a persona in a round.
public struct BatchRequestRecord: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case pending
        /// Running live in some process.
        case running
        case succeeded
        case errored
        case expired
        case canceled
        /// Not sent: an earlier round of its prompt failed for this persona.
        case skipped

        public var isFinal: Bool { self != .pending && self != .running }
        /// Whether `persona batch retry` sends it again.
        public var isRetryable: Bool { self == .errored || self == .expired || self == .canceled }
    }

    public var job: String
    public var customID: String
    public var part: String?
    public var promptID: String
    public var promptIndex: Int
    public var prompt: String
    public var persona: String
    public var personaName: String
    public var personaIndex: Int
    public var round: Int
    public var provider: String
    public var model: String
    public var session: String
    public var state: State
    /// The provider's request body (without streaming), as the batch's input line carries it.
    public var body: String?
    /// The request's worst case at batch prices; nil when its price is unknown.
    public var estimatePicos: Int64?
    public var bounds: UsageCheck.Bounds
    public var text: String?
    public var error: String?
    public var ledgerID: Int64?
    /// The result's checked counts and exact cost, once it has one.
    public var usage = Usage()
    public var costPicos: Int64?
    public var estimated = false

    public init(job: String, customID: String, part: String? = nil, promptID: String, promptIndex: Int, prompt: String, persona: String,
                personaName: String, personaIndex: Int, round: Int, provider: String, model: String, session: String, state: State = .pending,
                body: String? = nil, estimatePicos: Int64? = nil, bounds: UsageCheck.Bounds) {
        self.job = job
        self.customID = customID
        self.part = part
        self.promptID = promptID
        self.promptIndex = promptIndex
        self.prompt = prompt
        self.persona = persona
        self.personaName = personaName
        self.personaIndex = personaIndex
        self.round = round
        self.provider = provider
        self.model = model
        self.session = session
        self.state = state
        self.body = body
        self.estimatePicos = estimatePicos
        self.bounds = bounds
    }

    /// `r1-12-3`: round, prompt and persona, within `^[a-zA-Z0-9_-]{1,64}$` as Anthropic requires.
    public static func customID(round: Int, promptIndex: Int, personaIndex: Int) -> String {
        "r\(round)-\(promptIndex + 1)-\(personaIndex + 1)"
    }
}

/// A job's requests counted by state, and its cost so far: the ledger's totals of its sessions.
public struct BatchProgress: Sendable, Equatable {
    public var total = 0
    public var counts: [BatchRequestRecord.State: Int] = [:]
    public var cost = CostTotals()

    public init() {}

    public var succeeded: Int { counts[.succeeded] ?? 0 }
    public var failed: Int { (counts[.errored] ?? 0) + (counts[.expired] ?? 0) + (counts[.canceled] ?? 0) }
    public var finished: Int { counts.filter { $0.key.isFinal }.reduce(0) { $0 + $1.value } }
}
