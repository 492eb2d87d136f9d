import Foundation
import PersonaKit

/// A structured answer as its fields, one per line: `confidence 0.82`, lists as bullets, nested
/// objects indented under their name. The pane shows the names in bold; plain text ends them
/// with a colon.
enum StructuredFields {
    struct Line: Equatable {
        var depth: Int
        var name: String?
        var bullet = false
        var value: String?
    }

    static func lines(_ value: JSON) -> [Line] {
        var lines: [Line] = []
        add(value, name: nil, depth: 0, bullet: false, to: &lines)
        return lines
    }

    private static func add(_ value: JSON, name: String?, depth: Int, bullet: Bool, to lines: inout [Line]) {
        switch value {
        case .object(let object):
            if name != nil || bullet { lines.append(Line(depth: depth, name: name, bullet: bullet)) }
            let inner = name != nil || bullet ? depth + 1 : depth
            for member in object.members { add(member.value, name: member.key, depth: inner, bullet: false, to: &lines) }
        case .array(let items):
            if name != nil || bullet { lines.append(Line(depth: depth, name: name, bullet: bullet, value: items.isEmpty ? "none" : nil)) }
            let inner = name != nil || bullet ? depth + 1 : depth
            for item in items { add(item, name: nil, depth: inner, bullet: true, to: &lines) }
        case .string(let text):
            lines.append(Line(depth: depth, name: name, bullet: bullet, value: text))
        case .null:
            lines.append(Line(depth: depth, name: name, bullet: bullet, value: "—"))
        case .bool, .number:
            lines.append(Line(depth: depth, name: name, bullet: bullet, value: value.serialized))
        }
    }

    /// For the pane's Markdown styler: `**confidence** 0.82`, `• calm`.
    static func markdown(_ value: JSON) -> String {
        text(value) { "**\(escaped($0))**" }
    }

    /// For plain text: `confidence: 0.82`.
    static func plain(_ value: JSON) -> String {
        text(value) { $0 + ":" }
    }

    /// The lines indented by depth, each name as `named` writes it.
    private static func text(_ value: JSON, named: (String) -> String) -> String {
        lines(value).map { line in
            String(repeating: "  ", count: line.depth) + (line.bullet ? "• " : "")
                + [line.name.map(named), line.value].compactMap { $0 }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// A name shown in bold must not close the bold itself.
    private static func escaped(_ name: String) -> String {
        name.replacingOccurrences(of: "*", with: "∗")
    }
}
