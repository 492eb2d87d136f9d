import Foundation

/// One reviewer's verdict on the answers it was shown: a ranking of their labels, best first,
/// and a critique of each.
public struct CouncilVerdict: Sendable, Equatable {
    /// The reviewer's persona id.
    public var reviewer: String
    /// 1, or 2 for the pass with the order reversed.
    public var pass: Int
    /// The labels as the reviewer was shown them.
    public var order: [String]
    /// The labels, best first; nil when the verdict could not be read, even when asked again.
    public var ranking: [String]?
    public var critiques: [String: String]

    public init(reviewer: String, pass: Int = 1, order: [String], ranking: [String]?, critiques: [String: String] = [:]) {
        self.reviewer = reviewer
        self.pass = pass
        self.order = order
        self.ranking = ranking
        self.critiques = critiques
    }

    public var isValid: Bool { ranking != nil }

    /// The schema a verdict is asked for in, with the labels it must rank.
    public static func schema(labels: [String]) -> AnswerSchema {
        func object(_ members: [(String, JSON)]) -> JSON { .object(JSONObject(members.map { JSONObject.Member(key: $0.0, value: $0.1) })) }
        let label = object([("type", .string("string")), ("enum", .array(labels.map(JSON.string)))])
        let count = JSON.number(String(labels.count))
        return AnswerSchema(name: "council_verdict", schema: object([
            ("type", .string("object")),
            ("properties", object([
                ("ranking", object([("type", .string("array")), ("items", label), ("minItems", count), ("maxItems", count)])),
                ("critiques", object([("type", .string("object")),
                                      ("properties", object(labels.map { ($0, object([("type", .string("string"))])) })),
                                      ("additionalProperties", .bool(false))])),
            ])),
            ("required", .array([.string("ranking"), .string("critiques")])),
            ("additionalProperties", .bool(false)),
        ]), source: "the council's verdict")
    }
}

/// What a reviewer's answer says: a ranking of every label exactly once, or why it cannot be read.
public enum VerdictReading: Sendable, Equatable {
    case ranked([String], critiques: [String: String])
    /// The problem, worded to be shown to the reviewer when it is asked again.
    case unreadable(String)

    /// Reads a verdict from the structured value the reviewer answered in, else from its text:
    /// a JSON object in it, else a `FINAL RANKING:` numbered list (the last one, since a reviewer
    /// may quote an answer that forged one).
    public static func read(structured: JSON?, text: String, labels: [String]) -> VerdictReading {
        if let structured, case .object = structured { return read(structured, labels: labels) }
        if let object = jsonObject(in: text) { return read(object, labels: labels) }
        if let ranking = finalRanking(in: text, labels: labels) { return check(ranking, labels: labels, critiques: [:]) }
        return .unreadable("your answer held neither the JSON object asked for nor a FINAL RANKING: list")
    }

    private static func read(_ object: JSON, labels: [String]) -> VerdictReading {
        guard let items = object["ranking"]?.array else { return .unreadable("your JSON has no \"ranking\" array") }
        var ranking: [String] = []
        for item in items {
            guard let text = item.string, let label = label(in: text, labels: labels) else {
                return .unreadable("\"ranking\" holds \(item.serialized), which is not one of the labels \(labels.joined(separator: ", "))")
            }
            ranking.append(label)
        }
        var critiques: [String: String] = [:]
        for member in object["critiques"]?.object?.members ?? [] {
            if let label = label(in: member.key, labels: labels), let text = member.value.string { critiques[label] = text }
        }
        return check(ranking, labels: labels, critiques: critiques)
    }

    private static func check(_ ranking: [String], labels: [String], critiques: [String: String]) -> VerdictReading {
        var seen: Set<String> = []
        let repeated = ranking.filter { !seen.insert($0).inserted }
        if let label = repeated.first { return .unreadable("your ranking names \(label) more than once") }
        let missing = labels.filter { !seen.contains($0) }
        if !missing.isEmpty { return .unreadable("your ranking leaves out \(missing.joined(separator: ", "))") }
        return .ranked(ranking, critiques: critiques)
    }

    /// `B`, `b`, `Answer B` or `answer b.` as the label it names, if it names one of `labels`.
    static func label(in text: String, labels: [String]) -> String? {
        var word = text.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
        if word.lowercased().hasPrefix("answer ") { word = String(word.dropFirst("answer ".count)).trimmingCharacters(in: .whitespaces) }
        return labels.first { $0.caseInsensitiveCompare(word) == .orderedSame }
    }

    /// The last `{ … }` in `text` that parses as a JSON object, such as a fenced code block.
    static func jsonObject(in text: String) -> JSON? {
        var end = text.endIndex
        while let close = text[..<end].lastIndex(of: "}") {
            var start = text[...close].lastIndex(of: "{")
            while let open = start {
                if let value = try? JSON.parse(Array(text[open...close].utf8)), case .object = value { return value }
                start = text[..<open].lastIndex(of: "{")
            }
            end = close
        }
        return nil
    }

    /// The numbered list after the last `FINAL RANKING:` in `text`, as labels.
    static func finalRanking(in text: String, labels: [String]) -> [String]? {
        guard let marker = text.range(of: "FINAL RANKING:", options: [.caseInsensitive, .backwards]) else { return nil }
        var ranking: [String] = []
        for line in text[marker.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { if ranking.isEmpty { continue } else { break } }
            guard let dot = trimmed.firstIndex(where: { $0 == "." || $0 == ")" }), Int(trimmed[..<dot]) != nil,
                  let label = label(in: String(trimmed[trimmed.index(after: dot)...]), labels: labels) else { break }
            ranking.append(label)
        }
        return ranking.isEmpty ? nil : ranking
    }
}
