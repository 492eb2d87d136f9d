import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Where the config is, what is in force, and whether the files are valid.",
        subcommands: [Path.self, Show.self, Validate.self], defaultSubcommand: Show.self)

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print where the config lives.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            Output.write(global.paths().configFile + "\n")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the config in force, keys shown only as set or unset, with the roster and model a start would use.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let workspace = global.workspace()
            Output.write(ConfigReport.show(workspace, defaultModel: await ModelInForce.find(workspace)))
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the config and every persona file; exits 2 on errors.")
        @Argument(help: "A config file to check instead of the one in force.") var file: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let paths = PersonaPaths.resolve(home: global.home, config: file ?? global.config)
            let workspace = Workspace.load(paths: paths)
            Output.write(ConfigReport.validate(workspace))
            if workspace.issues.contains(where: { $0.severity == .error }) { throw ExitCode.usageOrConfig }
        }
    }
}
