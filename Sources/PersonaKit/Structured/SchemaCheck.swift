import Foundation

/// One way an answer breaks its schema: where (a JSON path) and what.
public struct SchemaProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// Checks a JSON value against a schema that `SchemaLint` accepted: type, properties, required,
/// enum, const, items, additionalProperties, minimum, maximum, minLength, maxLength, minItems,
/// maxItems, pattern and anyOf. Every problem is named with its JSON path.
public enum SchemaCheck {
    public static func problems(_ value: JSON, against schema: JSON) -> [SchemaProblem] {
        var problems: [SchemaProblem] = []
        check(value, schema, at: [], into: &problems)
        return problems
    }

    private static func check(_ value: JSON, _ schema: JSON, at path: [SchemaPath.Step], into problems: inout [SchemaProblem]) {
        func problem(_ text: String) { problems.append(SchemaProblem(path: SchemaPath.text(path), problem: text)) }
        guard let rules = schema.object else { return }

        if let type = rules["type"] {
            let names = (type.array ?? [type]).compactMap(\.string)
            if !names.contains(where: { matches(value, type: $0) }) {
                return problem("expected \(names.map(article).joined(separator: " or ")), got \(SchemaLint.kind(of: value))")
            }
        }
        if let allowed = rules["enum"]?.array, !allowed.contains(where: { same($0, value) }) {
            problem("expected one of \(allowed.map(\.serialized).joined(separator: ", ")), got \(value.serialized)")
        }
        if let constant = rules["const"], !same(constant, value) {
            problem("expected \(constant.serialized), got \(value.serialized)")
        }
        if let options = rules["anyOf"]?.array {
            if !options.contains(where: { fits(value, $0, at: path) }) { problem("matches none of the \(options.count) schemas of anyOf") }
        }
        switch value {
        case .number:
            guard let number = value.decimal else { break }
            if let minimum = rules["minimum"]?.decimal, number < minimum { problem("\(number) is below the minimum \(minimum)") }
            if let maximum = rules["maximum"]?.decimal, number > maximum { problem("\(number) is above the maximum \(maximum)") }
        case .string(let text):
            let length = text.count
            if let least = rules["minLength"]?.int, length < least { problem("\(length) characters, fewer than minLength \(least)") }
            if let most = rules["maxLength"]?.int, length > most { problem("\(length) characters, more than maxLength \(most)") }
            if let pattern = rules["pattern"]?.string, let expression = try? NSRegularExpression(pattern: pattern),
               expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                problem("does not match the pattern \(pattern)")
            }
        case .array(let items):
            if let least = rules["minItems"]?.int, items.count < least { problem("\(items.count) items, fewer than minItems \(least)") }
            if let most = rules["maxItems"]?.int, items.count > most { problem("\(items.count) items, more than maxItems \(most)") }
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() { check(item, itemSchema, at: path + [.index(index)], into: &problems) }
            }
        case .object(let object):
            let properties = rules["properties"]?.object
            for name in rules["required"]?.array?.compactMap(\.string) ?? [] where object[name] == nil {
                problems.append(SchemaProblem(path: SchemaPath.text(path + [.key(name)]), problem: "required, but missing"))
            }
            for member in object.members {
                let memberPath = path + [.key(member.key)]
                if let propertySchema = properties?[member.key] {
                    check(member.value, propertySchema, at: memberPath, into: &problems)
                } else if let extra = rules["additionalProperties"] {
                    if extra.bool == false {
                        problems.append(SchemaProblem(path: SchemaPath.text(memberPath), problem: "not allowed: no such property"))
                    } else if extra.object != nil {
                        check(member.value, extra, at: memberPath, into: &problems)
                    }
                }
            }
        case .null, .bool:
            break
        }
    }

    private static func fits(_ value: JSON, _ schema: JSON, at path: [SchemaPath.Step]) -> Bool {
        var found: [SchemaProblem] = []
        check(value, schema, at: path, into: &found)
        return found.isEmpty
    }

    private static func matches(_ value: JSON, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number):
            return true
        case ("integer", .number):
            guard let number = value.decimal else { return false }
            var whole = Decimal()
            var copy = number
            NSDecimalRound(&whole, &copy, 0, .plain)
            return whole == number
        default:
            return false
        }
    }

    /// Numbers compare by value (`1.0` is `1`), everything else by its JSON.
    private static func same(_ a: JSON, _ b: JSON) -> Bool {
        if let x = a.decimal, let y = b.decimal { return x == y }
        switch (a, b) {
        case (.array(let xs), .array(let ys)): return xs.count == ys.count && zip(xs, ys).allSatisfy(same)
        case (.object(let x), .object(let y)):
            return x.members.count == y.members.count && x.members.allSatisfy { member in y[member.key].map { same(member.value, $0) } ?? false }
        default: return a == b
        }
    }

    private static func article(_ type: String) -> String {
        switch type {
        case "object", "array", "integer": return "an \(type)"
        case "null": return "null"
        default: return "a \(type)"
        }
    }
}
