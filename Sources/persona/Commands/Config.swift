import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct ConfigCommand: ParsableCommand {
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

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the config in force, keys shown only as set or unset.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            Output.write(ConfigReport.show(global.workspace()))
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
