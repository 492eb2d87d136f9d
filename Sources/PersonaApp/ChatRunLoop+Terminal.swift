import Foundation
import PersonaKit
import TerminalUI

/// The effects the run loop carries out on the terminal itself: the clipboard, the mouse, and
/// handing the terminal to an editor.
extension ChatRunLoop {
    /// The events that follow a terminal effect; nil for an effect that is not one.
    func performOnTerminal(_ effect: AppEffect) -> [AppEvent]? {
        switch effect {
        case .copy(let text):
            screen.copyToClipboard(text)
            return []
        case .setMouseReports(let on):
            screen.setMouseReports(on)
            return []
        case .editPersona(let handle):
            switch session.personaFile(handle) {
            case .failure(let problem): return [.notice(problem.description)]
            case .success(let file): return edit(file)
            }
        default:
            return nil
        }
    }

    /// Opens `file` in `$VISUAL`, `$EDITOR` or vi on this terminal, waits for it, and reloads
    /// the personas; a file the editor broke is reported with its line, and the old persona stays.
    private func edit(_ file: String) -> [AppEvent] {
        let environment = ProcessInfo.processInfo.environment
        let editor = [environment["VISUAL"], environment["EDITOR"]].compactMap { $0 }.first { !$0.isEmpty } ?? "vi"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The editor may carry arguments (`code -w`); the file is passed apart, never parsed by the shell.
        process.arguments = ["-c", editor + " \"$1\"", "persona-edit", file]
        screen.suspend()
        defer {
            screen.resume()
            let size = screen.refreshSize()
            dispatch(.resize(width: size.width, height: size.height))
        }
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            return [.notice("/edit: \(editor) could not be started: \(error.localizedDescription)")]
        }
        guard process.terminationStatus == 0 else {
            return [.notice("/edit: \(editor) exited with status \(process.terminationStatus); \(file) was not reloaded.")]
        }
        return session.perform(.reload, state: currentState)
    }
}
