import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The config file (default: <home>/config.yaml).")
    var config: String?

    @Option(help: "Persona's home folder (default: $PERSONA_HOME or ~/.persona).")
    var home: String?

    @Flag(help: "Print no colours (NO_COLOR is honoured too).")
    var noColor = false

    func paths() -> PersonaPaths { PersonaPaths.resolve(home: home, config: config) }

    func workspace() -> Workspace {
        let workspace = Workspace.load(paths: paths())
        for issue in workspace.issues { Output.error(issue.description) }
        return workspace
    }

    /// Chooses a model when nothing names one; when nothing is available, explains the ways
    /// forward and exits 2.
    func resolveDefaults(_ workspace: inout Workspace, personas: [String], model: String?) async throws {
        do {
            try await workspace.resolveDefaults(personaNames: personas, modelFlag: model, startLocal: true)
        } catch let nothing as NoDefaultModel {
            try? FileHandle.standardError.write(contentsOf: Data((nothing.description + "\n").utf8))
            throw ExitCode.usageOrConfig
        } catch {
            throw failure("\(error)", .usageOrConfig)
        }
    }
}

/// Who takes part, and on which model: `ask`, `debate` and the chat screen share them.
struct RosterOptions: ParsableArguments {
    @Option(help: "Comma-separated persona ids or names (default: default_personas from the config).")
    var personas: String?

    @Option(help: "provider:model for every persona; alone, it makes one ad-hoc assistant.")
    var model: String?

    @Option(help: "Largest answer, in tokens (default: each persona's max_tokens).")
    var maxTokens: Int?

    @Option(help: ArgumentHelp("Comma-separated tools every persona may also call: built-ins (calculator, current_time, "
                               + "search_knowledge), MCP servers from mcp_servers, or server/tool.", valueName: "names"))
    var tools: String?

    @Option(help: "The most requests a turn may take while it calls tools (default: max_tool_steps, 8).")
    var maxToolSteps: Int?

    /// `--tools` and `--max-tool-steps`, applied to the run's personas and config.
    func applyTools(to workspace: inout Workspace) throws {
        let names = (tools ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        try workspace.addTools(names, maxSteps: maxToolSteps)
    }

    /// `--personas` as a list.
    var names: [String] {
        (personas ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// How a conversation runs: `debate` and the chat screen share them.
struct ConversationOptions: ParsableArguments {
    @Option(help: "parallel, rounds, round-robin, moderated or council (in the chat screen, change it later with /mode).")
    var mode: ConversationMode?

    @Option(help: "How many rounds a debate runs; consensus on answer_pattern may end it sooner.")
    var rounds = 3

    @Option(help: "A persona who reads the whole debate at the end and gives a verdict.")
    var judge: String?
}

/// Options about money that chat, ask and debate share.
struct MoneyOptions: ParsableArguments {
    @Option(help: "Cap this session's spending, in USD (default: budget.session_usd from the config).")
    var budget: String?

    @Option(help: "Import prices from a LiteLLM model_prices_and_context_window.json file.")
    var prices: String?

    func validate() throws {
        if let prices { try requireReadableFile(prices, "--prices") }
    }

    /// `--budget` as dollars; nil when it is not given.
    func budgetCap() throws -> Decimal? {
        guard let budget else { return nil }
        guard let parsed = Money.parse(budget) else { throw UsageError("--budget: '\(budget)' is not an amount in USD, such as 0.50") }
        return parsed
    }

    /// Prices, caps and the ledger. A ledger that cannot be opened ends the command with exit
    /// code 1 (an `error` event of kind `ledger` with `--json`): nothing may be sent unrecorded.
    func accounting(workspace: Workspace, json: Bool = false) throws -> Accounting {
        do {
            return try AccountingSetup.make(workspace: workspace, budget: try budgetCap(), pricesFile: prices,
                                            warn: { Output.error($0) })
        } catch let error as LedgerError {
            if json { Output.write(EventJSON.ledgerError(error).serialized + "\n") }
            throw failure("\(error); nothing was sent", .turnFailed)
        }
    }
}
