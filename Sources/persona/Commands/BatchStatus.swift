import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct BatchStatus: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "A job's parts, with their provider ids and states.")

    @OptionGroup var options: BatchJobOptions

    func run() throws {
        let (workspace, _, job) = try options.open()
        do {
            let store = try BatchSetup.store(workspace: workspace)
            Output.write(BatchReport.status(job, parts: try store.parts(job: job.id), progress: try store.progress(job: job.id)))
        } catch {
            throw failure("\(error)", .turnFailed)
        }
    }
}
