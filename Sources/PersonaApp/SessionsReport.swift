import Foundation
import PersonaKit
import TerminalUI

/// `persona sessions`: saved conversations as a list, a transcript, or an export.
public enum SessionsReport {
    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// Sessions with what each cost, as the ledger has it; `-` for one that made no request
    /// here (an imported session).
    public static func list(_ sessions: [SessionSummary], costs: [String: CostTotals]) -> String {
        guard !sessions.isEmpty else { return "No saved sessions yet.\n" }
        return TextTable.render(
            header: ["ID", "NAME", "CREATED", "MODE", "PERSONAS", "TURNS", "COST", "TOPIC"],
            rows: sessions.map { summary in
                [summary.info.id, InertText.sanitize(summary.info.name ?? ""), date(summary.info.created), summary.info.mode.rawValue,
                 summary.info.roster.map(\.persona).joined(separator: ","), "\(summary.turns)",
                 costs[summary.info.id].map(CostsReport.money) ?? "-", InertText.sanitize(summary.info.topic)]
            }, maxWidths: [26, 20, 16, 11, 30, 5, 22, 50])
    }

    /// The list as JSON: each session with its name, setup, turns and the ledger's cost.
    public static func listJSON(_ sessions: [SessionSummary], costs: [String: CostTotals]) -> String {
        JSON.object(["sessions": .array(sessions.map { summary in
            let totals = costs[summary.info.id]
            return .object([
                "id": .string(summary.info.id), "name": summary.info.name.map { .string($0) } ?? .null,
                "created": .string(iso(summary.info.created)), "mode": .string(summary.info.mode.rawValue),
                "personas": .array(summary.info.roster.map { .string($0.persona) }), "turns": .int(summary.turns),
                "cost_usd": totals.flatMap { $0.unpriced > 0 ? nil : $0.picos }.map(EventJSON.amount) ?? .null,
                "estimated": .bool((totals?.estimated ?? 0) > 0), "topic": .string(summary.info.topic),
            ])
        })]).serialized + "\n"
    }

    /// Search results: the session, who spoke in which round, and the matching words in `[…]`.
    public static func search(_ hits: [SessionSearchHit], query: String) -> String {
        guard !hits.isEmpty else { return "No message holds every word of '\(InertText.sanitize(query))'.\n" }
        return TextTable.render(
            header: ["SESSION", "ROUND", "WHO", "MATCH"],
            rows: hits.map { hit in
                [hit.sessionName.map(InertText.sanitize) ?? hit.session, "\(hit.round)", InertText.sanitize(hit.speakerName),
                 InertText.sanitize(hit.snippet.split(whereSeparator: \.isNewline).joined(separator: " "))]
            }, maxWidths: [26, 5, 20, 90])
    }

    public static func searchJSON(_ hits: [SessionSearchHit]) -> String {
        JSON.object(["matches": .array(hits.map { hit in
            .object(["session": .string(hit.session), "name": hit.sessionName.map { .string($0) } ?? .null,
                     "topic": .string(hit.topic), "round": .int(hit.round), "speaker": .string(hit.speaker),
                     "speaker_name": .string(hit.speakerName), "snippet": .string(hit.snippet)])
        })]).serialized + "\n"
    }

    /// A topic's first line, cut to 40 characters, for a one-line mention.
    public static func excerpt(_ text: String) -> String {
        let line = InertText.sanitize(text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "")
        return line.count > 40 ? String(line.prefix(39)) + "…" : line
    }

    /// `cost $0.0123 in 14 requests (retries, the moderator's and the judge's included)`.
    static func costLine(_ totals: CostTotals?) -> String {
        guard let totals, totals.requests > 0 else { return "cost: no request of this session is in this ledger" }
        return "cost: \(CostsReport.money(totals)) in \(totals.requests) requests, \(totals.inputTokens) in, "
            + "\(totals.outputTokens) out (every request: retries, the moderator's and the judge's included)"
    }

