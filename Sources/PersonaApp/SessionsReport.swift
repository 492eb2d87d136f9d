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

    public static func list(_ sessions: [SessionSummary]) -> String {
        guard !sessions.isEmpty else { return "No saved sessions yet.\n" }
        return TextTable.render(
            header: ["ID", "CREATED", "MODE", "PERSONAS", "TURNS", "COST", "TOPIC"],
            rows: sessions.map { summary in
                [summary.info.id, date(summary.info.created), summary.info.mode.rawValue,
                 summary.info.roster.map(\.persona).joined(separator: ","), "\(summary.turns)",
                 CostsReport.money(summary.costMicros, estimated: summary.estimated > 0) + (summary.unpriced > 0 ? " +?" : ""),
                 summary.info.topic]
            }, maxWidths: [26, 16, 11, 30, 5, 14, 50])
    }

    public static func show(_ info: SessionInfo, _ messages: [TranscriptMessage]) -> String {
        var lines = ["Session \(info.id) · \(info.mode.rawValue) · \(date(info.created))",
                     "Personas: " + info.roster.map { "\($0.name) (\($0.model))" }.joined(separator: ", ")]
        var round = 0
        for message in messages {
            if message.round != round {
                round = message.round
                lines += ["", "── Round \(round) ──"]
            }
            var heading = message.role == .user ? "You" : message.name
            if message.role == .judge { heading = "Verdict · \(message.name)" }
            if message.role == .moderator { heading = "Moderator · \(message.name)" }
            if let model = message.model, let provider = message.provider { heading += " (\(provider):\(model))" }
            if message.status != .complete { heading += " [\(message.status.rawValue)]" }
            lines += ["", heading + ":", InertText.sanitize(message.text)]
            if let error = message.error { lines.append("  error: " + InertText.sanitize(error)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Export and import

    public static func exportJSON(_ info: SessionInfo, _ messages: [TranscriptMessage]) -> String {
        JSON.object([
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
                    "cost_usd": message.costMicros.map { .number(Money.exactText($0)) } ?? .null,
                    "estimated": .bool(message.estimated), "dropped_turns": .int(message.droppedTurns),
                ])
            }),
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
                                     costMicros: message["cost_usd"]?.decimal.map(Money.micros),
                                     estimated: message["estimated"]?.bool ?? false, droppedTurns: message["dropped_turns"]?.int ?? 0)
        }
        return (SessionInfo(id: id, created: created, mode: mode, topic: topic, roster: roster, rounds: session["rounds"]?.int,
                            judge: session["judge"]?.string), messages)
    }

    /// Markdown with a YAML header holding the roster, the models, and each turn's tokens and cost.
    public static func exportMarkdown(_ info: SessionInfo, _ messages: [TranscriptMessage]) -> String {
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
        var total: Int64 = 0
        var unpriced = 0
        for message in messages where message.role != .user {
            header += ["  - round: \(message.round)", "    speaker: \(quoted(message.speaker))", "    role: \(message.role.rawValue)",
                       "    model: \(quoted("\(message.provider ?? ""):\(message.model ?? "")"))", "    status: \(message.status.rawValue)",
                       "    input_tokens: \(message.inputTokens)", "    output_tokens: \(message.outputTokens)",
                       "    cost_usd: \(message.costMicros.map(Money.exactText) ?? "null")", "    estimated: \(message.estimated)"]
            if let cost = message.costMicros { total += cost } else { unpriced += 1 }
        }
        header.append("total_cost_usd: \(Money.exactText(total))")
        if unpriced > 0 { header.append("unpriced_turns: \(unpriced)") }
        header.append("---")
        var body = ["", "# \(info.topic)"]
        var round = 0
        for message in messages {
            if message.round != round {
                round = message.round
                body += ["", "## Round \(round)"]
            }
            let who = message.role == .user ? "You" : message.role == .judge ? "Verdict — \(message.name)" : message.name
            let mark = message.status == .complete ? "" : " *(\(message.status.rawValue))*"
            body += ["", "**\(who)**\(mark):", "", message.text]
        }
        return (header + body).joined(separator: "\n") + "\n"
    }
}
