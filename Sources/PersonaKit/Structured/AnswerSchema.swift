import Foundation
import Yams

/// The shape a persona answers in: a JSON Schema object, from `schema:`, `schema_file:` or `--schema`.
public struct AnswerSchema: Sendable, Equatable {
    /// The name a provider knows it by (OpenAI's `json_schema.name`, Anthropic's tool): the
    /// schema's `title` in letters, digits, `_` and `-`, else `answer`.
    public var name: String
    public var schema: JSON
    /// Where it was declared, for messages: a file, or a persona file and line.
    public var source: String

    public init(name: String? = nil, schema: JSON, source: String) {
        self.name = name ?? Self.name(fromTitle: schema["title"]?.string)
        self.schema = schema
        self.source = source
    }

    static func name(fromTitle title: String?) -> String {
        let allowed = (title ?? "").map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" }
        let name = String(String(allowed).trimmingCharacters(in: CharacterSet(charactersIn: "_")).prefix(64))
        return name.isEmpty ? "answer" : name
    }

    public var responseFormat: ResponseFormat { ResponseFormat(name: name, schema: schema) }

    // MARK: Reading

    /// The largest schema file read.
    static let largestFile = 1 << 20

    /// A schema from a YAML node of a persona's front matter, declared under `key`; problems go to
    /// `reader` with their lines.
    static func read(_ node: Node, key: Node, field: String, reader: inout YAMLFieldReader) -> AnswerSchema? {
        let schema = SchemaNode.json(node)
        let problems = SchemaLint.problems(in: schema)
        for problem in problems {
            reader.error(SchemaNode.node(at: problem.path, in: node) ?? node, SchemaLint.field(field, problem.path), problem.message)
        }
        guard problems.isEmpty else { return nil }
        return AnswerSchema(schema: schema, source: "\(reader.file):\(reader.line(of: key) ?? 1)")
    }

    /// A schema from a `.json` (or YAML) file; each problem names the file and its line.
    public static func load(file path: String) -> Result<AnswerSchema, SchemaFileError> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return .failure(SchemaFileError(path, nil, "cannot be read: \(String(cString: strerror(errno)))"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failure(SchemaFileError(path, nil, "is not a regular file")) }
        guard Int(info.st_size) <= largestFile else {
            return .failure(SchemaFileError(path, nil, "is \(Int(info.st_size) >> 10) KiB; a schema is a few kilobytes"))
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return .failure(SchemaFileError(path, nil, "cannot be read as UTF-8 text"))
        }
        var parsed: JSON?
        let isJSON = path.lowercased().hasSuffix(".json")
        if isJSON {
            do { parsed = try JSON.parse(Array(text.utf8)) } catch let error as JSONParseError {
                return .failure(SchemaFileError(path, Self.line(atOffset: error.offset, in: text), "not valid JSON: \(error.reason)"))
            } catch {
                return .failure(SchemaFileError(path, nil, "not valid JSON: \(error)"))
            }
        }
        // YAML reads JSON too, and keeps each node's line for the messages.
        var reader = YAMLFieldReader(file: path)
        let node = reader.compose(text)
        if !isJSON, node == nil {
            let issue = reader.issues.first
            return .failure(SchemaFileError(path, issue?.line, issue?.message ?? "the file is empty"))
        }
        let value = parsed ?? node.map(SchemaNode.json) ?? .null
        if let problem = SchemaLint.problems(in: value).first {
            let line = node.flatMap { SchemaNode.node(at: problem.path, in: $0) }.flatMap { reader.line(of: $0) }
            return .failure(SchemaFileError(path, line, SchemaLint.field("schema", problem.path) + ": " + problem.message))
        }
        return .success(AnswerSchema(schema: value, source: path))
    }

    static func line(atOffset offset: Int, in text: String) -> Int {
        text.utf8.prefix(offset).reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}

/// A schema file that cannot be used, with the line to look at.
public struct SchemaFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let message: String

    init(_ file: String, _ line: Int?, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// A YAML tree read as JSON, and the way back from a JSON path to the node it came from.
enum SchemaNode {
    /// Plain scalars become null, booleans and numbers as JSON spells them; quoted ones stay text.
    static func json(_ node: Node) -> JSON {
        switch node {
        case .scalar(let scalar):
            let text = scalar.string
            guard scalar.style == .plain else { return .string(text) }
            switch text {
            case "", "~", "null", "Null", "NULL": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default: break
            }
            if let number = try? JSON.parse(text), case .number = number { return number }
            return .string(text)
        case .mapping(let mapping):
            return .object(JSONObject(mapping.map { JSONObject.Member(key: $0.key.string ?? "", value: json($0.value)) }))
        case .sequence(let sequence):
            return .array(sequence.map(json))
        case .alias:
            return .null
        }
    }

    static func node(at path: [SchemaPath.Step], in root: Node) -> Node? {
        var node = root
        for step in path {
            switch (step, node) {
            case (.key(let key), .mapping(let mapping)):
                guard let next = mapping.first(where: { $0.key.string == key })?.value else { return node }
                node = next
            case (.index(let index), .sequence(let sequence)) where sequence.indices.contains(index):
                node = sequence[index]
            default:
                return node
            }
        }
        return node
    }
}
