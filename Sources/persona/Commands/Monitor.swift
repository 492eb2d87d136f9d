import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit
import TerminalUI

struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch what every Persona process spends, live: requests in flight, providers, top spenders and budgets.")

    @Flag(help: "Print a snapshot a second as JSON lines, for scripts and status bars, instead of the screen.")
    var json = false

    @Flag(help: "Print one snapshot and exit: the screen as text, or JSON with --json.")
    var once = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let workspace = global.workspace()
        let source: MonitorSource
        do { source = try MonitorSource(workspace: workspace) } catch { throw failure("\(error)", .usageOrConfig) }
        if once { return try printOnce(source) }
        if json {
            while true {
                Output.write(line(source) + "\n")
                Thread.sleep(forTimeInterval: 1)
            }
        }
        let colors = !global.noColor && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        let screen: NCursesScreen
        do { screen = try NCursesScreen(colors: colors) } catch { throw failure("\(error)", .usageOrConfig) }
        let loop = MonitorLoop(screen: screen, source: source)
        loop.run()
        screen.stop()
        if let signal = loop.endedBySignal { throw ExitCode(128 + signal) }
    }

    private func line(_ source: MonitorSource) -> String {
        switch source.read() {
        case .success(let snapshot): return MonitorJSON.line(snapshot)
        case .failure(let problem): return MonitorJSON.problem(problem)
        }
    }

    /// The screen as text, as wide as the terminal (100 columns off one), as tall as it needs.
    private func printOnce(_ source: MonitorSource) throws {
        if json { return Output.write(line(source) + "\n") }
        var window = winsize()
        let width = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0 && window.ws_col >= 60 ? Int(window.ws_col) : 100
        switch source.read() {
        case .success(let snapshot): Output.write(MonitorView.text(MonitorState(width: width, height: 40, snapshot: snapshot)))
        case .failure(let problem): throw failure(problem.description, .turnFailed)
        }
    }
}
