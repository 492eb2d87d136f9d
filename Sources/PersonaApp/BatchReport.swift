import Foundation
import PersonaKit
import TerminalUI

/// What `persona batch` prints: the plan before a job is sent, the jobs, a job's parts, its
/// progress, and its results in every format.
public enum BatchReport {
    static func price(_ picos: Int64?) -> String { picos.map { "≤ " + Money.format(picos: $0) } ?? "price unknown" }

    /// The plan: requests per provider and model, with the estimate at batch prices beside the live one.
    public static func plan(_ plan: BatchPlan, prompts: Int, personas: Int) -> String {
        let rounds = plan.job.mode == .parallel ? "" : " × \(plan.job.rounds) rounds"
        var text = "Plan: \(plan.requests.count) requests (\(prompts) prompts × \(personas) personas)\(rounds), "
            + "\(plan.parts.count) part\(plan.parts.count == 1 ? "" : "s")\n"
        text += TextTable.render(
            header: ["PROVIDER:MODEL", "VIA", "REQUESTS", "AT BATCH PRICES", "LIVE"],
            rows: plan.lines.map { line in
                ["\(line.provider):\(line.model)", line.api == .live ? "live" : "batch API", "\(line.requests)",
                 line.api == .live ? "-" : price(line.batchPicos), price(line.livePicos)]
            }, maxWidths: [48, 9, 8, 18, 18])
        text += "Estimated: \(price(plan.job.estimatePicos)) (inputs plus max_tokens; live: \(price(plan.job.liveEstimatePicos)))\n"
        return text
    }

    /// `submit --json`'s `job` event.
    public static func jobEvent(_ plan: BatchPlan) -> String {
        JSON.object([
            "event": .string("job"), "id": .string(plan.job.id), "name": plan.job.name.map { .string($0) } ?? .null,
            "requests": .int(plan.requests.count), "parts": .int(plan.parts.count),
            "estimated_cost_usd": EventJSON.cost(plan.job.estimatePicos), "live_estimated_cost_usd": EventJSON.cost(plan.job.liveEstimatePicos),
        ]).serialized + "\n"
    }

    static func age(_ date: Date, now: Date) -> String {
        let seconds = Int(max(0, now.timeIntervalSince(date)))
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }

    /// A job's cost as `persona sessions list` and `persona costs` write a total: exact, `~` when
    /// some of it is estimated, `+?` when some of it has no price.
    static func cost(_ progress: BatchProgress) -> String { CostsReport.money(progress.cost) }

    /// The cost in JSON, as the sessions list gives it: null unless every row has a price.
    static func costJSON(_ progress: BatchProgress) -> JSON {
        progress.cost.unpriced > 0 ? .null : EventJSON.amount(progress.cost.picos)
    }

    public static func list(_ jobs: [(BatchJob, BatchProgress)], now: Date = Date()) -> String {
        guard !jobs.isEmpty else { return "No batch jobs yet. Start one with `persona batch submit --prompts FILE`.\n" }
        return TextTable.render(
            header: ["ID", "NAME", "AGE", "STATE", "DONE", "FAILED", "TOTAL", "COST"],
            rows: jobs.map { job, progress in
                [job.id, InertText.sanitize(job.name ?? ""), age(job.created, now: now), job.state.rawValue, "\(progress.succeeded)",
                 "\(progress.failed)", "\(progress.total)", cost(progress)]
            }, maxWidths: [12, 24, 5, 10, 7, 7, 7, 24])
    }

    public static func listJSON(_ jobs: [(BatchJob, BatchProgress)]) -> String {
        JSON.object(["jobs": .array(jobs.map { job, progress in
            .object(["id": .string(job.id), "name": job.name.map { .string($0) } ?? .null,
                     "created": .string(SessionsReport.iso(job.created)), "state": .string(job.state.rawValue),
                     "succeeded": .int(progress.succeeded), "failed": .int(progress.failed), "total": .int(progress.total),
                     "cost_usd": costJSON(progress)])
        })]).serialized + "\n"
    }

