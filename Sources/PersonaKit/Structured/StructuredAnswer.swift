import Foundation

/// An answer read as JSON and checked against its schema.
public struct StructuredAnswer: Sendable, Equatable {
    /// The parsed value; nil when the answer is not JSON at all.
    public var value: JSON?
    public var problems: [SchemaProblem]

    public var isValid: Bool { value != nil && problems.isEmpty }

    public init(value: JSON?, problems: [SchemaProblem]) {
        self.value = value
        self.problems = problems
    }

    /// Reads `text` as one JSON value, allowing the code fence some servers wrap it in without
    /// a schema to hold them, and checks it.
    public init(checking text: String, against schema: JSON) {
        let body = Self.unfenced(text)
        do {
            let parsed = try JSON.parse(body)
            self.init(value: parsed, problems: SchemaCheck.problems(parsed, against: schema))
        } catch let error as JSONParseError {
            let problem = body.isEmpty ? "the answer is empty, not JSON" : "the answer is not valid JSON: \(error.reason) at byte \(error.offset)"
            self.init(value: nil, problems: [SchemaProblem(path: "$", problem: problem)])
        } catch {
            self.init(value: nil, problems: [SchemaProblem(path: "$", problem: "the answer is not valid JSON")])
        }
    }

    static func unfenced(_ text: String) -> String {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard body.hasPrefix("```"), body.hasSuffix("```"), body.count >= 6 else { return body }
        body.removeLast(3)
        if let firstLineEnd = body.firstIndex(of: "\n") { body = String(body[body.index(after: firstLineEnd)...]) } else { body.removeFirst(3) }
        return body.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The follow-up that asks the model to fix its answer: every problem by its path.
    public var repairRequest: String {
        "Your answer does not match the required JSON Schema:\n" + problems.map { "- \($0.path): \($0.problem)" }.joined(separator: "\n")
            + "\nAnswer again with only the corrected JSON object."
    }
}
