import Foundation

/// What `persona batch submit` was asked.
public struct BatchOptions: Sendable {
    public var name: String?
    public var mode: ConversationMode
    public var rounds: Int
    public var maxTokens: Int?
    public var concurrency: Int
    public var budgetPicos: Int64?
    public var model: String?

    public init(name: String? = nil, mode: ConversationMode = .parallel, rounds: Int = 1, maxTokens: Int? = nil, concurrency: Int = 8,
                budgetPicos: Int64? = nil, model: String? = nil) {
        self.name = name
        self.mode = mode
        self.rounds = rounds
        self.maxTokens = maxTokens
        self.concurrency = concurrency
        self.budgetPicos = budgetPicos
        self.model = model
    }
}

/// A job ready to record: its requests, its parts, its sessions, and what it may cost.
public struct BatchPlan: Sendable {
    /// The requests to one provider and model, with their estimates at batch and live prices.
    public struct Line: Sendable, Equatable {
        public var provider: String
        public var model: String
        public var api: BatchAPI
        public var requests: Int
        /// Nil when the model's price is unknown.
        public var batchPicos: Int64?
        public var livePicos: Int64?
    }

    public var job: BatchJob
    public var parts: [BatchPart]
    public var requests: [BatchRequestRecord]
    public var sessions: [SessionInfo]
    public var lines: [Line]

    /// The job's reservation: every round's worst case at the prices it will be billed at.
    public var claim: ReservationClaim {
        ReservationClaim(session: "batch:" + job.id, persona: "batch", provider: lines.count == 1 ? lines[0].provider : "batch",
                         model: lines.count == 1 ? lines[0].model : "\(lines.count) models", inputTokens: 0,
                         maxOutputTokens: 0, picos: job.estimatePicos)
    }
}

/// Plans a job: one request per prompt × persona, through the same planner as `ask`, each
/// request's body built by its provider's adapter, grouped into parts per provider and model
/// within each batch API's limits.
public struct BatchPlanner: Sendable {
    public var planner: TurnPlanner
    public var catalog: PriceCatalog

    public init(planner: TurnPlanner, catalog: PriceCatalog) {
        self.planner = planner
        self.catalog = catalog
    }

    public func plan(_ prompts: [BatchPrompt], participants: [Participant], options: BatchOptions, now: Date = Date(),
                     id: String = BatchJob.makeID()) throws -> BatchPlan {
        guard !participants.isEmpty else { throw UsageError("no personas to send the prompts to") }
        var job = BatchJob(id: id, name: options.name, created: now, mode: options.mode, rounds: options.rounds, maxTokens: options.maxTokens,
                           concurrency: options.concurrency, budgetPicos: options.budgetPicos, personas: participants.map(\.persona.id),
                           model: options.model)
        var requests: [BatchRequestRecord] = []
        var sessions: [SessionInfo] = []
        let roster = participants.map { SessionInfo.Member(persona: $0.persona.id, name: $0.persona.name, model: $0.model) }
        var totals: [String: BatchPlan.Line] = [:]
        var order: [String] = []
        var apis: [String: BatchAPI] = [:]
        var batchTotal: Int64? = 0
        var liveTotal: Int64? = 0
        for (promptIndex, prompt) in prompts.enumerated() {
            let session = job.session(forPrompt: promptIndex)
            sessions.append(SessionInfo(id: session, created: now, mode: options.mode, topic: prompt.text, roster: roster,
                                        rounds: options.mode == .parallel ? nil : options.rounds, name: nil))
            let turns = try planner.questions(prompt.text, to: participants, session: session, maxTokens: options.maxTokens,
                                              catalog: catalog).map { Self.capped($0, catalog: catalog) }
            for (personaIndex, turn) in turns.enumerated() {
                let api = BatchAPI.of(turn.endpoint)
                apis[turn.endpoint.name] = api
                let estimate = try Self.estimate(turn, api: api, rounds: options.mode == .parallel ? 1 : options.rounds,
                                                 personas: participants.count, catalog: catalog, prompt: prompt)
                let key = "\(turn.endpoint.name):\(turn.request.model)"
                if totals[key] == nil {
                    order.append(key)
                    totals[key] = BatchPlan.Line(provider: turn.endpoint.name, model: turn.request.model, api: api, requests: 0,
                                                 batchPicos: 0, livePicos: 0)
                }
                totals[key]!.requests += 1
                totals[key]!.batchPicos = Self.add(totals[key]!.batchPicos, estimate.batch)
                totals[key]!.livePicos = Self.add(totals[key]!.livePicos, estimate.live)
                batchTotal = Self.add(batchTotal, estimate.batch)
                liveTotal = Self.add(liveTotal, estimate.live)
                let price = catalog.price(for: turn.model)
                requests.append(BatchRequestRecord(
                    job: job.id, customID: BatchRequestRecord.customID(round: 1, promptIndex: promptIndex, personaIndex: personaIndex),
                    promptID: prompt.id, promptIndex: promptIndex, prompt: prompt.text, persona: turn.persona.id,
                    personaName: turn.persona.name, personaIndex: personaIndex, round: 1, provider: turn.endpoint.name,
                    model: turn.request.model, session: session,
                    body: api == .live ? nil : BatchClient.body(for: turn.request, endpoint: turn.endpoint),
                    estimatePicos: estimate.batchRound1,
                    bounds: UsageCheck.Bounds(turn.request, price: price, type: turn.endpoint.type)))
            }
        }
        job.estimatePicos = batchTotal
        job.liveEstimatePicos = liveTotal
        let parts = Self.parts(for: &requests, apis: apis, job: job, round: 1, firstNumber: 1, now: now)
        return BatchPlan(job: job, parts: parts, requests: requests, sessions: sessions, lines: order.map { totals[$0]! })
    }