    public static func status(_ job: BatchJob, parts: [BatchPart], progress: BatchProgress, now: Date = Date()) -> String {
        var text = "Job \(job.id)\(job.name.map { " (\(InertText.sanitize($0)))" } ?? "") · \(job.state.rawValue) · "
            + "submitted \(SessionsReport.date(job.created))\n"
        text += "\(progress.succeeded) succeeded, \(progress.failed) failed, \(progress.total - progress.finished) to go, of \(progress.total)"
            + " · cost so far \(cost(progress)) · estimate \(price(job.estimatePicos))\n"
        text += TextTable.render(
            header: ["PART", "ROUND", "PROVIDER:MODEL", "VIA", "STATE", "PROVIDER", "BATCH ID", "POLLED"],
            rows: parts.map { part in
                [part.id, "\(part.round)", "\(part.provider):\(part.model)", part.api == .live ? "live" : "batch API", part.state.rawValue,
                 InertText.sanitize(part.providerState ?? "-"), part.batchID ?? part.fileID ?? "-",
                 part.polledAt.map { age($0, now: now) + " ago" } ?? "-"]
            }, maxWidths: [16, 5, 40, 9, 9, 22, 30, 10])
        for part in parts {
            if let error = part.error { text += "\(part.id): \(InertText.sanitize(error))\n" }
        }
        return text
    }

    /// `wait --json`'s `progress` event.
    public static func progressEvent(_ job: BatchJob, _ progress: BatchProgress, elapsed: Double) -> String {
        JSON.object([
            "event": .string("progress"), "id": .string(job.id), "state": .string(job.state.rawValue),
            "succeeded": .int(progress.succeeded), "failed": .int(progress.failed), "done": .int(progress.finished),
            "total": .int(progress.total), "cost_usd": costJSON(progress), "elapsed_s": .int(Int(elapsed)),
        ]).serialized + "\n"
    }

    /// The progress bar `wait` redraws on a terminal.
    public static func progressBar(_ progress: BatchProgress, elapsed: Double, width: Int = 30) -> String {
        let filled = progress.total == 0 ? width : width * progress.finished / progress.total
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let seconds = Int(elapsed)
        return "\(bar) \(progress.finished)/\(progress.total) · \(progress.failed) failed · \(cost(progress)) · "
            + String(format: "%d:%02d", seconds / 60, seconds % 60)
    }

    public enum Format: String, CaseIterable, Sendable {
        case markdown
        case json
        case jsonl
        case csv
    }

    /// The answers by prompt and persona.
    public static func results(_ job: BatchJob, _ requests: [BatchRequestRecord], format: Format) -> String {
        switch format {
        case .json: return JSON.array(requests.map(resultObject)).serialized + "\n"
        case .jsonl: return requests.map { resultObject($0).serialized + "\n" }.joined()
        case .csv:
            let header = "prompt_id,persona,round,provider,model,status,input_tokens,output_tokens,cost_usd,text,error\n"
            return header + requests.map { request in
                [request.promptID, request.persona, "\(request.round)", request.provider, request.model, status(request),
                 request.usage.inputTokens.map(String.init) ?? "", request.usage.outputTokens.map(String.init) ?? "",
                 request.costPicos.map(Money.exactText) ?? "", request.text ?? "", request.error ?? ""]
                    .map(csvField).joined(separator: ",") + "\n"
            }.joined()
        case .markdown:
            var text = "# \(InertText.sanitize(job.name ?? job.id))\n"
            var prompt = -1
            for request in requests {
                if request.promptIndex != prompt {
                    prompt = request.promptIndex
                    text += "\n## \(InertText.sanitize(request.promptID)): \(InertText.sanitize(request.prompt))\n"
                }
                let round = job.mode == .parallel ? "" : " · round \(request.round)"
                // A cost as the session's transcript shows it; none for a request that was never answered.
                let priced = request.costPicos != nil || request.state == .succeeded
                let figures = priced ? " · " + PlainPrinter.costText(request.costPicos, estimated: request.estimated) : ""
                text += "\n### \(InertText.sanitize(request.personaName)) (\(request.provider):\(request.model))\(round) · \(status(request))\(figures)\n\n"
                if let answer = request.text, !answer.isEmpty { text += InertText.sanitize(answer) + "\n" }
                if let error = request.error, request.state != .succeeded { text += "_\(InertText.sanitize(error))_\n" }
            }
            return text
        }
    }

    /// A request's status as results print it: the four of the batch APIs, and `pending` or
    /// `skipped` for requests with none yet.
    static func status(_ request: BatchRequestRecord) -> String {
        request.state == .running ? "pending" : request.state.rawValue
    }

    static func resultObject(_ request: BatchRequestRecord) -> JSON {
        .object([
            "prompt_id": .string(request.promptID), "persona": .string(request.persona), "round": .int(request.round),
            "provider": .string(request.provider), "model": .string(request.model), "status": .string(status(request)),
            "text": request.text.map { .string($0) } ?? .null, "usage": EventJSON.usage(request.usage),
            "cost_usd": request.state.isFinal ? EventJSON.cost(request.costPicos) : .null, "estimated": .bool(request.estimated),
            "error": request.error.map { .string($0) } ?? .null, "session": .string(request.session),
        ])
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
