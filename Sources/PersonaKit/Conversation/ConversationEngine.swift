import Foundation

/// One turn to run: which persona answers, through which endpoint and model, seeing which messages.
public struct PlannedTurn: Sendable {
    public var persona: Persona
    public var endpoint: ProviderEndpoint
    public var request: ChatRequest
    public var round: Int
    /// Older turns left out of the prompt to fit the model's context window.
    public var droppedTurns: Int

    public init(persona: Persona, endpoint: ProviderEndpoint, request: ChatRequest, round: Int = 1, droppedTurns: Int = 0) {
        self.persona = persona
        self.endpoint = endpoint
        self.request = request
        self.round = round
        self.droppedTurns = droppedTurns
    }

    public var model: ModelRef { ModelRef(provider: endpoint.name, model: request.model) }
}

/// The figures of a finished turn, however it ended.
public struct TurnReport: Sendable, Equatable {
    public var text: String
    public var finishReason: FinishReason?
    /// Provider-reported counts where they arrived, estimates elsewhere.
    public var usage: Usage
    /// True while any count is an estimate; false once the provider's usage replaced them.
    public var estimated: Bool { inputEstimated || outputEstimated }
    public var inputEstimated: Bool
    public var outputEstimated: Bool
    /// Nil while the model's price is unknown; never a guessed zero.
    public var costUSD: Decimal?
    public var timeToFirstToken: Double?
    public var duration: Double
    public var httpStatus: Int?

    /// Combines what the provider reported with estimates for whatever it did not report.
    public init(outcome: TurnOutcome, request: ChatRequest) {
        text = outcome.text
        finishReason = outcome.finish
        timeToFirstToken = outcome.timeToFirstToken
        duration = outcome.duration
        httpStatus = outcome.httpStatus
        let reported = outcome.reportedUsage
        var usage = reported
        if usage.inputTokens == nil { usage.inputTokens = TokenEstimator.estimate(request) }
        if usage.outputTokens == nil {
            usage.outputTokens = TokenEstimator.estimate(outcome.text) + TokenEstimator.estimate(outcome.reasoning)
        }
        self.usage = usage
        inputEstimated = reported.inputTokens == nil
        outputEstimated = reported.outputTokens == nil
    }
}

extension TurnReport {
    /// The report of a turn refused before its request was sent: nothing streamed, nothing spent.
    public static func notSent(_ request: ChatRequest) -> TurnReport {
        var report = TurnReport(outcome: TurnOutcome(text: "", reasoning: "", reportedUsage: Usage(), responseHeaders: HTTPHeaders(),
                                                     duration: 0), request: request)
        report.usage = Usage(inputTokens: 0, outputTokens: 0)
        report.inputEstimated = false
        report.outputEstimated = false
        report.costUSD = 0
        return report
    }
}

/// What the engine tells its printers and screens.
public enum EngineEvent: Sendable, Equatable {
    case request(PlannedTurnID)
    case delta(PlannedTurnID, String)
    /// Usage reported mid-stream, merged so far.
    case usage(PlannedTurnID, Usage)
    case done(PlannedTurnID, TurnReport)
    case failed(PlannedTurnID, ProviderError, TurnReport)
}

/// Names a turn in events: the persona, the provider and model used, and the round.
public struct PlannedTurnID: Sendable, Equatable, Hashable {
    public var personaID: String
    public var personaName: String
    public var provider: String
    public var model: String
    public var round: Int
    public var droppedTurns = 0

    public init(personaID: String, personaName: String, provider: String, model: String, round: Int, droppedTurns: Int = 0) {
        self.personaID = personaID
        self.personaName = personaName
        self.provider = provider
        self.model = model
        self.round = round
        self.droppedTurns = droppedTurns
    }
}

