import Foundation

/// Moves batch jobs along (DESIGN.md §13). A job is a state machine in `persona.db`: each pass
/// takes every part one step further (upload, create, poll, download and settle, or run live),
/// recording each step before the provider call it leads to and again after it. Any process can
/// run a pass, after any crash; claims keep two from doing one step at once.
public struct BatchRunner: Sendable {
    public var store: BatchStore
    public var providers: ProviderDirectory
    public var catalog: PriceCatalog
    /// Plans the requests of later rounds and of live parts, as `ask` would.
    public var planner: TurnPlanner
    /// Runs live parts, with the ledger and budget of every live request.
    public var engine: ConversationEngine
    public var transport: CurlTransport
    public var now: @Sendable () -> Date
    /// Where notes about a pass go: a retried call, a skipped result line.
    public var notice: @Sendable (String) -> Void

    public init(store: BatchStore, providers: ProviderDirectory, catalog: PriceCatalog, planner: TurnPlanner, engine: ConversationEngine,
                transport: CurlTransport = .shared, now: @escaping @Sendable () -> Date = { Date() },
                notice: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.providers = providers
        self.catalog = catalog
        self.planner = planner
        self.engine = engine
        self.transport = transport
        self.now = now
        self.notice = notice
    }

    /// How long one process holds a part while it uploads, creates, downloads or runs it.
    static let claimSeconds: TimeInterval = 600
    /// The longest wait between polls.
    public static let maxPollInterval: TimeInterval = 60

    /// A part that cannot go on: no key, a refused key, a provider that refused the batch.
    public struct Stuck: Error, Sendable, CustomStringConvertible {
        public var part: String
        public var message: String
        public var description: String { "\(part): \(message)" }
    }

    // MARK: Passes

    /// One pass over the job: every part that can move, moves one step (a part that ended is
    /// downloaded and settled in the same pass; a live part runs to its end unless `runLive` is
    /// false, as when `submit` only sends). `pollNow` polls every batch whatever its schedule, as
    /// a `wait` does when it starts. Returns parts that cannot go on.
    @discardableResult
    public func advance(_ jobID: String, interval: TimeInterval, runLive: Bool = true, pollNow: Bool = false) async throws -> [Stuck] {
        guard let job = try store.job(jobID), job.state.isActive else { return [] }
        var stuck: [Stuck] = []
        for part in try store.parts(job: job.id) where !part.state.isFinished {
            if part.api == .live, !runLive { continue }
            do {
                try await step(part, job: job, interval: interval, pollNow: pollNow)
            } catch let error as BatchCallError where error.retryable {
                notice("\(part.id): \(error.message); trying again at the next poll\n")
                var waiting = try store.part(part.id) ?? part
                let state = waiting.state
                waiting.nextPollAt = now().addingTimeInterval(max(interval, error.retryAfter ?? interval))
                try store.save(waiting, expecting: state)
            } catch let error as BatchCallError {
                stuck.append(Stuck(part: part.id, message: error.message))
            } catch let error as ProviderSetupError {
                stuck.append(Stuck(part: part.id, message: "\(error)"))
            }
        }
        try await finishRoundIfDone(job)
        return stuck
    }

    /// Whether the job has ended (every part finished, every round run).
    public func isFinished(_ jobID: String) throws -> Bool {
        try store.job(jobID).map { !$0.state.isActive } ?? true
    }

    /// When the next part is due to be polled; nil when nothing waits on a provider.
    public func nextPoll(_ jobID: String) throws -> Date? {
        try store.parts(job: jobID).filter { $0.state == .submitted }.compactMap(\.nextPollAt).min()
    }

    private func client(for part: BatchPart) throws -> BatchClient {
        BatchClient(endpoint: try providers.endpoint(for: part.provider), api: part.api, transport: transport)
    }

