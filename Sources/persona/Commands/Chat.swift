import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit
import TerminalUI

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the chat screen: every persona answers side by side (the default command).")

    @Argument(help: "A first message, sent as soon as the screen opens.")
    var topic: String?

    @OptionGroup var roster: RosterOptions
    @OptionGroup var conversation: ConversationOptions

    @Option(help: "Reopen a saved session with its last roster: its id, a unique start of it, its name, or `last`.")
    var resume: String?

    @Flag(help: "Blind mode: answers come as A, B, C… in a new order each prompt; names, models and costs show after /vote.")
    var blind = false

    @OptionGroup var money: MoneyOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        ProcessRole.set("chat")
        let paths = global.paths()
        do { try FirstRun.writeStarterConfig(paths) } catch {
            Output.error("could not write a starter config at \(paths.configFile): \(error.localizedDescription)")
        }
        var workspace = global.workspace()
        try await exitingOnFailure { try roster.applyTools(to: &workspace) }
        if resume == nil { try await global.resolveDefaults(&workspace, personas: roster.names, model: roster.model) }
        let launch = try await exitingOnFailure {
            try ChatLaunch(ChatLaunch.Options(personas: roster.names, model: roster.model, mode: conversation.mode ?? .parallel,
                                              rounds: conversation.rounds, judge: conversation.judge, maxTokens: roster.maxTokens,
                                              resume: resume, budget: try money.budgetCap(), pricesFile: money.prices,
                                              blind: blind ? true : nil),
                           workspace: workspace, warn: { Output.error($0) })
        }
        let colors = !global.noColor && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        let screen = try await exitingOnFailure { try NCursesScreen(colors: colors) }
        let loop = launch.runLoop(screen: screen)
        await loop.runOnOwnThread(firstMessage: topic, welcome: FirstRun.shouldWelcome(paths))
        // The terminal first, so that a second signal while the stopped turns settle leaves it whole.
        screen.stop()
        let resumable = await loop.settle()
        if let ledgerFailure = launch.accounting.ledgerFailure {
            throw failure("the cost ledger \(workspace.paths.database) stopped taking rows: \(ledgerFailure); nothing more was sent",
                          .turnFailed)
        }
        if let resumable { Output.write("resume with: persona --resume \(resumable)\n") }
        if let signal = loop.endedBySignal { throw ExitCode(128 + signal) }
    }
}
