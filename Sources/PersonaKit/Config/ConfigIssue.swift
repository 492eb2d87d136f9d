import Foundation
import Yams

/// A problem found in a config or persona file, with the place to fix it.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error
        case warning
    }

    public var severity: Severity
    public var file: String
    public var line: Int?
    public var field: String?
    public var message: String

    public init(_ severity: Severity, file: String, line: Int?, field: String?, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// A value from the file as a message quotes it: cut at 200 characters, since a value may be
    /// megabytes long.
    public static func echo(_ value: String) -> String {
        let longest = 200
        guard value.count > longest else { return "'\(value)'" }
        return "'\(value.prefix(longest))…' (\(value.count - longest) more characters)"
    }

    /// `file:line: error: field: message`, the form editors and terminals link to.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": \(severity.rawValue): "
        if let field { text += "\(field): " }
        return text + message
    }
}

/// Reads typed fields out of a YAML mapping and records every problem with its line.
///
/// `lineOffset` is added to Yams' line numbers, so that front matter reports lines of the whole file.
struct YAMLFieldReader {
    let file: String
    let lineOffset: Int
    private var recorded: [ConfigIssue] = []

    /// Every problem, in the order of the lines they concern.
    var issues: [ConfigIssue] { recorded.sorted { ($0.line ?? 0) < ($1.line ?? 0) } }

    init(file: String, lineOffset: Int = 0) {
        self.file = file
        self.lineOffset = lineOffset
    }

    func line(of node: Node) -> Int? { node.mark.map { $0.line + lineOffset } }

    mutating func error(_ node: Node?, _ field: String?, _ message: String) {
        recorded.append(ConfigIssue(.error, file: file, line: node.flatMap(line(of:)), field: field, message: message))
    }

    mutating func warning(_ node: Node?, _ field: String?, _ message: String) {
        recorded.append(ConfigIssue(.warning, file: file, line: node.flatMap(line(of:)), field: field, message: message))
    }

    /// Parses YAML text into a node, turning a syntax error into an issue at its line.
    mutating func compose(_ text: String) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                 .composer(let context, let problem, let mark, _):
                // The context marks where the broken construct began, which is where to look.
                var message = "YAML syntax: \(problem)"
                if let context { message += " (\(context.text), which starts here)" }
                recorded.append(ConfigIssue(.error, file: file, line: (context?.mark.line ?? mark.line) + lineOffset,
                                            field: nil, message: message))
            default:
                recorded.append(ConfigIssue(.error, file: file, line: nil, field: nil, message: "YAML: \(error)"))
            }
        } catch {
            recorded.append(ConfigIssue(.error, file: file, line: nil, field: nil, message: "YAML: \(error)"))
        }
        return nil
    }

    /// The mapping's entries by key, warning about keys not in `known`.
    mutating func entries(_ node: Node, field: String?, known: Set<String>?) -> [(key: String, node: Node, value: Node)] {
        guard case .mapping(let mapping) = node else {
            error(node, field, "expected a mapping of keys to values")
            return []
        }
        var result: [(key: String, node: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                error(keyNode, field, "keys must be text")
                continue
            }
            let path = field.map { "\($0).\(key)" } ?? key
            if let known, !known.contains(key) {
                warning(keyNode, path, "unknown key, ignored (known: \(known.sorted().joined(separator: ", ")))")
                continue
            }
            result.append((key, keyNode, value))
        }
        return result
    }

    mutating func string(_ node: Node, _ field: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(node, field, "expected text")
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ node: Node, _ field: String) -> Bool? {
        switch node.string?.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(node, field, "expected true or false, got \(node.string.map(ConfigIssue.echo) ?? "a collection")")
            return nil
        }
    }

    mutating func int(_ node: Node, _ field: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string.trimmingCharacters(in: .whitespaces)) else {
            error(node, field, "expected a whole number, got \(node.string.map(ConfigIssue.echo) ?? "a collection")")
            return nil
        }
        if let range, !range.contains(value) {
            error(node, field, "\(value) is out of range (\(range.lowerBound)…\(range.upperBound))")
            return nil
        }
        return value
    }

    mutating func double(_ node: Node, _ field: String, range: ClosedRange<Double>? = nil) -> Double? {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string.trimmingCharacters(in: .whitespaces)) else {
            error(node, field, "expected a number, got \(node.string.map(ConfigIssue.echo) ?? "a collection")")
            return nil
        }
        if let range, !range.contains(value) {
            error(node, field, "\(value) is out of range (\(range.lowerBound)…\(range.upperBound))")
            return nil
        }
        return value
    }

    /// A money amount, read from the scalar's text so that it stays exact. Only plain digits with
    /// one optional point are taken: `Decimal(string:)` reads `.nan` as 0 and `1.5x` as 1.5.
    mutating func decimal(_ node: Node, _ field: String) -> Decimal? {
        guard case .scalar(let scalar) = node,
              case let text = scalar.string.trimmingCharacters(in: .whitespaces), Self.isPlainAmount(text),
              let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
        else {
            error(node, field, "expected an amount in USD such as 1.50, got \(node.string.map(ConfigIssue.echo) ?? "a collection")")
            return nil
        }
        return value
    }

    static func isPlainAmount(_ text: String) -> Bool {
        let digit: (Character) -> Bool = { ("0"..."9").contains($0) }
        return text.contains(where: digit) && text.filter { $0 == "." }.count <= 1 && text.allSatisfy { digit($0) || $0 == "." }
    }

    /// A price in USD per million tokens, as picodollars per token; exact, so at most six decimals.
    mutating func tokenPrice(_ node: Node, _ field: String) -> Int64? {
        guard let usd = decimal(node, field) else { return nil }
        guard let picos = TokenPrices.picosPerToken(usdPerMillion: usd) else {
            error(node, field, "a price in USD per million tokens has at most six decimals and is under 1000000, got \(ConfigIssue.echo("\(usd)"))")
            return nil
        }
        return picos
    }

    /// A budget in USD, as a cap in picodollars.
    mutating func cap(_ node: Node, _ field: String) -> Decimal? {
        guard let usd = decimal(node, field) else { return nil }
        if case .failure(let problem) = Money.cap(dollars: usd) {
            error(node, field, "\(ConfigIssue.echo("\(usd)")) \(problem)")
            return nil
        }
        return usd
    }

    /// A list of text; a single text value counts as a list of one.
    mutating func stringList(_ node: Node, _ field: String) -> [String]? {
        switch node {
        case .scalar(let scalar): return [scalar.string]
        case .sequence(let sequence):
            var values: [String] = []
            for item in sequence {
                guard let text = string(item, field) else { return nil }
                values.append(text)
            }
            return values
        default:
            error(node, field, "expected a list")
            return nil
        }
    }

    mutating func modelRef(_ node: Node, _ field: String) -> ModelRef? {
        guard let text = string(node, field) else { return nil }
        do {
            return try ModelRef(parsing: text)
        } catch {
            self.error(node, field, "\(error)")
            return nil
        }
    }
}
