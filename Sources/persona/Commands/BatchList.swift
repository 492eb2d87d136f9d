import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct BatchList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every job: its state, its requests and its cost so far.")

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let workspace = global.workspace()
        do {
            let store = try BatchSetup.store(workspace: workspace)
            let jobs = try store.jobs().map { ($0, try store.progress(job: $0.id)) }
            Output.write(json ? BatchReport.listJSON(jobs) : BatchReport.list(jobs))
        } catch {
            throw failure("\(error)", .turnFailed)
        }
    }
}
