import Foundation

/// How a council runs, beside its members (`DebatePlan.participants`).
public struct CouncilPlan: Sendable {
    public var chairman: Participant
    /// 1, or 2 for a second pass of every review with the order reversed.
    public var reviewOrders: Int
    public var selfReview: CouncilBallot.SelfReview
    /// Draws the labels, the nonce and the orders; recorded in the session.
    public var seed: UInt64

    public init(chairman: Participant, reviewOrders: Int = 1, selfReview: CouncilBallot.SelfReview = .recuse,
                seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.chairman = chairman
        self.reviewOrders = reviewOrders
        self.selfReview = selfReview
        self.seed = seed
    }

    /// A council needs this many members: with fewer, a recused reviewer has nothing to rank.
    public static let minimumMembers = 3
}

/// What `--chairman`, `--review-orders`, `--self-review` and `--seed` say; nil leaves it to the config.
public struct CouncilOverrides: Sendable {
    public var chairman: String?
    public var reviewOrders: Int?
    public var selfReview: CouncilBallot.SelfReview?
    public var seed: UInt64?

    public init(chairman: String? = nil, reviewOrders: Int? = nil, selfReview: CouncilBallot.SelfReview? = nil, seed: UInt64? = nil) {
        self.chairman = chairman
        self.reviewOrders = reviewOrders
        self.selfReview = selfReview
        self.seed = seed
    }
}

/// A council's reviews, revealed: the ballot, every verdict and the ranking.
public struct CouncilOutcome: Sendable, Equatable {
    public var ballot: CouncilBallot
    public var verdicts: [CouncilVerdict]
    public var result: CouncilResult
    /// Display names by persona id.
    public var names: [String: String]

    /// What the session keeps of it: the seed, the label map, every verdict and the ranking.
    public var record: JSON {
        func object(_ members: [(String, JSON)]) -> JSON { .object(JSONObject(members.map { JSONObject.Member(key: $0.0, value: $0.1) })) }
        return object([
            ("seed", .string(String(ballot.seed))),
            ("labels", object(ballot.labels.map { ($0, .string(ballot.author(of: $0) ?? "")) })),
            ("verdicts", .array(verdicts.map { verdict in
                object([("reviewer", .string(verdict.reviewer)), ("pass", .int(verdict.pass)),
                        ("order", .array(verdict.order.map(JSON.string))),
                        ("ranking", verdict.ranking.map { .array($0.map(JSON.string)) } ?? .null), ("valid", .bool(verdict.isValid))])
            })),
            ("ranking", .array(result.rows.map { row in
                object([("label", .string(row.label)), ("author", .string(row.author)), ("place", .int(row.place)),
                        ("mean_rank", row.meanRank.map(JSON.double) ?? .null), ("borda", row.borda.map(JSON.double) ?? .null),
                        ("first_places", .int(row.firstPlaces)), ("spread", .int(row.spread))])
            })),
        ])
    }

    /// The ranking as a table, for the transcript and the printers.
    public var table: String {
        func cell(_ text: String, _ width: Int) -> String { text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count) }
        var lines = [cell("Place", 7) + cell("Answer", 8) + cell("Author", 22) + cell("Mean rank", 11) + cell("Borda", 7) + cell("Firsts", 8) + "Spread"]
        for row in result.rows {
            lines.append(cell("\(row.place)", 7) + cell(row.label, 8) + cell(names[row.author] ?? row.author, 22)
                + cell(row.meanRank.map { String(format: "%.2f", $0) } ?? "–", 11) + cell(row.borda.map { String(format: "%.2f", $0) } ?? "–", 7)
                + cell("\(row.firstPlaces)", 8) + "\(row.spread)")
        }
        for reviewer in result.reviewers {
            var notes: [String] = []
            if let consistency = reviewer.consistency {
                notes.append(String(format: "%.0f%% of pairs held with the order reversed", consistency * 100))
                if reviewer.positionBiased { notes.append("position-biased") }
            }
            if let selfRank = reviewer.selfRank { notes.append("ranked its own answer \(selfRank)") }
            if verdicts.contains(where: { $0.reviewer == reviewer.reviewer && !$0.isValid }) { notes.append("a verdict could not be read") }
            if !notes.isEmpty { lines.append("\(names[reviewer.reviewer] ?? reviewer.reviewer): " + notes.joined(separator: "; ")) }
        }
        return lines.joined(separator: "\n")
    }
}

