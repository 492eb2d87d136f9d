import PersonaKit
import TerminalUI

/// Text for `persona personas list` and `persona personas show`.
public enum PersonaListing {
    public static func table(_ workspace: Workspace) -> String {
        let rows = workspace.personas.map { persona in
            [persona.id, persona.name, modelText(persona, workspace), persona.card, persona.file ?? ""]
        }
        return TextTable.render(header: ["ID", "NAME", "MODEL", "CARD", "FILE"], rows: rows, maxWidths: [16, 22, 36, 60, 80])
    }

    public static func detail(_ persona: Persona, _ workspace: Workspace) -> String {
        var lines = [
            "id:             \(persona.id)",
            "name:           \(persona.name)",
            "model:          \(modelText(persona, workspace))",
        ]
        if !persona.fallback.isEmpty { lines.append("fallback:       \(persona.fallback.map(\.description).joined(separator: ", "))") }
        if let color = persona.color { lines.append("color:          \(color)") }
        if let temperature = persona.temperature { lines.append("temperature:    \(temperature)") }
        if let maxTokens = persona.maxTokens { lines.append("max_tokens:     \(maxTokens)") }
        if let pattern = persona.answerPattern { lines.append("answer_pattern: \(pattern)") }
        lines.append("card:           \(persona.card)")
        lines.append("file:           \(persona.file ?? "(ad hoc)")")
        lines.append("")
        lines.append("system prompt:")
        lines.append(persona.systemPrompt)
        return InertText.sanitize(lines.joined(separator: "\n")) + "\n"
    }

    static func modelText(_ persona: Persona, _ workspace: Workspace) -> String {
        if let model = persona.model { return model.description }
        if let model = workspace.config.defaultModel { return "\(model) (default_model)" }
        return "(none: set default_model)"
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