/// Runs persona turns, one task each, and reports their progress as `EngineEvent`s.
public actor ConversationEngine {
    public nonisolated let runner: TurnRunner
    /// Prices, budget and ledger; without it costs are unknown and nothing is recorded.
    public nonisolated let accounting: Accounting?

    public init(runner: TurnRunner = TurnRunner(), accounting: Accounting? = nil) {
        self.runner = runner
        self.accounting = accounting
    }

    /// Runs one turn, calling `onEvent` from the turn's own task as things happen: no extra hop
    /// between the stream and whoever listens.
    public nonisolated func run(_ turn: PlannedTurn, onEvent: @Sendable (EngineEvent) -> Void) async {
        var request = turn.request
        let id = PlannedTurnID(personaID: turn.persona.id, personaName: turn.persona.name,
                               provider: turn.endpoint.name, model: request.model, round: turn.round, droppedTurns: turn.droppedTurns)
        let price = accounting?.catalog.price(for: turn.model)
        var reservation: BudgetGuard.Reservation?
        if let budget = accounting?.budget {
            guard let price else {
                refuse(turn, id: id, request: request, onEvent: onEvent, message: "no price is known for \(turn.model), so the budget "
                    + "cannot cap it; add it under prices: in config.yaml or import a LiteLLM file with --prices")
                return
            }
            // The provider must enforce the output cap the reservation assumes.
            if request.maxTokens == nil {
                request.maxTokens = min(price.maxOutput ?? Accounting.defaultBudgetedMaxTokens, Accounting.defaultBudgetedMaxTokens)
            }
            do {
                reservation = try await budget.reserve(BudgetGuard.worstCaseMicros(request, maxTokens: request.maxTokens!, price: price))
            } catch {
                refuse(turn, id: id, request: request, onEvent: onEvent, message: error.description)
                return
            }
        }

        onEvent(.request(id))
        let outcome = await runner.run(request, endpoint: turn.endpoint) { progress in
            switch progress {
            case .delta(let text): onEvent(.delta(id, text))
            case .usage(let usage): onEvent(.usage(id, usage))
            case .responseHead, .reasoning: break
            }
        }
        var report = TurnReport(outcome: outcome, request: request)
        let micros = price.flatMap { CostCalculator.micros(report.usage, price: $0, type: turn.endpoint.type) }
        report.costUSD = micros.map(Money.dollars)
        if let budget = accounting?.budget, let reservation {
            await budget.settle(reservation, actualMicros: micros ?? reservation.micros)
        }
        let status: LedgerEntry.Status = outcome.error == nil ? .ok : outcome.error?.kind == .cancelled ? .cancelled : .failed
        record(turn, request: request, report: report, micros: micros, status: status, error: outcome.error)
        if let error = outcome.error {
            onEvent(.failed(id, error, report))
        } else {
            onEvent(.done(id, report))
        }
    }

    /// A turn the budget stopped before sending: recorded, reported, never sent.
    private nonisolated func refuse(_ turn: PlannedTurn, id: PlannedTurnID, request: ChatRequest,
                                    onEvent: @Sendable (EngineEvent) -> Void, message: String) {
        let error = ProviderError(kind: .budget, message: message)
        let report = TurnReport.notSent(request)
        record(turn, request: request, report: report, micros: 0, status: .budget, error: error)
        onEvent(.failed(id, error, report))
    }

    private nonisolated func record(_ turn: PlannedTurn, request: ChatRequest, report: TurnReport, micros: Int64?,
                                    status: LedgerEntry.Status, error: ProviderError?) {
        guard let accounting, let ledger = accounting.ledger else { return }
        let usage = report.usage
        let entry = LedgerEntry(
            timestamp: Date(), session: accounting.session, persona: turn.persona.id, provider: turn.endpoint.name,
            model: request.model, inputTokens: usage.inputTokens ?? 0, cachedInputTokens: usage.cachedInputTokens ?? 0,
            cacheWriteTokens: usage.cacheWriteTokens ?? 0, outputTokens: usage.outputTokens ?? 0,
            reasoningTokens: usage.reasoningTokens ?? 0, costMicros: micros, estimated: report.estimated,
            timeToFirstTokenMs: report.timeToFirstToken.map { Int(($0 * 1000).rounded()) },
            durationMs: Int((report.duration * 1000).rounded()), status: status, httpStatus: report.httpStatus,
            errorKind: error?.kind.rawValue)
        do {
            try ledger.record(entry)
        } catch {
            accounting.onLedgerFailure("the cost ledger could not record a request: \(error)")
        }
    }

    /// Streams every turn at once. The stream ends when all turns have ended; cancelling the
    /// consuming task cancels every turn, and each reports what it had streamed.
    public nonisolated func runParallel(_ turns: [PlannedTurn]) -> AsyncStream<EngineEvent> {
        AsyncStream { continuation in
            let work = Task.detached {
                await withTaskGroup(of: Void.self) { group in
                    for turn in turns {
                        group.addTask { await self.run(turn) { continuation.yield($0) } }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in work.cancel() }
        }
    }
}
