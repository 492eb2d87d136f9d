import Foundation

/// An endpoint and a model on it: where a turn can be answered.
public struct Route: Sendable {
    public var endpoint: ProviderEndpoint
    public var model: ModelRef

    public init(endpoint: ProviderEndpoint, model: ModelRef) {
        self.endpoint = endpoint
        self.model = model
    }
}

/// One turn to run: which persona answers, through which endpoint and model, seeing which messages.
public struct PlannedTurn: Sendable {
    /// The session its ledger rows belong to.
    public var session: String
    public var persona: Persona
    public var endpoint: ProviderEndpoint
    public var request: ChatRequest
    public var round: Int
    /// As a participant, the judge or the moderator.
    public var role: TranscriptMessage.Role
    /// Older turns left out of the prompt to fit the model's context window.
    public var droppedTurns: Int
    /// Where to go, in order, when this endpoint cannot answer (DESIGN.md §3, failover).
    public var fallbacks: [Route]
    /// Through the gateway: who asked (the key's name) and the request's id, for the ledger.
    public var client: String?
    public var requestID: String?
    /// Held by a consumer that reads slower than the model writes (`ReadPace`).
    public var pace: ReadPace?

    public init(session: String, persona: Persona, endpoint: ProviderEndpoint, request: ChatRequest, round: Int = 1,
                role: TranscriptMessage.Role = .persona, droppedTurns: Int = 0, fallbacks: [Route] = []) {
        self.session = session
        self.persona = persona
        self.endpoint = endpoint
        self.request = request
        self.round = round
        self.role = role
        self.droppedTurns = droppedTurns
        self.fallbacks = fallbacks
    }

    public var model: ModelRef { ModelRef(provider: endpoint.name, model: request.model) }
}

/// Runs persona turns, one task each, and reports their progress as `TurnEvent`s. It keeps no
/// state of its own: the ledger, the provider health and the gate hold what turns share.
public final class ConversationEngine: Sendable {
    public let runner: TurnRunner
    /// Prices, budget and ledger; without it costs are unknown and nothing is recorded.
    public let accounting: Accounting?
    /// Rate limits and circuit breakers per provider; without it requests go out at once.
    public let health: ProviderHealth?
    public let retryPolicy: RetryPolicy
    /// The tools turns may call; without it a persona with tools cannot answer.
    public let toolBox: ToolBox?
    public let toolSettings: ToolSettings
    let gate = ConcurrencyGate()

    public init(runner: TurnRunner = TurnRunner(), accounting: Accounting? = nil, health: ProviderHealth? = nil,
                retryPolicy: RetryPolicy = RetryPolicy(maxRetries: 0), toolBox: ToolBox? = nil, toolSettings: ToolSettings = ToolSettings()) {
        self.runner = runner
        self.accounting = accounting
        self.health = health
        self.retryPolicy = retryPolicy
        self.toolBox = toolBox
        self.toolSettings = toolSettings
        if let health { accounting?.ledger?.live.watch(health) }
    }

    /// Runs one turn, calling `onEvent` from the turn's own task as things happen: no extra hop
    /// between the stream and whoever listens.
    public func run(_ turn: PlannedTurn, onEvent: @Sendable (TurnEvent) -> Void) async {
        let routes = [Route(endpoint: turn.endpoint, model: turn.model)] + turn.fallbacks
        var id = TurnID(personaID: turn.persona.id, personaName: turn.persona.name, role: turn.role, round: turn.round,
                        droppedTurns: turn.droppedTurns, estimatedInputTokens: TokenEstimator.estimate(turn.request),
                        model: turn.model, providerType: turn.endpoint.type, price: accounting?.catalog.price(for: turn.model))
        onEvent(TurnEvent(id, .started))
        var tools: [ToolDefinition] = []
        if !turn.persona.tools.isEmpty {
            do {
                guard let toolBox else { throw MCPError(description: "tools cannot be called here") }
                tools = try await toolBox.definitions(for: turn.persona.tools)
            } catch {
                let failure = ProviderError(kind: .tools, message: "\(turn.persona.name)'s tools: \(error); nothing was sent")
                return onEvent(TurnEvent(id, .failed(failure, .notSent())))
            }
        }
        var failure: (error: ProviderError, report: TurnReport)?
        for (index, route) in routes.enumerated() {
            if index > 0, let failure {
                let next = id.failingOver(to: route.model, providerType: route.endpoint.type, price: accounting?.catalog.price(for: route.model))
                onEvent(TurnEvent(next, .failover(from: id.model, reason: failure.error)))
                id = next
            }
            var request = turn.request
            request.model = route.model.model
            request.tools = tools
            switch await attempts(turn, route: route, request: request, id: id, onEvent: onEvent) {
            case .answered(let report):
                return await conclude(turn, route: route, request: request, answer: report, id: id, onEvent: onEvent)
            case .stopped(let error, let report):
                return onEvent(TurnEvent(id, .failed(error, report)))
            case .failedOver(let error, let report):
                failure = (error, report)
            }
        }
        if let failure { onEvent(TurnEvent(id, .failed(failure.error, failure.report))) }
    }

