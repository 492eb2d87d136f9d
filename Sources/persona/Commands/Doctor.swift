import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every provider (key, reachability, authentication) and MCP server; exits 1 if one is unusable.")

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let workspace = global.workspace()
        let choice = await DoctorReport.defaultChoice(workspace)
        let chosen: ModelRef? = if case .success(let made)? = choice { made.model } else { nil }
        let checks = await DoctorReport.run(workspace, chosen: chosen)
        // Every MCP server is started, asked for its tools, and shut down again.
        let tools = EngineSetup.toolBox(workspace)
        await tools.startAll()
        let servers = await tools.status()
        await tools.shutdown()
        if json {
            Output.write(DoctorReport.json(checks, choice: choice, servers: servers))
        } else {
            Output.write(DoctorReport.text(checks, choice: choice) + DoctorReport.servers(servers).map { $0 + "\n" }.joined())
        }
        if !DoctorReport.healthy(checks) || servers.contains(where: { $0.state.hasPrefix("failed") }) { throw ExitCode.turnFailed }
    }
}
