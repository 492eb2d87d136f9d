import Foundation

/// A vote as one JSON line, for `persona votes export` and `import`. Amounts are exact decimals.
public enum VoteLine {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public static func line(_ vote: Vote) -> String {
        var members: [JSONObject.Member] = [
            .init(key: "time", value: .string(timeFormat().string(from: vote.time))),
            .init(key: "source", value: .string(vote.source.rawValue)),
            .init(key: "blind", value: .bool(vote.blind)),
            .init(key: "session", value: .string(vote.session)),
        ]
        if let reviewer = vote.reviewer { members.append(.init(key: "reviewer", value: .string(reviewer))) }
        if let turn = vote.turn { members.append(.init(key: "turn", value: .int(turn))) }
        if let round = vote.round { members.append(.init(key: "round", value: .int(round))) }
        if let hash = vote.promptHash { members.append(.init(key: "prompt_sha256", value: .string(hash))) }
        members.append(.init(key: "candidates", value: .array(vote.candidates.map { candidate in
            var fields: [JSONObject.Member] = [
                .init(key: "label", value: .string(candidate.label)),
                .init(key: "persona", value: .string(candidate.persona)),
                .init(key: "model", value: .string(candidate.modelRef.description)),
                .init(key: "cost_usd", value: candidate.costPicos.map { .number(Money.exactText($0)) } ?? .null),
                .init(key: "output_tokens", value: candidate.outputTokens.map(JSON.int) ?? .null),
                .init(key: "position", value: .int(candidate.position)),
            ]
            if let answer = candidate.answer { fields.append(.init(key: "answer", value: .string(answer))) }
            return .object(JSONObject(fields))
        })))
        members.append(.init(key: "order", value: .array(vote.order.map { .array($0.map(JSON.string)) })))
        return JSON.object(JSONObject(members)).serialized
    }

    /// Reads one line; the problem says what is wrong, without the line's number, which the caller knows.
    public static func parse(_ line: String) throws -> Vote {
        let json: JSON
        do { json = try JSON.parse(line) } catch { throw Problem(description: "\(error)") }
        guard json.isObject else { throw Problem(description: "a vote is a JSON object") }
        func required<T>(_ key: String, _ read: (JSON) -> T?, _ kind: String) throws -> T {
            guard let value = json[key], let read = read(value) else { throw Problem(description: "\"\(key)\" must be \(kind)") }
            return read
        }
        let timeText = try required("time", \.string, "a time like 2026-12-04T22:54:23.000Z")
        guard let time = timeFormat().date(from: timeText) ?? ISO8601DateFormatter().date(from: timeText) else {
            throw Problem(description: "\"time\" must be a time like 2026-12-04T22:54:23.000Z, not \(ConfigIssue.echo(timeText))")
        }
        let sourceText = try required("source", \.string, "\"votes\" or \"council\"")
        guard let source = Vote.Source(rawValue: sourceText) else { throw Problem(description: "\"source\" must be \"votes\" or \"council\"") }
        let candidates = try required("candidates", \.array, "a list of candidates").enumerated().map { index, item in
            guard let label = item["label"]?.string, !label.isEmpty, let persona = item["persona"]?.string, !persona.isEmpty,
                  let modelText = item["model"]?.string else {
                throw Problem(description: "candidate \(index + 1) needs \"label\", \"persona\" and \"model\"")
            }
            let model: ModelRef
            do { model = try ModelRef(parsing: modelText) } catch { throw Problem(description: "candidate \(index + 1): \(error)") }
            var cost: Int64?
            if let value = item["cost_usd"], !value.isNull {
                guard let dollars = value.decimal, let picos = Money.picos(dollars: dollars), picos >= 0, picos <= Money.requestCeiling else {
                    throw Problem(description: "candidate \(index + 1): \"cost_usd\" must be an amount from 0 to 100000 with at most 12 decimals")
                }
                cost = picos
            }
            var tokens: Int?
            if let value = item["output_tokens"], !value.isNull {
                guard let count = value.int, count >= 0 else { throw Problem(description: "candidate \(index + 1): \"output_tokens\" must be a count") }
                tokens = count
            }
            return VoteCandidate(label: label, position: item["position"]?.int ?? index, persona: persona, provider: model.provider,
                                 model: model.model, costPicos: cost, outputTokens: tokens, answer: item["answer"]?.string)
        }
        let order = try required("order", \.array, "a list of ranks, each a list of labels").map { rank in
            guard let labels = rank.array?.compactMap(\.string), labels.count == rank.array?.count else {
                throw Problem(description: "\"order\" must be a list of ranks, each a list of labels, such as [[\"B\"], [\"A\"]]")
            }
            return labels
        }
        let vote = Vote(time: time, source: source, blind: json["blind"]?.bool ?? false, session: json["session"]?.string ?? "",
                        turn: json["turn"]?.int, round: json["round"]?.int, promptHash: json["prompt_sha256"]?.string,
                        reviewer: json["reviewer"]?.string, candidates: candidates, order: order)
        if let problem = vote.problems.first { throw Problem(description: problem) }
        return vote
    }

    /// Milliseconds, in UTC: a vote's key reads the time to the millisecond.
    static func timeFormat() -> ISO8601DateFormatter {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format
    }
}