    enum RouteResult {
        case answered(TurnReport)
        /// Failed in a way no other model would fix: stopped, over budget, unrecorded.
        case stopped(ProviderError, TurnReport)
        case failedOver(ProviderError, TurnReport)
    }

    /// One route's attempts: breaker, rate limiter, the request, and retries with backoff.
    func attempts(_ turn: PlannedTurn, route: Route, request: ChatRequest, id: TurnID,
                                      onEvent: @Sendable (TurnEvent) -> Void) async -> RouteResult {
        let provider = route.endpoint.name
        var retry = 0
        while true {
            if let health, case .rejected(let wait) = await health.admit(provider) {
                let error = ProviderError(kind: .server, message: "\(provider) is failing: its circuit breaker opened after "
                    + "\(health.failureThreshold) failures in a row, so nothing was sent; it tries again in \(Int(wait.rounded(.up))) s")
                return .failedOver(error, .notSent())
            }
            if let health {
                let tokens = TokenEstimator.estimate(request) + (request.maxTokens ?? 0)
                while true {
                    let wait = await health.reserveStart(provider, tokens: tokens)
                    if wait <= 0 { break }
                    if !(wait <= retryPolicy.maxDelay) {
                        return .failedOver(Self.tooLongAWait(provider, wait: wait, policy: retryPolicy,
                                                             cause: "its rate-limit headers allow no request"), .notSent())
                    }
                    onEvent(TurnEvent(id, .queued(wait: wait)))
                    do { try await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000)) } catch {
                        return .stopped(.stoppedByUser, .notSent())
                    }
                }
            }
            let limit = route.endpoint.quirks.maxConcurrentRequests
            if let limit, await !gate.enter(provider, limit: limit) {
                return .stopped(.stoppedByUser, .notSent())
            }
            let (report, error, headers) = await attempt(turn, route: route, request: request, id: id, onEvent: onEvent)
            if limit != nil { await gate.leave(provider) }
            if let health {
                await health.observe(provider, headers: headers)
                if let error {
                    await health.recordFailure(provider, error: error)
                } else {
                    await health.recordSuccess(provider, timeToFirstToken: report.timeToFirstToken)
                }
            }
            guard let error else { return .answered(report) }
            switch error.kind {
            case .budget, .ledger, .cancelled:
                return .stopped(error, report)
            case .auth, .notFound:
                return .failedOver(error, report)
            default:
                guard error.retryable, retry < retryPolicy.maxRetries else { return .failedOver(error, report) }
                if let wait = error.retryAfter, !(wait <= retryPolicy.maxDelay) {
                    return .failedOver(Self.tooLongAWait(provider, wait: wait, policy: retryPolicy, cause: error.message), report)
                }
                retry += 1
                let delay = retryPolicy.delay(beforeRetry: retry, after: error)
                onEvent(TurnEvent(id, .retry(TurnRetry(attempt: retry, of: retryPolicy.maxRetries, delay: delay, reason: error,
                                                       partialText: report.text))))
                do { try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000)) } catch {
                    return .stopped(.stoppedByUser, .notSent())
                }
            }
        }
    }

    /// A provider that asks for a longer wait than `retry.max_delay` is not waited for.
    static func tooLongAWait(_ provider: String, wait: Double, policy: RetryPolicy, cause: String) -> ProviderError {
        let until = wait.isFinite && wait < 1e9
            ? " (until " + ISO8601DateFormatter().string(from: Date().addingTimeInterval(wait)) + ")" : ""
        let length = wait.isFinite && wait < 1e12 ? "\(Int(wait.rounded(.up))) s" : "indefinitely"
        return ProviderError(kind: .rateLimit, message: "\(provider) asks to wait \(length)\(until) before the next request, longer than "
            + "retry.max_delay (\(CurlTransport.formatSeconds(policy.maxDelay)) s), so nothing more was sent: \(cause)")
    }

    /// One request: reserve in the ledger (against the budget), stream, check the usage, price,
    /// and swap the reservation for the request's row. Nothing is sent that the ledger could not
    /// record, and an answer whose row cannot be written ends the turn with a `ledger` error.
    private func attempt(_ turn: PlannedTurn, route: Route, request original: ChatRequest, id: TurnID,
                                     onEvent: @Sendable (TurnEvent) -> Void) async -> (TurnReport, ProviderError?, HTTPHeaders) {
        var request = original
        let type = route.endpoint.type
        let price = accounting?.catalog.price(for: route.model)
        let inputEstimate = TokenEstimator.estimate(request)
        var reservation: Reservation?
        if let accounting {
            // Under a cap, the provider must enforce the output limit the reservation assumes.
            if !accounting.budget.caps.isEmpty, request.maxTokens == nil {
                request.maxTokens = min(price?.maxOutput ?? BudgetGuard.defaultMaxTokens, BudgetGuard.defaultMaxTokens)
            }
            let claim = ReservationClaim(
                session: turn.session, persona: turn.persona.id, provider: route.endpoint.name, model: request.model,
                inputTokens: inputEstimate,
                maxOutputTokens: UsageCheck.outputLimit(request, price: price, type: type) ?? BudgetGuard.defaultMaxTokens,
                picos: price.flatMap { BudgetGuard.worstCasePicos(request, price: $0, type: type) }, client: turn.client,
                requestID: turn.requestID)
            do {
                reservation = try await accounting.reserve(claim)
            } catch let refusal as BudgetRefusal {
                let unpriced = refusal.needed == nil ? "no price is known for \(route.model), so the budget cannot cap it; add it "
                    + "under prices: in config.yaml or run `persona prices update`. " : ""
                return (.notSent(), ProviderError(kind: .budget, message: unpriced + refusal.description), HTTPHeaders())
            } catch {
                return (.notSent(), ProviderError(kind: .ledger, message: "\(error); the request was not sent"), HTTPHeaders())
            }
        }
        let progress = reservation.flatMap { reservation in
            accounting?.ledger?.live.begin(reservation, price: price, type: type, inputEstimate: inputEstimate)
        }
        // A model may echo a key it was shown; it is hidden before any delta reaches a screen.
        let redactor = StreamingRedactor()
        onEvent(TurnEvent(id, .sent))
        let outcome = await runner.run(request, endpoint: route.endpoint, pace: turn.pace) { event in
            switch event {
            case .delta(let text):
                progress?.streamed(text)
                let shown = redactor.feed(text)
                if !shown.isEmpty { onEvent(TurnEvent(id, .delta(shown))) }
            case .usage(let usage):
                progress?.reported(usage)
                onEvent(TurnEvent(id, .usage(usage)))
            case .reasoning, .refusal, .toolCall, .finish, .failure: break
            }
        }
        if let progress { accounting?.ledger?.live.end(progress) }
        let heldBack = redactor.finish()
        if !heldBack.isEmpty { onEvent(TurnEvent(id, .delta(heldBack))) }
        let refused = Self.wasRefused(outcome)
        let checked = refused
            ? CheckedUsage(usage: Usage(inputTokens: 0, outputTokens: 0), inputEstimated: false, outputEstimated: false)
            : UsageCheck.check(outcome.reportedUsage, request: request, answer: outcome.text + outcome.refusal, reasoning: outcome.reasoning,
                               price: price, type: type)
        // Nothing generated is nothing billed, whether or not the model has a price.
        let report = TurnReport(outcome: outcome, usage: checked)
            .priced(refused ? 0 : price.flatMap { CostCalculator.picos(checked.usage, price: $0, type: type) })
        guard let accounting else { return (report, outcome.error, outcome.responseHeaders) }
        let status: LedgerEntry.Status = outcome.error == nil ? .ok : outcome.error?.kind == .cancelled ? .cancelled : .failed
        let usage = report.usage
        let entry = LedgerEntry(
            timestamp: Date(), session: turn.session, persona: turn.persona.id, provider: route.endpoint.name,
            model: request.model, inputTokens: usage.inputTokens ?? 0, cachedInputTokens: usage.cachedInputTokens ?? 0,
            cacheWriteTokens: usage.cacheWriteTokens ?? 0, outputTokens: usage.outputTokens ?? 0,
            reasoningTokens: usage.reasoningTokens ?? 0, costPicos: report.costPicos,
            cacheSavedPicos: price.flatMap { CostCalculator.cacheSavings(usage, price: $0, type: type) } ?? 0,
            estimated: report.estimated, usageNote: report.usageNote,
            timeToFirstTokenMs: report.timeToFirstToken.map { Int(($0 * 1000).rounded()) },
            durationMs: Int((report.duration * 1000).rounded()), status: status, httpStatus: report.httpStatus,
            errorKind: outcome.error?.kind.rawValue, answer: id.answer, client: turn.client, requestID: turn.requestID)
        do {
            try await accounting.settle(reservation, as: entry)
        } catch {
            let failure = ProviderError(kind: .ledger, message: "the answer arrived, but \(error); nothing more is sent")
            return (report, failure, outcome.responseHeaders)
        }
        return (report, outcome.error, outcome.responseHeaders)
    }

    /// Whether the provider refused the request outright, so that nothing was generated or billed:
    /// a status other than 2xx (an error or a redirect), or no connection at all, before a single token.
    static func wasRefused(_ outcome: TurnOutcome) -> Bool {
        guard outcome.reportedUsage.isEmpty, outcome.text.isEmpty, outcome.reasoning.isEmpty else { return false }
        if let status = outcome.httpStatus { return !(200..<300).contains(status) }
        return outcome.error?.kind == .network
    }

    /// Streams every turn at once. The stream ends when all turns have ended; cancelling the
    /// consuming task cancels every turn, and each reports what it had streamed.
    public func runParallel(_ turns: [PlannedTurn]) -> AsyncStream<TurnEvent> {
        AsyncStream { continuation in
            let work = startParallel(turns) { continuation.yield($0) } finished: { continuation.finish() }
            continuation.onTermination = { _ in work.cancel() }
        }
    }

    /// Runs every turn at once, calling `emit` from the turns' tasks and `finished` when all have
    /// ended. Cancelling the returned task stops every turn; each still reports how it ended.
    public func startParallel(_ turns: [PlannedTurn], emit: @escaping @Sendable (TurnEvent) -> Void,
                                          finished: @escaping @Sendable () -> Void) -> Task<Void, Never> {
        Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for turn in turns {
                    group.addTask { await self.run(turn, onEvent: emit) }
                }
            }
            finished()
        }
    }
}