extension DebateRunner {
    /// A council (DESIGN.md §13): every member answers; each reviews the others' answers blind,
    /// under labels, in its own order; the chairman answers from the answers and the reviews.
    func conductCouncil(_ plan: DebatePlan, message: String, round: Int, log: Log, control: DebateControl,
                        emit: @escaping @Sendable (DebateEvent) -> Void) async -> DebateEnd {
        guard let council = plan.council else { return .roundsDone }
        if let refusal = councilRefusal(plan, message: message, history: log.all) { return .councilOverBudget(refusal) }
        save(TranscriptMessage.user(message, round: round), plan: plan, log: log, emit: emit)
        emit(.stage(1, name: "answers", spent: spent(plan)))
        emit(.round(1, of: 1))
        let transcript = log.all
        var stop: DebateEnd?
        await withTaskGroup(of: DebateEnd?.self) { group in
            for member in plan.participants {
                group.addTask { await self.turn(member, round: round, plan: plan, transcript: transcript, log: log, control: control, emit: emit) }
            }
            for await turnStop in group where stop != .ledger { stop = turnStop ?? stop }
        }
        if let stop { return stop }
        if let failure = log.failure { return .transcript(failure) }
        if Task.isCancelled { return .cancelled }
        // A member that failed stage 1 is left out of the rest.
        var answers: [String: String] = [:]
        for message in log.all where message.round == round && message.role == .persona && message.status == .complete && !message.text.isEmpty {
            answers[message.speaker] = message.text
        }
        let members = plan.participants.filter { answers[$0.persona.id] != nil }
        var names = Dictionary(plan.participants.map { ($0.persona.id, $0.persona.name) }, uniquingKeysWith: { first, _ in first })
        names[council.chairman.persona.id] = council.chairman.persona.name

        let ballot = CouncilBallot(authors: members.map(\.persona.id), seed: council.seed)
        var outcome: CouncilOutcome?
        if members.count >= 2 {
            emit(.stage(2, name: "review", spent: spent(plan)))
            let labelled = Dictionary(uniqueKeysWithValues: ballot.labels.map { ($0, answers[ballot.author(of: $0) ?? ""] ?? "") })
            let reviews = Shared<[CouncilVerdict]>([])
            await withTaskGroup(of: DebateEnd?.self) { group in
                for reviewer in members {
                    for pass in 1...council.reviewOrders {
                        group.addTask {
                            let (verdict, end) = await self.review(by: reviewer, pass: pass, ballot: ballot, answers: labelled, question: message,
                                                                   round: round, plan: plan, log: log, emit: emit)
                            reviews.withLock { $0.append(verdict) }
                            return end
                        }
                    }
                }
                for await turnStop in group where stop != .ledger { stop = turnStop ?? stop }
            }
            if let stop { return stop }
            if Task.isCancelled { return .cancelled }
            let verdicts = reviews.value.sorted { ($0.reviewer, $0.pass) < ($1.reviewer, $1.pass) }
            let revealed = CouncilOutcome(ballot: ballot, verdicts: verdicts, result: CouncilAggregate.rank(verdicts, ballot: ballot), names: names)
            outcome = revealed
            emit(.council(revealed))
            save(TranscriptMessage(round: round, speaker: TranscriptMessage.councilSpeaker, name: "Council ranking", role: .reviewer, text: revealed.table,
                                   structured: revealed.record), plan: plan, log: log, emit: emit)
            saveVotes(revealed, plan: plan, message: message, round: round, log: log)
        }
        guard !members.isEmpty else { return .roundsDone }

        emit(.stage(3, name: "chair", spent: spent(plan)))
        let prompt = CouncilPrompts.chairman(question: message, ballot: ballot, answers: answers, names: names, verdicts: outcome?.verdicts ?? [],
                                             result: outcome?.result ?? CouncilResult(rows: [], reviewers: []))
        var chairman = council.chairman
        chairman.persona.schema = nil
        stop = await turn(chairman, round: round, plan: plan, transcript: log.all, log: log, role: .chairman,
                          messages: [ChatMessage(role: .user, content: prompt)], emit: emit)
        if let stop { return stop }
        if let failure = log.failure { return .transcript(failure) }
        return Task.isCancelled ? .cancelled : .roundsDone
    }

