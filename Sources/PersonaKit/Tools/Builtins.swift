import Foundation

/// The built-in tools. They read and compute; none of them writes anything.
enum Builtins {
    static let calculator = ToolDefinition(
        name: "calculator",
        description: "Exact decimal arithmetic on one expression: + - * / ^ and parentheses, % (modulo between two numbers, "
            + "percent after one), sqrt(x), round(x) or round(x, places), abs(x). Use it instead of working sums out by hand.",
        parameters: .object(["type": .string("object"), "properties": .object([
            "expression": .object(["type": .string("string"), "description": .string("For example (1250 * 1.07^3) / 12")]),
        ]), "required": .array([.string("expression")])]))

    static let currentTime = ToolDefinition(
        name: "current_time",
        description: "The current date and time in a time zone.",
        parameters: .object(["type": .string("object"), "properties": .object([
            "timezone": .object(["type": .string("string"), "description": .string("An IANA zone such as Europe/Paris; UTC when left out")]),
        ])]))

    static let searchKnowledge = ToolDefinition(
        name: "search_knowledge",
        description: "Searches this persona's knowledge folder and returns the best passages, each with its file and line.",
        parameters: .object(["type": .string("object"), "properties": .object([
            "query": .object(["type": .string("string"), "description": .string("Words to look for")]),
        ]), "required": .array([.string("query")])]))

    static let all = [calculator, currentTime, searchKnowledge]

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ call: ToolCall, for persona: Persona, knowledge: KnowledgeBase?) async throws -> String {
        switch call.name {
        case "calculator":
            guard let expression = call.arguments["expression"]?.string else { throw Failure(description: "give the expression as text") }
            return Calculator.text(try Calculator.evaluate(expression))
        case "current_time":
            return try time(in: call.arguments["timezone"]?.string ?? "UTC", now: Date())
        default:
            guard let query = call.arguments["query"]?.string, !query.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Failure(description: "give the query as text")
            }
            guard let folder = persona.knowledge else {
                throw Failure(description: "\(persona.name) has no knowledge folder (knowledge: in its front matter)")
            }
            guard let knowledge else { throw Failure(description: "the knowledge index is not available") }
            return try knowledge.search(query, in: folder)
        }
    }

    /// `2026-12-04T16:20:05+01:00 (Friday, Europe/Paris)`.
    static func time(in zoneName: String, now: Date) throws -> String {
        guard let zone = TimeZone(identifier: zoneName) else {
            throw Failure(description: "unknown time zone \(zoneName); use an IANA name such as UTC, Europe/Paris or America/New_York")
        }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = zone
        formatter.formatOptions = [.withInternetDateTime]
        let weekday = DateFormatter()
        weekday.locale = Locale(identifier: "en_US_POSIX")
        weekday.timeZone = zone
        weekday.dateFormat = "EEEE"
        return "\(formatter.string(from: now)) (\(weekday.string(from: now)), \(zoneName))"
    }
}
