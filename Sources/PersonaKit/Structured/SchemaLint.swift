import Foundation

/// A place inside a JSON value, written as a JSON path: `$.emotions[1]`.
public enum SchemaPath {
    public enum Step: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    public static func text(_ steps: [Step]) -> String {
        steps.reduce("$") { path, step in
            switch step {
            case .key(let key):
                let plain = !key.isEmpty && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
                return plain ? path + "." + key : path + "[" + JSON.string(key).serialized + "]"
            case .index(let index): return path + "[\(index)]"
            }
        }
    }
}

/// Checks that a schema is one Persona can send and check answers against: a JSON Schema object
/// whose root is an object, using only the keywords `SchemaCheck` enforces (and annotations).
enum SchemaLint {
    struct Problem: Equatable {
        let path: [SchemaPath.Step]
        let message: String
    }

    static let types: Set<String> = ["object", "array", "string", "number", "integer", "boolean", "null"]
    /// Words that describe but do not constrain: kept, sent, not checked.
    static let annotations: Set<String> = ["title", "description", "default", "examples", "format", "$schema", "$id", "$comment",
                                           "deprecated", "readOnly", "writeOnly"]
    static let checked: Set<String> = ["type", "properties", "required", "enum", "const", "items", "additionalProperties",
                                       "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "anyOf"]

    /// `schema.properties.confidence.type`: where a problem is, in the words of the file.
    static func field(_ base: String, _ path: [SchemaPath.Step]) -> String {
        path.reduce(base) { field, step in
            switch step {
            case .key(let key): return field + "." + key
            case .index(let index): return field + "[\(index)]"
            }
        }
    }

    static func problems(in schema: JSON) -> [Problem] {
        var problems: [Problem] = []
        lint(schema, at: [], into: &problems)
        if problems.isEmpty, !allows(schema, type: "object") || schema["type"] == nil {
            problems.append(Problem(path: [], message: "the root must be an object schema (type: object); OpenAI, Anthropic "
                + "and Gemini answer in a JSON object"))
        }
        return problems
    }

    private static func allows(_ schema: JSON, type: String) -> Bool {
        switch schema["type"] {
        case .string(let name)?: return name == type
        case .array(let names)?: return names.contains(.string(type))
        default: return true
        }
    }

    private static func lint(_ schema: JSON, at path: [SchemaPath.Step], into problems: inout [Problem]) {
        func problem(_ key: String?, _ message: String) {
            problems.append(Problem(path: path + (key.map { [.key($0)] } ?? []), message: message))
        }
        guard let object = schema.object else {
            return problem(nil, "a schema is a mapping of keywords (type, properties, …), got \(kind(of: schema))")
        }
        for member in object.members {
            let key = member.key, value = member.value
            switch key {
            case "type":
                let names = value.array ?? [value]
                if names.isEmpty || names.contains(where: { $0.string.map { !types.contains($0) } ?? true }) {
                    problem(key, "unknown type \(ConfigIssue.echo(value.string ?? value.serialized)) (known: \(types.sorted().joined(separator: ", ")))")
                }
            case "properties":
                guard let properties = value.object else { problem(key, "expected a mapping of property names to schemas"); continue }
                for property in properties.members {
                    lint(property.value, at: path + [.key(key), .key(property.key)], into: &problems)
                }
            case "required":
                guard let names = value.array, names.allSatisfy({ $0.string != nil }) else {
                    problem(key, "expected a list of property names"); continue
                }
                let declared = Set(object["properties"]?.object?.keys ?? [])
                for name in names.compactMap(\.string) where !declared.contains(name) {
                    problem(key, "\(ConfigIssue.echo(name)) is required but not among the properties")
                }
            case "enum":
                if value.array?.isEmpty != false { problem(key, "expected a list of the allowed values") }
            case "items":
                lint(value, at: path + [.key(key)], into: &problems)
            case "additionalProperties":
                if value.bool == nil { lint(value, at: path + [.key(key)], into: &problems) }
            case "minimum", "maximum":
                if value.decimal == nil { problem(key, "expected a number, got \(kind(of: value))") }
            case "minLength", "maxLength", "minItems", "maxItems":
                if (value.int ?? -1) < 0 { problem(key, "expected a whole number of at least 0, got \(ConfigIssue.echo(value.serialized))") }
            case "pattern":
                if (value.string.flatMap { try? NSRegularExpression(pattern: $0) }) == nil {
                    problem(key, "expected a regular expression, got \(ConfigIssue.echo(value.serialized))")
                }
            case "anyOf":
                guard let options = value.array, !options.isEmpty else { problem(key, "expected a list of schemas"); continue }
                for (index, option) in options.enumerated() { lint(option, at: path + [.key(key), .index(index)], into: &problems) }
            case "const":
                break
            default:
                if !annotations.contains(key) {
                    problem(key, "\(key) is not supported; Persona checks \(checked.sorted().joined(separator: ", "))")
                }
            }
        }
        for (lowKey, highKey) in [("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems")] {
            if let low = object[lowKey]?.decimal, let high = object[highKey]?.decimal, low > high {
                problem(lowKey, "\(lowKey) \(low) is above \(highKey) \(high), so no value fits")
            }
        }
    }

    static func kind(of value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string(let text): return "the text \(ConfigIssue.echo(text))"
        case .array: return "a list"
        case .object: return "a mapping"
        }
    }
}
