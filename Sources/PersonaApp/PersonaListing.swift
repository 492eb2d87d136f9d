import PersonaKit
import TerminalUI

/// The model that personas naming none answer with, as a launch would choose it, and why.
public struct ModelInForce: Sendable {
    public var model: ModelRef?
    public var reason: String

    /// Chooses as `persona` does at start, without starting the local server.
    public static func find(_ workspace: Workspace) async -> ModelInForce {
        if let model = workspace.config.defaultModel { return ModelInForce(model: model, reason: "default_model in the config") }
        do {
            let choice = try await DefaultModel.resolve(directory: workspace.providers, local: workspace.local, startLocal: false)
            return ModelInForce(model: choice.model, reason: "chosen at start: " + choice.reason)
        } catch {
            if workspace.local.isInstalled {
                return ModelInForce(model: ModelRef(provider: "local", model: LocalServer.modelName),
                                    reason: "chosen at start: no API key is set and Ollama is not running, so the local server")
            }
            return ModelInForce(model: nil, reason: "none: set an API key, start Ollama, or run `persona local setup`")
        }
    }

    /// `Personas without a model of their own answer with openai:gpt-4o-mini (chosen at start: …).`
    public var sentence: String {
        model.map { "Personas without a model of their own answer with \($0) (\(reason))." }
            ?? "Personas without a model of their own have none yet: \(reason.replacingOccurrences(of: "none: ", with: ""))."
    }
}

/// Text for `persona personas list` and `persona personas show`.
public enum PersonaListing {
    public static func table(_ workspace: Workspace, defaultModel: ModelInForce) -> String {
        let rows = workspace.personas.map { persona in
            [persona.id, persona.name, modelText(persona, defaultModel), persona.card, persona.file ?? ""]
        }
        return TextTable.render(header: ["ID", "NAME", "MODEL", "CARD", "FILE"], rows: rows, maxWidths: [16, 22, 36, 50, 80])
            + "\n" + rosterLine(workspace) + "\n" + defaultModel.sentence + "\n"
    }

    /// Who `persona` opens with, and why: the config's `default_personas`, or the starter roster.
    public static func rosterLine(_ workspace: Workspace) -> String {
        if !workspace.config.defaultPersonas.isEmpty {
            return "`persona` opens with \(workspace.config.defaultPersonas.joined(separator: ", ")) (default_personas in the config)."
        }
        let starter = Workspace.starterRoster.filter { workspace.persona(named: $0) != nil }
        return "`persona` opens with \(starter.joined(separator: ", ")) (the starter roster; default_personas changes it)."
    }

    public static func detail(_ persona: Persona, _ workspace: Workspace, defaultModel: ModelInForce) -> String {
        var lines = [
            "id:             \(persona.id)",
            "name:           \(persona.name)",
            "model:          \(modelText(persona, defaultModel))",
        ]
        if !persona.fallback.isEmpty { lines.append("fallback:       \(persona.fallback.map(\.description).joined(separator: ", "))") }
        if let color = persona.color { lines.append("color:          \(color)") }
        if let temperature = persona.temperature { lines.append("temperature:    \(temperature)") }
        if let maxTokens = persona.maxTokens { lines.append("max_tokens:     \(maxTokens)") }
        if let pattern = persona.answerPattern { lines.append("answer_pattern: \(pattern)") }
        if let schema = persona.schema {
            let properties = schema.schema["properties"]?.object?.keys ?? []
            let required = Set(schema.schema["required"]?.array?.compactMap(\.string) ?? [])
            lines.append("schema:         \(schema.name): " + properties.map { required.contains($0) ? $0 : $0 + "?" }.joined(separator: ", ")
                + " (from \(schema.source))")
            lines.append("schema_repair:  " + (persona.schemaRepair.map { "\($0)" } ?? "\(workspace.config.schemaRepair) (the config's)"))
        }
        lines.append("card:           \(persona.card)")
        lines.append("file:           \(persona.file ?? "(ad hoc)")")
        lines.append("")
        lines.append("system prompt:")
        lines.append(persona.systemPrompt)
        return InertText.sanitize(lines.joined(separator: "\n")) + "\n"
    }

    static func modelText(_ persona: Persona, _ defaultModel: ModelInForce) -> String {
        if let model = persona.model { return "\(model) (its own)" }
        return defaultModel.model.map { "\($0) (default)" } ?? "(none yet)"
    }
}

/// Left-aligned columns, each as wide as its widest cell up to a limit (longer cells end in `…`).
/// An empty header prints no header row.
public enum TextTable {
    public static func render(header: [String], rows: [[String]], maxWidths: [Int]) -> String {
        let all = header.isEmpty ? rows : [header] + rows
        let columns = all.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in
            min(column < maxWidths.count ? maxWidths[column] : 80, all.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0)
        }
        return all.map { row in
            row.indices.map { column in
                let cell = InertText.sanitize(row[column].replacingOccurrences(of: "\n", with: " "))
                let fitted = cell.count > widths[column] ? String(cell.prefix(widths[column] - 1)) + "…" : cell
                return column == row.count - 1 ? fitted : fitted.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + (all.isEmpty ? "" : "\n")
    }
}
