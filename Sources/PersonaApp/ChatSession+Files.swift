import Foundation
import PersonaKit
import TerminalUI

/// What the chat session writes and shows of itself: the export, the transcript overlay, and
/// the persona files `/edit` opens.
extension ChatSession {
    /// Writes the saved session as Markdown or JSON, as `persona sessions export` does, to `path`
    /// or to `./<name or id>.<md|json>`, and says where.
    func export(format: String, to path: String?, session: String) -> AppEvent {
        guard let format = SessionsReport.ExportFormat(name: format) else {
            return .notice("/export: the format is md or json, not \(format)")
        }
        guard let store else { return .notice("/export: no session store is open.") }
        do {
            guard let (info, messages) = try store.load(session), !messages.isEmpty else {
                return .notice("/export: nothing is saved of this session yet; send a message first.")
            }
            let totals = try engine.accounting?.ledger?.totals(session: session)
            let fileName = (info.name ?? info.id).replacingOccurrences(of: "/", with: "-")
            let target = URL(fileURLWithPath: path ?? "./\(fileName).\(format.fileExtension)").standardizedFileURL
            let text = format.render(info, messages, totals: totals)
            try Data(Secrets.redact(text).utf8).write(to: target, options: .atomic)
            return .notice("Exported \(messages.count) messages to \(target.path).")
        } catch {
            return .notice("/export: \(error.localizedDescription)")
        }
    }

    /// The conversation in time order: each message under its speaker, round and cost, its text
    /// wrapped to `width` columns, made inert for the terminal.
    func transcriptLines(width: Int) -> [String] {
        guard !transcript.isEmpty else { return ["Transcript", "", "Nothing has been said yet."] }
        var lines = ["Transcript of \(transcript.count) messages (/ searches)"]
        for message in transcript {
            var heading = SessionsReport.speaker(message) + " · round \(message.round)"
            if message.role != .user {
                heading += " · " + PlainPrinter.costText(message.costPicos, estimated: message.estimated)
            }
            if message.status != .complete { heading += " · \(message.status.rawValue)" }
            lines += ["", "── " + InertText.sanitize(heading) + " ──"]
            for tool in message.tools { lines += TextWrap.wrap(InertText.sanitize(ToolLine.text(tool, .pane)), width: width) }
            lines += TextWrap.wrap(InertText.sanitize(message.text), width: width)
        }
        return lines
    }

    /// The file of the persona `handle` names, for `/edit`. A bundled persona is copied into
    /// `<home>/personas` first: the copy then overrides it, and the checkout stays as it was.
    func personaFile(_ handle: String) -> Result<String, UsageError> {
        let persona = personas.values.first { PersonaHandle.matches(handle, id: $0.id, name: $0.name) }
            ?? workspace.personas.first { PersonaHandle.matches(handle, id: $0.id, name: $0.name) }
        guard let persona else { return .failure(UsageError("/edit: no persona named '\(handle)'")) }
        guard let file = persona.file else { return .failure(UsageError("/edit: \(persona.name) has no file of its own")) }
        let ownFolders = [workspace.paths.personasDirectory] + workspace.config.personasDirs
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL.path
        guard !ownFolders.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.path == folder }) else { return .success(file) }
        let copy = workspace.paths.personasDirectory + "/" + URL(fileURLWithPath: file).lastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: workspace.paths.personasDirectory, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: copy) { try FileManager.default.copyItem(atPath: file, toPath: copy) }
            return .success(copy)
        } catch {
            return .failure(UsageError("/edit: \(persona.name) is bundled, and a copy to edit could not be made at \(copy): "
                + error.localizedDescription))
        }
    }
}
