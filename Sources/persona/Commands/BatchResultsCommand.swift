import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct BatchResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "results", abstract: "A job's answers, by prompt and persona.")

    @Option(help: "markdown, json, jsonl or csv.")
    var format: BatchReport.Format = .markdown

    @OptionGroup var options: BatchJobOptions

    func run() throws {
        let (workspace, _, job) = try options.open()
        do {
            Output.write(BatchReport.results(job, try BatchSetup.store(workspace: workspace).requests(job: job.id), format: format))
        } catch {
            throw failure("\(error)", .turnFailed)
        }
    }
}
