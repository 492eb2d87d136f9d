import ArgumentParser
import PersonaKit

@main
struct PersonaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persona",
        abstract: "Talk to several LLM personas at once, side by side, with live token and cost counters.",
        version: PersonaVersion.number,
        subcommands: [Chat.self, Ask.self, Debate.self, Batch.self, Sessions.self, Costs.self, Models.self, Prices.self, Personas.self,
                      LeaderboardCommand.self, Votes.self, Serve.self, Monitor.self, Doctor.self, Local.self, ConfigCommand.self, Completions.self],
        defaultSubcommand: Chat.self)
}

extension ConversationMode: ExpressibleByArgument {}
