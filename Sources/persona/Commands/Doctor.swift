import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every provider: key, reachability, authentication; exits 1 if one your personas use is unusable.")

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let workspace = global.workspace()
        let choice = await DoctorReport.defaultChoice(workspace)
        let chosen: ModelRef? = if case .success(let made)? = choice { made.model } else { nil }
        let checks = await DoctorReport.run(workspace, chosen: chosen)
        Output.write(json ? DoctorReport.json(checks, choice: choice) : DoctorReport.text(checks, choice: choice))
        if !DoctorReport.healthy(checks) { throw ExitCode.turnFailed }
    }
}
