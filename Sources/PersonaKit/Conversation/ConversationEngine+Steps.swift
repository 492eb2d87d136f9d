import Foundation

/// The steps a turn takes after its first answer: the tools it asks for, then the repairs of an
/// answer that breaks its schema. Each step is a request with its own ledger row, budget
/// reservation and retries; the `done` report sums them.
extension ConversationEngine {
    func conclude(_ turn: PlannedTurn, route: Route, request original: ChatRequest, answer: TurnReport, id: TurnID,
                  onEvent: @Sendable (TurnEvent) -> Void) async {
        var request = original
        var latest = answer
        var total = answer
        var step = 1
        while !latest.toolCalls.isEmpty {
            let offered = Set(request.tools.map(\.name))
            if offered.isEmpty {
                // Nothing was offered, so nothing runs: the calls are reported and the turn ends.
                for call in latest.toolCalls { onEvent(TurnEvent(id, .toolCall(ToolActivity(step: step, call: call, label: call.name)))) }
                total.finishReason = FinishReason(kind: .toolCalls, raw: total.finishReason?.raw ?? "tool_calls")
                return onEvent(TurnEvent(id, .done(total)))
            }
            guard step < toolSettings.maxSteps else {
                let names = latest.toolCalls.map(\.name).joined(separator: ", ")
                let error = ProviderError(kind: .tools, message: "the model still asked for tools (\(names)) after \(step) steps, "
                    + "the most max_tool_steps allows; those calls were not run")
                return onEvent(TurnEvent(id, .failed(error, total)))
            }
            let toolsStarted = MonotonicClock.now
            let results = await runTools(latest.toolCalls, step: step, offered: offered, persona: turn.persona, id: id, onEvent: onEvent)
            // The turn's duration holds its tools' time as well as its requests'.
            total.duration += MonotonicClock.seconds(from: toolsStarted)
            if Task.isCancelled { return onEvent(TurnEvent(id, .failed(.stoppedByUser, total))) }
            let said: [ContentPart] = latest.text.isEmpty ? [] : [.text(latest.text)]
            request.messages += [ChatMessage(role: .assistant, parts: said + latest.toolCalls.map { .toolCall($0) }),
                                 ChatMessage(role: .tool, parts: results.map { .toolResult($0) })]
            step += 1
            switch await attempts(turn, route: route, request: request, id: id, onEvent: onEvent) {
            case .answered(let report):
                latest = report
                total = total.followed(by: report, replacingText: false)
            case .stopped(let error, let report), .failedOver(let error, let report):
                // A later step does not fail over: the turn ends with what all its steps cost.
                return onEvent(TurnEvent(id, .failed(error, total.followed(by: report, replacingText: false))))
            }
        }
        await checkSchema(turn, route: route, request: request, latest: latest, total: total, id: id, onEvent: onEvent)
    }

    /// Runs one step's calls at once and returns their results in the calls' order. A tool that
    /// was not offered, fails or outlasts `tool_timeout` gives an error result; none is run twice.
    func runTools(_ calls: [ToolCall], step: Int, offered: Set<String>, persona: Persona, id: TurnID,
                  onEvent: @Sendable (TurnEvent) -> Void) async -> [ToolResult] {
        guard let toolBox else { return calls.map { ToolResult(callID: $0.id, content: "tools cannot be called here", isError: true) } }
        let timeout = toolSettings.timeout
        var activities: [ToolActivity] = []
        for call in calls {
            let activity = ToolActivity(step: step, call: call, label: await toolBox.label(call.name))
            activities.append(activity)
            onEvent(TurnEvent(id, .toolCall(activity)))
        }
        let finished = await withTaskGroup(of: (Int, ToolResult, Double).self) { group in
            for (position, call) in calls.enumerated() {
                group.addTask {
                    let started = MonotonicClock.now
                    let result: ToolResult
                    if offered.contains(call.name) {
                        result = await Self.withTimeout(timeout, call: call) { await toolBox.run(call, for: persona, timeout: timeout) }
                    } else {
                        result = ToolResult(callID: call.id, content: "there is no tool named \(call.name); the tools are: "
                            + offered.sorted().joined(separator: ", "), isError: true)
                    }
                    // A tool may print a key it can see; it is hidden before the result goes anywhere.
                    let shown = ToolResult(callID: result.callID, content: Secrets.redact(result.content), isError: result.isError)
                    return (position, shown, MonotonicClock.seconds(from: started))
                }
            }
            var results: [(Int, ToolResult, Double)] = []
            for await result in group { results.append(result) }
            return results
        }
        var results = calls.map { ToolResult(callID: $0.id, content: "not run", isError: true) }
        for (position, result, duration) in finished.sorted(by: { $0.0 < $1.0 }) {
            results[position] = result
            var activity = activities[position]
            activity.result = result
            activity.duration = duration
            onEvent(TurnEvent(id, .toolResult(activity)))
        }
        return results
    }

    /// The tool's result, or an error result once `seconds` have passed; the tool is then cancelled.
    static func withTimeout(_ seconds: Double, call: ToolCall, _ work: @escaping @Sendable () async -> ToolResult) async -> ToolResult {
        await withTaskGroup(of: ToolResult?.self) { group in
            group.addTask { await work() }
            group.addTask {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                return Task.isCancelled ? nil : ToolResult(callID: call.id, content: "the tool did not finish within "
                    + "\(CurlTransport.formatSeconds(seconds)) s (tool_timeout)", isError: true)
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? ToolResult(callID: call.id, content: "stopped by the user", isError: true)
        }
    }

    /// An answer in a schema is checked; one that breaks it goes back to the model with its
    /// problems, up to the persona's `schema_repair` times. A refusal is never repaired.
    private func checkSchema(_ turn: PlannedTurn, route: Route, request original: ChatRequest, latest answer: TurnReport, total sum: TurnReport,
                             id: TurnID, onEvent: @Sendable (TurnEvent) -> Void) async {
        guard let format = original.responseFormat, answer.refusal == nil else { return onEvent(TurnEvent(id, .done(sum))) }
        var request = original
        var latest = answer
        var total = sum
        var check = StructuredAnswer(checking: latest.text, against: format.schema)
        let allowed = turn.persona.schemaRepair ?? 1
        var repairs = 0
        while !check.isValid, repairs < allowed {
            repairs += 1
            onEvent(TurnEvent(id, .repair(SchemaRepair(attempt: repairs, of: allowed, problems: check.problems, rejectedText: latest.text))))
            let rejected = latest.text.isEmpty ? "(an empty answer)" : latest.text
            request.messages += [ChatMessage(role: .assistant, content: rejected), ChatMessage(role: .user, content: check.repairRequest)]
            switch await attempts(turn, route: route, request: request, id: id, onEvent: onEvent) {
            case .answered(let report):
                latest = report
                total = total.followed(by: report, replacingText: true)
                if report.refusal != nil { return onEvent(TurnEvent(id, .done(total))) }
                check = StructuredAnswer(checking: latest.text, against: format.schema)
            case .stopped(let error, let report), .failedOver(let error, let report):
                return onEvent(TurnEvent(id, .failed(error, total.followed(by: report, replacingText: true))))
            }
        }
        total.structured = check
        onEvent(TurnEvent(id, .done(total)))
    }
}