    private func step(_ part: BatchPart, job: BatchJob, interval: TimeInterval, pollNow: Bool) async throws {
        switch part.state {
        case .planned, .uploading, .uploaded, .creating:
            guard part.api != .live else { return try await runLive(part, job: job) }
            guard try store.claim(part.id, for: Self.claimSeconds, now: now()) else { return }
            defer { try? store.release(part.id) }
            try await submit(part, job: job, interval: interval)
        case .submitted:
            if !pollNow, let due = part.nextPollAt, due > now() { return }
            try await poll(part, job: job, interval: interval)
        case .ended:
            try await importResults(part, job: job)
        case .running:
            try await runLive(part, job: job)
        case .done, .failed:
            return
        }
    }

    // MARK: Submitting

    /// Uploads (OpenAI) and creates the provider batch. A part found mid-step was left by a
    /// process that died: what it may have made is looked for at the provider before anything
    /// is sent again.
    private func submit(_ original: BatchPart, job: BatchJob, interval: TimeInterval) async throws {
        // Read again under the claim: another process may have moved it.
        guard var part = try store.part(original.id), !part.state.isFinished, part.state != .submitted else { return }
        let client = try client(for: part)
        let requests = try store.requests(part: part.id, bodies: true).filter { $0.state == .pending }
        let lines = requests.map { BatchInputLine(customID: $0.customID, body: $0.body ?? "{}") }
        if part.api == .openai, part.state == .planned || part.state == .uploading {
            var fileID: String?
            if part.state == .uploading { fileID = try await client.findUpload(part: part.id) }
            if fileID == nil {
                let previous = part.state
                part.state = .uploading
                part.stepAt = now()
                guard try store.save(part, expecting: previous) else { return }
                fileID = try await client.upload(part: part.id, lines: lines)
            }
            part.fileID = fileID
            part.state = .uploaded
            guard try store.save(part, expecting: .uploading) else { return }
        }
        var batchID: String?
        if part.state == .creating {
            batchID = try await client.find(part: part.id, requests: lines.count, since: part.stepAt ?? part.created)
            if batchID != nil { notice("\(part.id): found the batch \(batchID!) that an earlier run created; not sending it again\n") }
        }
        if batchID == nil {
            let previous = part.state
            part.state = .creating
            part.stepAt = now()
            guard try store.save(part, expecting: previous) else { return }
            batchID = try await client.create(part: part.id, job: job.id, model: part.model, fileID: part.fileID, lines: lines)
        }
        part.batchID = batchID
        part.state = .submitted
        part.providerState = "submitted"
        part.polledAt = now()
        part.nextPollAt = now().addingTimeInterval(interval)
        try store.save(part, expecting: .creating)
    }

    // MARK: Polling

    private func poll(_ original: BatchPart, job: BatchJob, interval: TimeInterval) async throws {
        var part = original
        guard let batchID = part.batchID else { return }
        let status = try await client(for: part).status(batchID: batchID)
        let moved = status.done != part.providerDone || status.failed != part.providerFailed || status.providerState != part.providerState
        let polled = now()
        // Back off while nothing moves: twice the last wait, up to a minute.
        let lastGap = part.nextPollAt.map { $0.timeIntervalSince(part.polledAt ?? $0) } ?? interval
        let gap = moved ? interval : min(Self.maxPollInterval, max(interval, lastGap * 2))
        part.providerState = status.providerState
        part.providerDone = status.done
        part.providerFailed = status.failed
        part.polledAt = polled
        part.nextPollAt = polled.addingTimeInterval(gap)
        if status.isFinal {
            part.outputFileID = status.outputFileID
            part.errorFileID = status.errorFileID
            part.resultsURL = status.resultsURL
            part.error = status.problem
            part.state = status.phase == .failed ? .failed : .ended
        }
        guard try store.save(part, expecting: .submitted) else { return }
        if status.phase == .failed {
            let problem = status.problem ?? "the provider failed the batch"
            notice("\(part.id): \(part.provider) failed the batch: \(problem)\n")
            let pending = try store.requests(part: part.id).filter { !$0.state.isFinal }
            try store.settle(pending.map { ($0, BatchResult(customID: $0.customID, state: .errored, error: problem)) }, part: part,
                             job: job, batchPriced: true)
        } else if status.isFinal {
            try await importResults(part, job: job)
        }
    }

