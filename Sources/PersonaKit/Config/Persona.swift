import Foundation
import Yams

/// A persona: a system prompt bound to a provider and a model.
public struct Persona: Sendable, Equatable {
    /// The file's name without `.md`, lowercased; what `--personas` names.
    public var id: String
    public var name: String
    public var color: String?
    /// Nil means "use the config's default_model".
    public var model: ModelRef?
    public var fallback: [ModelRef]
    public var temperature: Double?
    public var maxTokens: Int?
    /// The public description that other personas and the moderator see.
    public var card: String
    public var answerPattern: String?
    public var systemPrompt: String
    /// The file it came from; nil for an ad-hoc persona.
    public var file: String?
    /// The shape its answers take, when it has one (`schema:`, `schema_file:`, or `--schema`).
    public var schema: AnswerSchema?
    /// How many times an answer that breaks the schema is sent back to be fixed (`schema_repair:`);
    /// nil follows the config.
    public var schemaRepair: Int?
    /// The tools it may call (`tools:`): built-ins, MCP servers, or `server/tool`.
    public var tools: [String] = []
    /// The line of `tools:`, for a name the config does not know.
    public var toolsLine: Int?
    /// The folder `search_knowledge` searches (`knowledge:`), absolute.
    public var knowledge: String?

    public init(id: String, name: String, color: String? = nil, model: ModelRef? = nil, fallback: [ModelRef] = [],
                temperature: Double? = nil, maxTokens: Int? = nil, card: String = "", answerPattern: String? = nil,
                systemPrompt: String, file: String? = nil) {
        self.id = id
        self.name = name
        self.color = color
        self.model = model
        self.fallback = fallback
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.card = card
        self.answerPattern = answerPattern
        self.systemPrompt = systemPrompt
        self.file = file
    }

    public static let colorNames: Set<String> = [
        "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white", "orange", "purple", "pink", "teal", "gray", "grey",
    ]
    static let keys: Set<String> = ["name", "color", "model", "fallback", "temperature", "max_tokens", "card", "answer_pattern",
                                    "schema", "schema_file", "schema_repair", "tools", "knowledge"]
    /// The most repairs `schema_repair:` may ask for.
    public static let repairRange = 0...2

    /// Parses a persona file: YAML front matter between `---` lines, then the system prompt.
    public static func parse(_ text: String, file: String) -> (Persona?, [ConfigIssue]) {
        let id = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent.lowercased()
        var lines = text.components(separatedBy: "\n")
        if lines.first?.hasPrefix("\u{FEFF}") == true { lines[0].removeFirst() }
        func fail(_ line: Int?, _ message: String) -> (Persona?, [ConfigIssue]) {
            (nil, [ConfigIssue(.error, file: file, line: line, field: nil, message: message)])
        }
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "---" else {
            return fail(1, "a persona file starts with a '---' line, then YAML front matter (name, model, …), then '---' and the system prompt")
        }
        guard let closing = lines.indices.dropFirst().first(where: { lines[$0].trimmingCharacters(in: .whitespaces) == "---" }) else {
            return fail(1, "the front matter opened on line 1 is never closed with a '---' line")
        }
        let frontMatter = lines[1..<closing].joined(separator: "\n")
        let body = lines[(closing + 1)...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)

        var reader = YAMLFieldReader(file: file, lineOffset: 1)
        var persona = Persona(id: id, name: id.capitalized, systemPrompt: body, file: file)
        guard let root = reader.compose(frontMatter) else {
            if reader.issues.isEmpty { return fail(2, "the front matter is empty; it needs at least a name") }
            return (nil, reader.issues)
        }
        let entries = reader.entries(root, field: nil, known: keys)
        if let second = entries.first(where: { $0.key == "schema_file" }), entries.contains(where: { $0.key == "schema" }) {
            reader.error(second.node, second.key, "give schema: or schema_file:, not both")
        }
        for (key, keyNode, value) in entries {
            switch key {
            case "name":
                if let name = reader.string(value, key)?.trimmingCharacters(in: .whitespaces), !name.isEmpty { persona.name = name }
                else { reader.error(value, key, "the name must not be empty") }
            case "color":
                guard let color = reader.string(value, key)?.lowercased() else { continue }
                if colorNames.contains(color) || (Int(color).map { (0...255).contains($0) } ?? false) {
                    persona.color = color
                } else {
                    reader.warning(value, key, "unknown colour \(ConfigIssue.echo(color)), using the default; use a name (\(colorNames.sorted().joined(separator: ", "))) or 0–255")
                }
            case "model": persona.model = reader.modelRef(value, key)
            case "fallback":
                persona.fallback = (reader.stringList(value, key) ?? []).compactMap { text in
                    do { return try ModelRef(parsing: text) } catch {
                        reader.error(value, key, "\(error)")
                        return nil
                    }
                }
            case "temperature": persona.temperature = reader.double(value, key, range: 0...2)
            case "max_tokens": persona.maxTokens = reader.int(value, key, range: 1...1_000_000)
            case "card": persona.card = reader.string(value, key)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            case "answer_pattern":
                guard let pattern = reader.string(value, key) else { continue }
                do {
                    _ = try NSRegularExpression(pattern: pattern)
                    persona.answerPattern = pattern
                } catch {
                    reader.error(value, key, "not a valid regular expression: \(pattern)")
                }
            case "schema":
                persona.schema = AnswerSchema.read(value, key: keyNode, field: key, reader: &reader)
            case "schema_file":
                guard let name = reader.string(value, key) else { continue }
                let path = Config.resolvePath(name, relativeTo: URL(fileURLWithPath: file).deletingLastPathComponent().path)
                switch AnswerSchema.load(file: path) {
                case .success(let schema): persona.schema = schema
                case .failure(let problem): reader.error(value, key, problem.description)
                }
            case "schema_repair": persona.schemaRepair = reader.int(value, key, range: repairRange)
            case "tools":
                persona.tools = reader.stringList(value, key) ?? []
                persona.toolsLine = reader.line(of: keyNode)
            case "knowledge":
                guard let folder = reader.string(value, key) else { continue }
                let path = Config.resolvePath(folder, relativeTo: URL(fileURLWithPath: file).deletingLastPathComponent().path)
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                    persona.knowledge = path
                } else {
                    reader.error(value, key, "\(path) is not a folder")
                }
            default:
                break
            }
        }
        // search_knowledge reads the knowledge folder, and nothing else does.
        let toolsEntry = entries.first { $0.key == "tools" }, knowledgeEntry = entries.first { $0.key == "knowledge" }
        if let toolsEntry, persona.tools.contains("search_knowledge"), knowledgeEntry == nil {
            reader.error(toolsEntry.node, "tools", "search_knowledge searches the persona's knowledge: folder; add knowledge: ./folder")
        }
        if let knowledgeEntry, persona.knowledge != nil, !persona.tools.contains("search_knowledge") {
            reader.warning(knowledgeEntry.node, "knowledge", "only the search_knowledge tool reads this folder; add it to tools:")
        }
        if body.isEmpty {
            reader.error(nil, nil, "the system prompt after the front matter is empty")
        }
        let hasErrors = reader.issues.contains { $0.severity == .error }
        return (hasErrors ? nil : persona, reader.issues)
    }
}

