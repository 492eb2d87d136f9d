import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Personas: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the personas, or show one in full.",
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each persona's id, name, model, card and file.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let workspace = global.workspace()
            if workspace.personas.isEmpty {
                throw failure("no personas found in \(workspace.personaDirectories.joined(separator: ", "))", .usageOrConfig)
            }
            Output.write(PersonaListing.table(workspace, defaultModel: await ModelInForce.find(workspace)))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One persona in full, with its system prompt.")
        @Argument(help: "The persona's id or name.") var name: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let workspace = global.workspace()
            guard let persona = workspace.persona(named: name) else {
                let available = workspace.personas.map(\.id).joined(separator: ", ")
                throw failure("no persona named '\(name)'. Available: \(available)", .usageOrConfig)
            }
            Output.write(PersonaListing.detail(persona, workspace, defaultModel: await ModelInForce.find(workspace)))
        }
    }
}