    /// A job's estimate is its inputs plus `max_tokens`, so every request carries a cap: the
    /// persona's or `--max-tokens`, else the one a live request under a budget gets.
    static func capped(_ turn: PlannedTurn, catalog: PriceCatalog) -> PlannedTurn {
        guard turn.request.maxTokens == nil else { return turn }
        var capped = turn
        capped.request.maxTokens = min(catalog.price(for: turn.model)?.maxOutput ?? BudgetGuard.defaultMaxTokens, BudgetGuard.defaultMaxTokens)
        return capped
    }

    private static func add(_ a: Int64?, _ b: Int64?) -> Int64? {
        guard let a, let b else { return nil }
        return Money.sum(a, b)
    }

    /// Groups `requests` that have no part yet into parts of one provider and model each, split
    /// at the batch API's limits; sets each request's part.
    public static func parts(for requests: inout [BatchRequestRecord], apis: [String: BatchAPI], job: BatchJob, round: Int,
                             firstNumber: Int, now: Date) -> [BatchPart] {
        var parts: [BatchPart] = []
        var open: [String: (index: Int, count: Int, bytes: Int)] = [:]
        for index in requests.indices where requests[index].part == nil {
            let request = requests[index]
            let key = "\(request.provider)\u{0}\(request.model)"
            let api = apis[request.provider] ?? .live
            let size = BatchClient.lineSize(BatchInputLine(customID: request.customID, body: request.body ?? ""))
            if let current = open[key], current.count < api.limits.requests, current.bytes + size <= api.limits.bytes {
                open[key] = (current.index, current.count + 1, current.bytes + size)
            } else {
                parts.append(BatchPart(id: "\(job.id)-\(firstNumber + parts.count)", job: job.id, round: round, provider: request.provider,
                                       model: request.model, api: api, created: now))
                open[key] = (parts.count - 1, 1, size)
            }
            requests[index].part = parts[open[key]!.index].id
        }
        return parts
    }

    struct Estimate {
        var batch: Int64?
        var live: Int64?
        /// Round 1's share of `batch`, held for this request; later rounds are held by the job.
        var batchRound1: Int64?
    }

    /// A request's worst case (every round of a debate, each prompt holding every earlier
    /// answer at its longest) at batch prices and at live prices. A prompt longer than the
    /// model takes is a usage error.
    static func estimate(_ turn: PlannedTurn, api: BatchAPI, rounds: Int, personas: Int, catalog: PriceCatalog,
                         prompt: BatchPrompt) throws -> Estimate {
        guard let price = catalog.price(for: turn.model) else { return Estimate() }
        if let room = price.maxInput ?? price.contextWindow, TokenEstimator.estimate(turn.request) > room {
            throw UsageError("prompt \(prompt.id) (line \(prompt.line)) is about \(TokenEstimator.estimate(turn.request)) tokens, "
                + "over the \(room) that \(turn.model) takes")
        }
        let billed = api == .live ? price : price.batchPrices() ?? price
        func worst(_ price: ModelPrice) -> Int64? {
            guard let first = BudgetGuard.worstCasePicos(turn.request, price: price, type: turn.endpoint.type) else { return nil }
            guard rounds > 1 else { return first }
            let output = UsageCheck.outputLimit(turn.request, price: price, type: turn.endpoint.type) ?? BudgetGuard.defaultMaxTokens
            let band = price.longContext?.prices ?? price.prices
            let inputPrice = max(band.input, band.resolvedCacheWrite, band.resolvedCacheWrite1h)
            var total = first
            for round in 2...rounds {
                let earlier = Int64(round - 1) * Int64(personas) * Int64(output)
                let (grown, overflow) = earlier.multipliedReportingOverflow(by: inputPrice)
                guard !overflow, let next = Money.sum(first, grown), let sum = Money.sum(total, next) else { return nil }
                total = sum
            }
            return total
        }
        return Estimate(batch: worst(billed), live: worst(price),
                        batchRound1: BudgetGuard.worstCasePicos(turn.request, price: billed, type: turn.endpoint.type))
    }
}