/// Admits at most `limit` requests at a time per provider; the rest wait in arrival order.
actor ConcurrencyGate {
    private struct Waiter {
        let id: UUID
        let continuation: CheckedContinuation<Bool, Never>
    }

    private var running: [String: Int] = [:]
    private var waiting: [String: [Waiter]] = [:]

    /// True once admitted; false when the task was cancelled while waiting.
    func enter(_ provider: String, limit: Int) async -> Bool {
        if running[provider, default: 0] < limit, waiting[provider, default: []].isEmpty {
            running[provider, default: 0] += 1
            return true
        }
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { return continuation.resume(returning: false) }
                waiting[provider, default: []].append(Waiter(id: id, continuation: continuation))
            }
        } onCancel: {
            Task { await self.abandon(id, provider: provider) }
        }
    }

    /// Frees a slot, handing it straight to the longest waiter if there is one.
    func leave(_ provider: String) {
        if let next = waiting[provider]?.first {
            waiting[provider]?.removeFirst()
            next.continuation.resume(returning: true)
        } else {
            running[provider, default: 1] -= 1
        }
    }

    private func abandon(_ id: UUID, provider: String) {
        guard let index = waiting[provider]?.firstIndex(where: { $0.id == id }),
              let waiter = waiting[provider]?.remove(at: index) else { return }
        waiter.continuation.resume(returning: false)
    }
}