    /// The readable verdicts, as votes for the leaderboard (`--source council`).
    private func saveVotes(_ outcome: CouncilOutcome, plan: DebatePlan, message: String, round: Int, log: Log) {
        guard let store else { return }
        let answers = log.all.filter { $0.round == round && $0.role == .persona && $0.status == .complete }
        let votes = outcome.votes(session: plan.session.id, turn: log.all.filter { $0.role == .user }.count, round: round,
                                  prompt: message, answers: answers)
        do {
            _ = try VoteStore(database: store.database).record(votes)
        } catch {
            log.fail("the council's verdicts could not be saved as votes: \(error)")
        }
    }

    /// What the session's ledger rows hold now: every request of a stage is recorded before its
    /// turn ends, and a stage begins only when the one before has ended.
    private func spent(_ plan: DebatePlan) -> CostTotals? {
        try? engine.accounting?.ledger?.totals(session: plan.session.id)
    }

    /// One review: the answers under labels in this reviewer's order, its verdict read, and asked
    /// for once more, with the problem named, when it cannot be read.
    private func review(by reviewer: Participant, pass: Int, ballot: CouncilBallot, answers: [String: String], question: String,
                        round: Int, plan: DebatePlan, log: Log,
                        emit: @escaping @Sendable (DebateEvent) -> Void) async -> (CouncilVerdict, DebateEnd?) {
        let order = ballot.order(for: reviewer.persona.id, selfReview: plan.council?.selfReview ?? .recuse, pass: pass)
        let labels = order.sorted()
        // The verdict is asked for in its schema, and read and asked for again here, not by the engine:
        // a FINAL RANKING: list is read as it is, and a repeated label is named.
        var speaker = reviewer
        speaker.persona.schema = nil
        speaker.persona.schemaRepair = 0
        var messages = [ChatMessage(role: .user, content: CouncilPrompts.review(question: question, answers: answers, order: order,
                                                                                nonce: ballot.nonce, inPrompt: true))]
        let format = CouncilVerdict.schema(labels: labels).responseFormat
        for attempt in 1...2 {
            let report = Shared<TurnReport?>(nil)
            if let stop = await turn(speaker, round: round, plan: plan, transcript: log.all, log: log, role: .reviewer, messages: messages,
                                     responseFormat: format, report: report, emit: emit) {
                return (CouncilVerdict(reviewer: reviewer.persona.id, pass: pass, order: order, ranking: nil), stop)
            }
            guard let answer = report.value else { break }
            switch VerdictReading.read(structured: nil, text: answer.text, labels: labels) {
            case .ranked(let ranking, let critiques):
                return (CouncilVerdict(reviewer: reviewer.persona.id, pass: pass, order: order, ranking: ranking, critiques: critiques), nil)
            case .unreadable(let problem) where attempt == 1:
                messages += [ChatMessage(role: .assistant, content: answer.text.isEmpty ? "(no answer)" : answer.text),
                             ChatMessage(role: .user, content: CouncilPrompts.askAgain(problem: problem, labels: labels))]
            case .unreadable:
                break
            }
        }
        return (CouncilVerdict(reviewer: reviewer.persona.id, pass: pass, order: order, ranking: nil), nil)
    }