    // MARK: Results

    /// Downloads an ended part's results and settles each exactly once; requests with no result
    /// are expired, canceled or errored as the batch ended.
    private func importResults(_ original: BatchPart, job: BatchJob) async throws {
        // One process downloads a part; another waiting on the job skips it meanwhile.
        guard try store.claim(original.id, for: Self.claimSeconds, now: now()) else { return }
        defer { try? store.release(original.id) }
        guard var part = try store.part(original.id), part.state == .ended else { return }
        let files = try await client(for: part).download(part)
        let settled = try settle(files: files, part: part, job: job)
        let missing = try store.requests(part: part.id).filter { !$0.state.isFinal }
        let state: BatchRequestRecord.State = part.providerState == "expired" || part.providerState?.hasSuffix("_EXPIRED") == true ? .expired
            : part.providerState == "cancelled" || part.providerState?.hasSuffix("_CANCELLED") == true ? .canceled : .errored
        try store.settle(missing.map { ($0, BatchResult(customID: $0.customID, state: state,
                                                        error: state == .errored ? "the provider returned no result for it" : state.rawValue)) },
                         part: part, job: job, batchPriced: true)
        part.state = .done
        try store.save(part, expecting: .ended)
        if settled.problems > 0 { notice("\(part.id): \(settled.problems) result lines were skipped\n") }
    }

    /// Reads result files and settles what they hold; returns how many were settled and skipped.
    public func settle(files: [[UInt8]], part: BatchPart, job: BatchJob) throws -> (settled: Int, problems: Int) {
        let reading = BatchResults.read(part.api, files: files)
        var problems = reading.problems
        let type = try? providers.endpoint(for: part.provider).type
        let livePrice = catalog.price(for: ModelRef(provider: part.provider, model: part.model))
        let batchPrice = livePrice.map { $0.batchPrices() ?? $0 }
        // Results and requests are walked together in custom-id order (the requests a page at a
        // time, as the primary key orders them), so a part of any size is matched in little memory.
        let results = reading.results.sorted { $0.customID.utf8.lexicographicallyPrecedes($1.customID.utf8) }
        var next = 0
        var settled = 0
        var slice: [(request: BatchRequestRecord, result: BatchResult)] = []
        // Settled in slices, each one transaction: a crash keeps what was settled, and no slice
        // waits long for the lock.
        func flush() throws {
            settled += try store.settle(slice, part: part, job: job, batchPriced: true)
            slice.removeAll(keepingCapacity: true)
        }
        var after = ""
        while true {
            let page = try store.requests(part: part.id, job: job.id, after: after, limit: 5000)
            guard let last = page.last else { break }
            for request in page {
                while next < results.count, results[next].customID.utf8.lexicographicallyPrecedes(request.customID.utf8) {
                    problems.append("a result for \(results[next].customID), which this batch did not send")
                    next += 1
                }
                guard next < results.count, results[next].customID == request.customID else { continue }
                slice.append((request, Self.priced(results[next], request: request, batchPrice: batchPrice, livePrice: livePrice,
                                                   type: type ?? .openai)))
                next += 1
                while next < results.count, results[next].customID == request.customID {
                    problems.append("a second result for \(request.customID)")
                    next += 1
                }
                if slice.count == 2000 { try flush() }
            }
            after = last.customID
        }
        for unknown in results[next...] { problems.append("a result for \(unknown.customID), which this batch did not send") }
        try flush()
        for problem in problems { notice("\(part.id): \(problem); skipped\n") }
        return (settled, problems.count)
    }