/// Loads every `*.md` persona from a list of folders. Earlier folders win on the same id, so a
/// persona in the Persona home overrides a bundled one. A bad file is reported and skipped.
public enum PersonaLoader {
    public static func load(from directories: [String]) -> (personas: [Persona], issues: [ConfigIssue]) {
        var personas: [Persona] = []
        var seen: Set<String> = []
        var issues: [ConfigIssue] = []
        for directory in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() where name.hasSuffix(".md") && !name.hasPrefix(".") {
                let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
                let text: String
                switch readText(path, name: name) {
                case .success(let read): text = read
                case .failure(let problem):
                    issues.append(ConfigIssue(.error, file: path, line: nil, field: nil, message: problem.description))
                    continue
                }
                let (persona, fileIssues) = Persona.parse(text, file: path)
                issues += fileIssues
                guard let persona, !seen.contains(persona.id) else { continue }
                seen.insert(persona.id)
                personas.append(persona)
            }
        }
        return (personas, issues)
    }

    /// The biggest persona file read: a system prompt is a few kilobytes.
    static let largestFile = 1 << 20

    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    /// A persona file's text, or the real reason it cannot be had. Only a regular file is opened:
    /// opening a FIFO would wait for a writer that never comes.
    static func readText(_ path: String, name: String) -> Result<String, Unreadable> {
        if name.contains("\u{FFFD}") {
            return .failure(Unreadable(description: "its file name is not valid UTF-8 (shown with �); rename it"))
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            switch errno {
            case ELOOP: return .failure(Unreadable(description: "is a symbolic link that leads round in a loop"))
            case ENOENT: return .failure(Unreadable(description: "is a symbolic link to a file that does not exist"))
            case EACCES: return .failure(Unreadable(description: "cannot be read: permission denied"))
            default: return .failure(Unreadable(description: "cannot be read: \(String(cString: strerror(errno)))"))
            }
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFIFO: return .failure(Unreadable(description: "is a FIFO, not a file; persona files are plain text"))
        case S_IFDIR: return .failure(Unreadable(description: "is a folder, not a file"))
        default: return .failure(Unreadable(description: "is a device or socket, not a file; persona files are plain text"))
        }
        guard Int(info.st_size) <= largestFile else {
            return .failure(Unreadable(description: "is \(Int(info.st_size) >> 20) MiB; a persona file is a few kilobytes of text"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(Unreadable(description: "cannot be read: permission denied"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(Unreadable(description: "is not UTF-8 text; save it as UTF-8"))
        }
        return .success(text)
    }
}