    /// Why the council may not begin: its whole worst case (every answer, every review holding
    /// every answer at its output limit, and the chairman's) does not fit in what is left of the
    /// budget, or cannot be priced under a cap. Nil when it may.
    func councilRefusal(_ plan: DebatePlan, message: String, history: [TranscriptMessage]) -> String? {
        guard let accounting = engine.accounting, let ledger = accounting.ledger, let council = plan.council else { return nil }
        let caps = accounting.budget.caps
        guard !caps.isEmpty else { return nil }
        guard let estimate = Self.councilEstimate(plan, council: council, message: message, history: history, catalog: accounting.catalog) else {
            return "a model of the council has no known price, so the budget cannot cap it; nothing was sent"
        }
        guard let left = try? ledger.available(caps: caps, session: plan.session.id), estimate > left else { return nil }
        return "the council could cost up to \(Money.format(picos: estimate)) (\(plan.participants.count) answers, "
            + "\(plan.participants.count * council.reviewOrders) reviews and the chairman's answer), and \(Money.format(picos: left)) "
            + "of the budget is left; nothing was sent"
    }

    static func councilEstimate(_ plan: DebatePlan, council: CouncilPlan, message: String, history: [TranscriptMessage],
                                catalog: PriceCatalog) -> Int64? {
        let transcript = history + [TranscriptMessage.user(message, round: 1)]
        var total: Int64 = 0
        var answerTokens = 0
        var answers: [(Participant, Int)] = []
        for member in plan.participants {
            let turn = TurnPlanner.turn(member, messages: PromptBuilder.messages(for: member.persona.id, mode: .council, transcript: transcript,
                                                                                 round: 1),
                                        session: plan.session.id, maxTokens: plan.maxTokens, promptCache: plan.promptCache,
                                        cacheThroughLastMessage: false, catalog: catalog)
            guard let price = catalog.price(for: member.model),
                  let worst = BudgetGuard.worstCasePicos(turn.request, price: price, type: member.endpoint.type) else { return nil }
            let output = UsageCheck.outputLimit(turn.request, price: price, type: member.endpoint.type) ?? BudgetGuard.defaultMaxTokens
            total = Money.sum(total, worst) ?? .max
            answerTokens += output
            answers.append((member, output))
        }
        // Each review holds every answer at its limit; the chairman holds them and every review.
        let question = TokenEstimator.estimate(message) + 300
        for member in plan.participants {
            guard let price = catalog.price(for: member.model) else { return nil }
            let output = answers.first { $0.0.persona.id == member.persona.id }?.1 ?? BudgetGuard.defaultMaxTokens
            let cost = CostCalculator.picos(Usage(inputTokens: question + answerTokens, outputTokens: output), price: price,
                                            type: member.endpoint.type)
            guard let cost else { return nil }
            let (reviews, overflow) = cost.multipliedReportingOverflow(by: Int64(council.reviewOrders))
            total = overflow ? .max : Money.sum(total, reviews) ?? .max
        }
        let chairman = council.chairman
        guard let price = catalog.price(for: chairman.model) else { return nil }
        let reviewTokens = answers.reduce(0) { $0 + $1.1 } * council.reviewOrders
        let output = plan.maxTokens ?? chairman.persona.maxTokens ?? min(price.maxOutput ?? BudgetGuard.defaultMaxTokens, BudgetGuard.defaultMaxTokens)
        guard let chair = CostCalculator.picos(Usage(inputTokens: question + answerTokens + reviewTokens, outputTokens: output), price: price,
                                               type: chairman.endpoint.type) else { return nil }
        return Money.sum(total, chair) ?? .max
    }
}