    public static func show(_ info: SessionInfo, _ messages: [TranscriptMessage], totals: CostTotals?) -> String {
        var lines = ["Session \(info.id) · \(info.mode.rawValue) · \(date(info.created))",
                     "Personas: " + info.roster.map { "\($0.name) (\($0.model))" }.joined(separator: ", ")]
        var round = 0
        for message in messages {
            if message.round != round {
                round = message.round
                lines += ["", "── Round \(round) ──"]
            }
            var heading = speaker(message)
            if let model = message.model, let provider = message.provider { heading += " (\(provider):\(model))" }
            if message.status != .complete { heading += " [\(message.status.rawValue)]" }
            lines += ["", heading + ":"] + message.tools.map { "  " + InertText.sanitize(ToolLine.text($0, .notice)) }
                + [InertText.sanitize(message.text)]
            if let error = message.error {
                lines.append((message.status == .refused ? "  refusal: " : "  error: ") + InertText.sanitize(error))
            }
        }
        lines += ["", costLine(totals)]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Who said a message, as the transcripts head it: `You`, `Verdict · The Judge`,
    /// `Moderator · The Moderator`, `Review · The Skeptic`, `Council ranking`, `Chairman · The
    /// Pragmatist`, or the persona's name.
    static func speaker(_ message: TranscriptMessage) -> String {
        switch message.role {
        case .user: return "You"
        case .judge: return "Verdict · \(message.name)"
        case .moderator: return "Moderator · \(message.name)"
        case .reviewer: return message.isCouncilRanking ? message.name : "Review · \(message.name)"
        case .chairman: return "Chairman · \(message.name)"
        case .persona: return message.name
        }
    }

    // MARK: Export and import

    /// The two forms a session is exported in, by the names `--format` and `/export` take.
    public enum ExportFormat {
        case markdown, json

        public init?(name: String) {
            switch name.lowercased() {
            case "markdown", "md": self = .markdown
            case "json": self = .json
            default: return nil
            }
        }

        var fileExtension: String { self == .json ? "json" : "md" }

        public func render(_ info: SessionInfo, _ messages: [TranscriptMessage], totals: CostTotals?) -> String {
            self == .json ? exportJSON(info, messages, totals: totals) : exportMarkdown(info, messages, totals: totals)
        }
    }

    public static func exportJSON(_ info: SessionInfo, _ messages: [TranscriptMessage], totals: CostTotals?) -> String {
        let cost: JSON = totals.map { .object([
            "cost_usd": $0.unpriced > 0 ? .null : EventJSON.amount($0.picos), "requests": .int($0.requests),
            "input_tokens": .int($0.inputTokens), "output_tokens": .int($0.outputTokens), "estimated": .bool($0.estimated > 0),
        ]) } ?? .null
        return JSON.object([
            "session": .object([
                "id": .string(info.id), "created": .string(iso(info.created)), "mode": .string(info.mode.rawValue),
                "topic": .string(info.topic), "rounds": info.rounds.map { .int($0) } ?? .null,
                "judge": info.judge.map { .string($0) } ?? .null,
            ]),
            "roster": .array(info.roster.map { member in
                .object(["persona": .string(member.persona), "name": .string(member.name), "model": .string(member.model.description)])
            }),
            "messages": .array(messages.map { message in
                .object([
                    "round": .int(message.round), "speaker": .string(message.speaker), "name": .string(message.name),
                    "role": .string(message.role.rawValue), "text": .string(message.text), "status": .string(message.status.rawValue),
                    "error": message.error.map { .string($0) } ?? .null, "provider": message.provider.map { .string($0) } ?? .null,
                    "model": message.model.map { .string($0) } ?? .null, "input_tokens": .int(message.inputTokens),
                    "output_tokens": .int(message.outputTokens),
                    "cost_usd": message.costPicos.map(EventJSON.amount) ?? .null,
                    "estimated": .bool(message.estimated), "dropped_turns": .int(message.droppedTurns),
                    "structured": message.structured ?? .null, "tools": .array(message.tools.map { .object($0.record) }),
                    "answer": message.answer.map(JSON.string) ?? .null,
                ])
            }),
            "ledger": cost,
        ]).serialized + "\n"
    }

    public struct ImportError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads an export made by `exportJSON` back into a session and its messages.
    public static func importJSON(_ text: String) throws -> (SessionInfo, [TranscriptMessage]) {
        let json: JSON
        do { json = try JSON.parse(text) } catch { throw ImportError(description: "not a JSON session export: \(error)") }
        guard let session = json["session"], let id = session["id"]?.string, let topic = session["topic"]?.string,
              let mode = session["mode"]?.string.flatMap(ConversationMode.init(rawValue:)) else {
            throw ImportError(description: "the export has no session id, topic or mode")
        }
        let created = session["created"]?.string.flatMap { ISO8601DateFormatter().date(from: $0) } ?? Date()
        let roster = (json["roster"]?.array ?? []).compactMap { member -> SessionInfo.Member? in
            guard let persona = member["persona"]?.string, let model = member["model"]?.string.flatMap({ try? ModelRef(parsing: $0) })
            else { return nil }
            return SessionInfo.Member(persona: persona, name: member["name"]?.string ?? persona, model: model)
        }
        let messages = try (json["messages"]?.array ?? []).map { message -> TranscriptMessage in
            guard let round = message["round"]?.int, let speaker = message["speaker"]?.string, let text = message["text"]?.string,
                  let role = message["role"]?.string.flatMap(TranscriptMessage.Role.init(rawValue:)),
                  let status = message["status"]?.string.flatMap(TranscriptMessage.Status.init(rawValue:)) else {
                throw ImportError(description: "a message lacks its round, speaker, role, status or text")
            }
            return TranscriptMessage(round: round, speaker: speaker, name: message["name"]?.string ?? speaker, role: role, text: text,
                                     status: status, error: message["error"]?.string, provider: message["provider"]?.string,
                                     model: message["model"]?.string, inputTokens: message["input_tokens"]?.int ?? 0,
                                     outputTokens: message["output_tokens"]?.int ?? 0,
                                     costPicos: message["cost_usd"]?.decimal.flatMap { Money.picos(dollars: $0) },
                                     estimated: message["estimated"]?.bool ?? false, droppedTurns: message["dropped_turns"]?.int ?? 0,
                                     structured: message["structured"].flatMap { $0.isNull ? nil : $0 }, answer: message["answer"]?.string)
                .withTools((message["tools"]?.array ?? []).compactMap(ToolActivity.init(record:)))
        }
        return (SessionInfo(id: id, created: created, mode: mode, topic: topic, roster: roster, rounds: session["rounds"]?.int,
                            judge: session["judge"]?.string), messages)
    }

    /// Markdown with a YAML header holding the roster, the models, each turn's tokens and cost,
    /// and the session's total as the ledger has it.
    public static func exportMarkdown(_ info: SessionInfo, _ messages: [TranscriptMessage], totals: CostTotals?) -> String {
        func quoted(_ text: String) -> String { JSON.string(text).serialized }
        var header = ["---", "session: \(quoted(info.id))", "created: \(quoted(iso(info.created)))", "mode: \(info.mode.rawValue)",
                      "topic: \(quoted(info.topic))"]
        if let rounds = info.rounds { header.append("rounds: \(rounds)") }
        if let judge = info.judge { header.append("judge: \(quoted(judge))") }
        header.append("roster:")
        for member in info.roster {
            header += ["  - persona: \(quoted(member.persona))", "    name: \(quoted(member.name))", "    model: \(quoted(member.model.description))"]
        }
        header.append("turns:")
        // Every turn that was a request; a council's ranking is not one.
        for message in messages where message.role != .user && !message.isCouncilRanking {
            header += ["  - round: \(message.round)", "    speaker: \(quoted(message.speaker))", "    role: \(message.role.rawValue)",
                       "    model: \(quoted("\(message.provider ?? ""):\(message.model ?? "")"))", "    status: \(message.status.rawValue)",
                       "    input_tokens: \(message.inputTokens)", "    output_tokens: \(message.outputTokens)",
                       "    cost_usd: \(message.costPicos.map(Money.exactText) ?? "null")", "    estimated: \(message.estimated)"]
        }
        if let totals {
            header.append("total_cost_usd: " + (totals.unpriced > 0 ? "null" : Money.exactText(totals.picos)))
            header += ["requests: \(totals.requests)", "estimated: \(totals.estimated > 0)"]
            if totals.unpriced > 0 { header.append("unpriced_requests: \(totals.unpriced)") }
        }
        header.append("---")
        var body = ["", "# \(info.topic)"]
        var round = 0
        for message in messages {
            if message.round != round {
                round = message.round
                body += ["", "## Round \(round)"]
            }
            let who = message.role == .judge ? "Verdict — \(message.name)" : message.role == .moderator ? message.name : speaker(message)
            let mark = message.status == .complete ? "" : " *(\(message.status.rawValue))*"
            // A structured answer is its value, fenced as JSON; a council's ranking is its table.
            let text = message.isCouncilRanking ? "```\n\(message.text)\n```"
                : message.structured.map { "```json\n\($0.serialized)\n```" } ?? message.text
            body += ["", "**\(who)**\(mark):", ""] + message.tools.map { "- `" + ToolLine.text($0, .notice).replacingOccurrences(of: "`", with: "'") + "`" }
                + (message.tools.isEmpty ? [] : [""]) + [text]
        }
        return (header + body).joined(separator: "\n") + "\n"
    }
}