    /// A result checked as a streamed answer's usage is (evidence, not truth) and priced at batch
    /// prices, with its live price beside it.
    static func priced(_ raw: RawBatchResult, request: BatchRequestRecord, batchPrice: ModelPrice?, livePrice: ModelPrice?,
                       type: ProviderType) -> BatchResult {
        switch raw.outcome {
        case .succeeded(let text, let reasoning, let reported):
            let checked = UsageCheck.check(reported, bounds: request.bounds, answer: text, reasoning: reasoning, price: batchPrice, type: type)
            return BatchResult(customID: raw.customID, state: .succeeded, text: text, usage: checked.usage,
                               costPicos: batchPrice.flatMap { CostCalculator.picos(checked.usage, price: $0, type: type) },
                               liveCostPicos: livePrice.flatMap { CostCalculator.picos(checked.usage, price: $0, type: type) },
                               estimated: checked.inputEstimated || checked.outputEstimated, usageNote: checked.note)
        case .errored(let message):
            return BatchResult(customID: raw.customID, state: .errored, error: message)
        case .expired:
            return BatchResult(customID: raw.customID, state: .expired, error: "the batch expired before this request ran")
        case .canceled:
            return BatchResult(customID: raw.customID, state: .canceled, error: "canceled")
        }
    }

    // MARK: Live parts

