import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit
import TerminalUI

@main
struct PersonaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persona",
        abstract: "Talk to several LLM personas at once, side by side, with live token and cost counters.",
        subcommands: [Chat.self, Ask.self, Personas.self], defaultSubcommand: Chat.self)
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The config file (default: <home>/config.yaml).")
    var config: String?

    @Option(help: "Persona's home folder (default: $PERSONA_HOME or ~/.persona).")
    var home: String?

    @Flag(help: "Print no colours (NO_COLOR is honoured too).")
    var noColor = false

    func workspace() -> Workspace {
        let workspace = Workspace.load(paths: PersonaPaths.resolve(home: home, config: config))
        for issue in workspace.issues { Output.error(issue.description) }
        return workspace
    }
}

enum Output {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("persona: " + text + "\n").utf8))
    }
}

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the chat screen: every persona answers side by side (the default command).")

    @Argument(help: "A first message, sent as soon as the screen opens.")
    var topic: String?

    @Option(help: "Comma-separated persona ids or names (default: default_personas from the config).")
    var personas: String?

    @Option(help: "provider:model for every persona; alone, it makes one ad-hoc assistant.")
    var model: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let workspace = global.workspace()
        let roster: [Roster.RosterMember]
        do {
            roster = try Roster.select(personas: Ask.list(personas), model: model, workspace: workspace)
        } catch {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
        let colors = !global.noColor && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        let screen: NCursesScreen
        do {
            screen = try NCursesScreen(colors: colors)
        } catch {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
        let state = ChatSetup.state(for: roster, workspace: workspace, budget: nil, width: screen.width, height: screen.height)
        let engine = ConversationEngine(runner: TurnRunner(timeouts: workspace.config.timeouts.transport))
        let controller = ChatController(state: state, personas: roster.map(\.persona), workspace: workspace,
                                        screen: screen, engine: engine)
        controller.run(firstMessage: topic)
        screen.stop()
    }
}

struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask every selected persona at once and print their answers (headless).")

    @Argument(help: "The prompt.")
    var prompt: String

    @Option(help: "Comma-separated persona ids or names (default: default_personas from the config).")
    var personas: String?

    @Option(help: "provider:model for every persona; alone, it makes one ad-hoc assistant.")
    var model: String?

    @Flag(help: "Print JSON-lines events instead of text.")
    var json = false

    @Option(help: "Largest answer, in tokens.")
    var maxTokens: Int?

    @Option(help: "Sampling temperature.")
    var temperature: Double?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let workspace = global.workspace()
        let options = AskOptions(prompt: prompt, personas: Self.list(personas), model: model, json: json,
                                 maxTokens: maxTokens, temperature: temperature)
        let turns: [PlannedTurn]
        do {
            turns = try AskPlanner.plan(options, workspace: workspace)
        } catch {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
        let runner = AskRunner(engine: ConversationEngine(runner: TurnRunner(timeouts: workspace.config.timeouts.transport)),
                               output: Output.write)
        let code = await runner.run(turns, json: json)
        if code != 0 { throw ExitCode(code) }
    }

    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

struct Personas: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the personas, or show one in full.",
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each persona's id, name, model, card and file.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let workspace = global.workspace()
            if workspace.personas.isEmpty {
                Output.error("no personas found in \(workspace.personaDirectories.joined(separator: ", "))")
                throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
            }
            Output.write(PersonaListing.table(workspace))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One persona in full, with its system prompt.")
        @Argument(help: "The persona's id or name.") var name: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let workspace = global.workspace()
            guard let persona = workspace.persona(named: name) else {
                Output.error("no persona named '\(name)'. Available: \(workspace.personas.map(\.id).joined(separator: ", "))")
                throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
            }
            Output.write(PersonaListing.detail(persona, workspace))
        }
    }
}