    /// Runs a live part's pending requests through the engine, `job.concurrency` at a time. Each
    /// request takes its estimate off the job's reservation and reserves for itself, as any live
    /// request does; each is marked running before it is sent, so that a crash leaves it errored
    /// (for `retry`) rather than sent twice.
    private func runLive(_ original: BatchPart, job: BatchJob) async throws {
        guard try store.claim(original.id, for: Self.claimSeconds, now: now()) else { return }
        defer { try? store.release(original.id) }
        guard var part = try store.part(original.id), !part.state.isFinished else { return }
        let abandoned = try store.abandonRunning(part: part.id)
        if abandoned > 0 { notice("\(part.id): \(abandoned) requests were in flight when their process ended; retry sends them again\n") }
        if part.state != .running {
            let previous = part.state
            part.state = .running
            part.stepAt = now()
            guard try store.save(part, expecting: previous) else { return }
        }
        let pending = try store.requests(part: part.id).filter { $0.state == .pending }
        let limit = Self.raiseOpenFiles(for: job.concurrency, notice: notice)
        let running = part
        let participants = try participants(of: pending)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var started = 0
            for request in pending {
                if started >= limit { try await group.next() }
                started += 1
                group.addTask { try await self.runLive(request, participant: participants[request.persona]!, part: running, job: job) }
            }
            try await group.waitForAll()
        }
        part = try store.part(part.id) ?? part
        part.state = .done
        try store.save(part, expecting: .running)
    }

    private func runLive(_ request: BatchRequestRecord, participant: Participant, part: BatchPart, job: BatchJob) async throws {
        let turn = try liveTurn(request, participant: participant, job: job)
        guard try await store.markRunning(request, of: job) else { return }
        var running = request
        running.state = .running
        let outcome = Shared<BatchResult?>(nil)
        await engine.run(turn) { event in
            switch event.kind {
            case .done(let report):
                outcome.value = BatchResult(customID: request.customID, state: .succeeded, text: report.text, usage: report.usage,
                                            costPicos: report.costPicos, estimated: report.estimated, usageNote: report.usageNote)
            case .failed(let error, let report):
                outcome.value = BatchResult(customID: request.customID, state: error.kind == .cancelled ? .canceled : .errored,
                                            text: report.text, error: error.description, usage: report.usage, costPicos: report.costPicos,
                                            estimated: report.estimated)
            default:
                break
            }
        }
        let result = outcome.value ?? BatchResult(customID: request.customID, state: .errored, error: "the turn ended without a result")
        try await store.settleLive(running, result: result, part: part, job: job)
    }

    /// Each persona of `requests`, on its model, planned once for all of them.
    func participants(of requests: [BatchRequestRecord]) throws -> [String: Participant] {
        try Set(requests.map(\.persona)).reduce(into: [:]) { $0[$1] = try planner.participants(named: [$1])[0] }
    }

    /// The turn a request of the job makes, planned as `ask` (round 1) or `debate` (later
    /// rounds, from the prompt's session) would plan it.
    func liveTurn(_ request: BatchRequestRecord, participant: Participant, job: BatchJob) throws -> PlannedTurn {
        if request.round == 1 {
            return BatchPlanner.capped(try planner.questions(request.prompt, to: [participant], session: request.session,
                                                             maxTokens: job.maxTokens, catalog: catalog)[0], catalog: catalog)
        }
        return BatchPlanner.capped(TurnPlanner.turn(participant, messages: try roundMessages(request), session: request.session,
                                                    round: request.round, maxTokens: job.maxTokens,
                                                    promptCache: planner.workspace.config.promptCache, cacheThroughLastMessage: true,
                                                    catalog: catalog), catalog: catalog)
    }

    /// What a persona sees in a later round: the prompt, its own earlier answers, and the
    /// others' answers of the round before, as `persona debate --mode rounds` shows them.
    func roundMessages(_ request: BatchRequestRecord) throws -> [ChatMessage] {
        let transcript = try SessionStore(database: store.database).load(request.session)?.messages ?? []
        return PromptBuilder.messages(for: request.persona, mode: .rounds, transcript: transcript, round: request.round)
    }

    /// Raises the open-files limit as far as the hard limit allows, and returns how many requests
    /// may run at once under it (each holds a socket, with room kept for the rest of the process).
    static func raiseOpenFiles(for concurrency: Int, notice: @Sendable (String) -> Void) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return concurrency }
        let wanted = rlim_t(concurrency * 2 + 64)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = min(wanted, limit.rlim_max)
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let allowed = max(1, (Int(clamping: limit.rlim_cur) - 64) / 2)
        if allowed < concurrency {
            notice("the open-files limit (\(limit.rlim_cur), hard \(limit.rlim_max)) allows \(allowed) requests at once, not \(concurrency)\n")
            return allowed
        }
        return concurrency
    }

    // MARK: Rounds

    /// When every part of the job's last round has finished: plans the next round, or ends the job.
    private func finishRoundIfDone(_ job: BatchJob) async throws {
        let parts = try store.parts(job: job.id)
        guard parts.allSatisfy({ $0.state.isFinished }) else { return }
        let round = parts.map(\.round).max() ?? 1
        if job.state == .cancelling {
            try store.finish(job, as: .cancelled)
        } else if job.mode != .parallel, round < job.rounds {
            try planRound(round + 1, job: job, parts: parts)
        } else {
            try store.finish(job, as: .ended)
        }
    }

    /// Round `round` of a debate job: each persona whose answer of the round before succeeded
    /// answers the others' answers; one that failed sits out the rest of that prompt, marked.
    func planRound(_ round: Int, job: BatchJob, parts: [BatchPart]) throws {
        let requests = try store.requests(job: job.id)
        let previous = requests.filter { $0.round == round - 1 }
        var next: [BatchRequestRecord] = []
        let apis = Self.apis(of: parts)
        let sittingOut = previous.filter { $0.state != .succeeded }
        let participants = try participants(of: previous)
        for earlier in previous where earlier.state == .succeeded {
            var request = earlier
            request.customID = BatchRequestRecord.customID(round: round, promptIndex: earlier.promptIndex, personaIndex: earlier.personaIndex)
            request.round = round
            request.part = nil
            request.state = .pending
            request.text = nil
            request.error = nil
            request.ledgerID = nil
            let turn = try liveTurn(request, participant: participants[request.persona]!, job: job)
            let price = catalog.price(for: turn.model)
            let billed = apis[request.provider] == .live ? price : price.map { $0.batchPrices() ?? $0 }
            request.body = apis[request.provider] == .live ? nil : BatchClient.body(for: turn.request, endpoint: turn.endpoint)
            request.bounds = UsageCheck.Bounds(turn.request, price: price, type: turn.endpoint.type)
            request.estimatePicos = billed.flatMap { BudgetGuard.worstCasePicos(turn.request, price: $0, type: turn.endpoint.type) }
            next.append(request)
        }
        var skipped: [BatchRequestRecord] = []
        for failed in sittingOut {
            for later in round...job.rounds {
                var request = failed
                request.customID = BatchRequestRecord.customID(round: later, promptIndex: failed.promptIndex, personaIndex: failed.personaIndex)
                request.round = later
                request.part = nil
                request.body = nil
                request.state = .skipped
                request.error = "sat out: its answer in round \(round - 1) failed"
                request.estimatePicos = nil
                skipped.append(request)
            }
        }
        let newParts = BatchPlanner.parts(for: &next, apis: apis, job: job, round: round, firstNumber: parts.count + 1, now: now())
        let known = Set(requests.map(\.customID))
        try store.addRound(newParts, requests: next + skipped.filter { !known.contains($0.customID) })
    }

    /// The batch API each provider of a job travels through, as its parts record it.
    static func apis(of parts: [BatchPart]) -> [String: BatchAPI] {
        Dictionary(parts.map { ($0.provider, $0.api) }, uniquingKeysWith: { _, last in last })
    }

    // MARK: Cancel and retry

    /// Cancels the job at its providers; results already done are kept and settled when the
    /// batches end. Requests not yet sent are marked canceled. Returns parts the provider
    /// refused to cancel.
    public func cancel(_ jobID: String) async throws -> [Stuck] {
        guard let found = try store.job(jobID), found.state.isActive else { return [] }
        try store.markCancelling(found.id)
        let job = try store.job(jobID) ?? found
        var stuck: [Stuck] = []
        for part in try store.parts(job: job.id) where !part.state.isFinished {
            switch part.state {
            case .submitted:
                do {
                    try await client(for: part).cancel(batchID: part.batchID ?? "")
                } catch let error as BatchCallError {
                    stuck.append(Stuck(part: part.id, message: error.message))
                }
            case .planned, .running:
                // Nothing of these was sent, or each request is marked before it is: what is
                // still pending is canceled here, and a live runner skips it.
                let pending = try store.requests(part: part.id).filter { $0.state == .pending }
                try store.settle(pending.map { ($0, BatchResult(customID: $0.customID, state: .canceled, error: "canceled before it was sent")) },
                                 part: part, job: job, batchPriced: false, ledgerRow: false)
                if part.state == .planned {
                    var finished = part
                    finished.state = .done
                    try store.save(finished, expecting: .planned)
                }
            default:
                // Mid-upload or mid-create in another process: its batch is canceled once it is recorded.
                break
            }
        }
        if try store.parts(job: job.id).allSatisfy({ $0.state.isFinished }) { try store.finish(job, as: .cancelled) }
        return stuck
    }

    /// The requests `retry` sends again: those that errored, expired or were canceled (a request
    /// that sat out a later round after an earlier failure stays skipped).
    public func retryable(_ jobID: String) throws -> [BatchRequestRecord] {
        try store.requests(job: jobID).filter { $0.state.isRetryable }
    }

    /// Submits the failed requests again as new parts, reserving their estimate first.
    @discardableResult
    public func retry(_ jobID: String, caps: BudgetCaps) throws -> (requests: Int, parts: [BatchPart]) {
        guard let job = try store.job(jobID) else { return (0, []) }
        var again = try retryable(jobID)
        guard !again.isEmpty else { return (0, []) }
        let existing = try store.parts(job: job.id)
        let apis = Self.apis(of: existing)
        for index in again.indices { again[index].part = nil }
        let round = again.map(\.round).max() ?? 1
        let parts = BatchPlanner.parts(for: &again, apis: apis, job: job, round: round, firstNumber: existing.count + 1, now: now())
        let estimate = again.reduce(Int64?(0)) { total, request in
            guard let total, let each = request.estimatePicos else { return nil }
            return Money.sum(total, each)
        }
        let claim = ReservationClaim(session: "batch:" + job.id, persona: "batch", provider: "retry", model: "\(again.count) requests",
                                     inputTokens: 0, maxOutputTokens: 0, picos: estimate)
        try store.resend(again.map { ($0.customID, $0.part!) }, in: parts, job: job, claim: claim, caps: caps, now: now())
        return (again.count, parts)
    }
}
