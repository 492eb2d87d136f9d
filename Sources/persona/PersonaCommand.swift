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
        subcommands: [Chat.self, Ask.self, Debate.self, Sessions.self, Costs.self, Models.self, Prices.self, Personas.self,
                      Doctor.self, Local.self, ConfigCommand.self],
        defaultSubcommand: Chat.self)
}

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
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        } catch {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
    }
}

/// Options about money that chat and ask share.
struct MoneyOptions: ParsableArguments {
    @Option(help: "Cap this session's spending, in USD (default: budget.session_usd from the config).")
    var budget: String?

    @Option(help: "Import prices from a LiteLLM model_prices_and_context_window.json file.")
    var prices: String?

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
            Output.error("\(error); nothing was sent")
            throw ExitCode(PersonaApp.ExitCode.turnFailed)
        }
    }
}

/// Everything the commands print, with every known key hidden. A terminal closed under a running
/// command fails its writes; the run still ends as it would, with its turns recorded.
enum Output {
    static func write(_ text: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data(Secrets.redact(text).utf8))
    }

    static func error(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(("persona: " + Secrets.redact(text) + "\n").utf8))
    }
}

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the chat screen: every persona answers side by side (the default command).")

    @Argument(help: "A first message, sent as soon as the screen opens.")
    var topic: String?

    @Option(help: "Comma-separated persona ids or names (default: default_personas from the config).")
    var personas: String?

    @Option(help: "provider:model for every persona; alone, it makes one ad-hoc assistant.")
    var model: String?

    @Option(help: "parallel, rounds, round-robin or moderated (change it later with /mode).")
    var mode: ConversationMode = .parallel

    @Option(help: "Rounds a debate runs after each message (change it later with /rounds).")
    var rounds = 3

    @Option(help: "A persona who judges each debate (change it later with /judge).")
    var judge: String?

    @Option(help: "Reopen a saved session (see `persona sessions list`).")
    var resume: String?

    @OptionGroup var money: MoneyOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let paths = global.paths()
        do { try FirstRun.writeStarterConfig(paths) } catch {
            Output.error("could not write a starter config at \(paths.configFile): \(error.localizedDescription)")
        }
        var workspace = global.workspace()
        if resume == nil { try await global.resolveDefaults(&workspace, personas: Ask.list(personas), model: model) }
        let launch: ChatLaunch
        do {
            launch = try ChatLaunch(ChatLaunch.Options(personas: Ask.list(personas), model: model, mode: mode, rounds: rounds, judge: judge,
                                                       resume: resume, budget: try money.budgetCap(), pricesFile: money.prices),
                                    workspace: workspace, warn: { Output.error($0) })
        } catch let error as LedgerError {
            Output.error("\(error); nothing was sent")
            throw ExitCode(PersonaApp.ExitCode.turnFailed)
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
        let loop = launch.runLoop(screen: screen)
        await loop.runOnOwnThread(firstMessage: topic, welcome: FirstRun.shouldWelcome(paths))
        // The terminal first, so that a second signal while the stopped turns settle leaves it whole.
        screen.stop()
        await loop.settle()
        if let failure = launch.accounting.ledgerFailure {
            Output.error("the cost ledger \(workspace.paths.database) stopped taking rows: \(failure); nothing more was sent")
            throw ExitCode(PersonaApp.ExitCode.turnFailed)
        }
        if let signal = loop.endedBySignal { throw ExitCode(128 + signal) }
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

    @OptionGroup var money: MoneyOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var workspace = global.workspace()
        try await global.resolveDefaults(&workspace, personas: Self.list(personas), model: model)
        let options = AskOptions(prompt: prompt, personas: Self.list(personas), model: model, json: json,
                                 maxTokens: maxTokens, temperature: temperature)
        let session = SessionID.make()
        let turns: [PlannedTurn]
        let accounting: Accounting
        do {
            accounting = try money.accounting(workspace: workspace, json: json)
            turns = try AskPlanner.plan(options, workspace: workspace, session: session, catalog: accounting.catalog)
        } catch let exit as ArgumentParser.ExitCode {
            throw exit
        } catch {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
        for warning in RetiredModels.warnings(turns.map { ($0.persona.id, $0.model) }, catalog: accounting.catalog) {
            Output.error(warning)
        }
        let engine = EngineSetup.make(workspace: workspace, accounting: accounting)
        let interruption = Interruption()
        interruption.install()
        let code = await AskRunner(engine: engine, output: Output.write).run(turns, json: json, session: session,
                                                                            interruption: interruption)
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

struct Costs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What your requests cost, from the ledger: summary (default), daily, by-provider, by-model or entries.")

    @Argument(help: "summary, daily, by-provider, by-model or entries.")
    var report: String = "summary"

    @Option(help: "Only requests at or after this time (ISO 8601, or a date such as 2026-11-01).")
    var since: String?

    @Option(help: "Only requests before this time.")
    var until: String?

    @Option(help: "Days that `daily` covers, up to today.")
    var days = 7

    @Option(help: "Rows that `entries` lists.")
    var limit = 20

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let workspace = global.workspace()
        guard let kind = CostsReport.Kind(rawValue: report) else {
            Output.error("unknown report '\(report)'; use one of \(CostsReport.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
        do {
            let period = Ledger.Period(start: try since.map { try Self.date($0, "--since") },
                                       end: try until.map { try Self.date($0, "--until") })
            let ledger = try Ledger(path: workspace.paths.database)
            Output.write(try CostsReport.render(kind, ledger: ledger,
                                                options: CostsReport.Options(period: period, days: days, limit: limit, json: json)))
        } catch let error as UsageError {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        } catch let error as LedgerError {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.turnFailed)
        }
    }

    /// A full ISO 8601 time, or a date meaning its local midnight.
    static func date(_ text: String, _ option: String) throws -> Date {
        if let full = ISO8601DateFormatter().date(from: text) { return full }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        if let day = formatter.date(from: text) { return day }
        throw UsageError("\(option): '\(text)' is not a date such as 2026-11-01 or 2026-11-01T09:00:00Z")
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The price catalog: context window and USD per million tokens.")

    @Option(help: "Only this provider's models.")
    var provider: String?

    @Option(help: "Also import prices from a LiteLLM model_prices_and_context_window.json file.")
    var prices: String?

    @Flag(help: "List the models in the ledger that have no price, with the entry to add under prices:.")
    var unpriced = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let workspace = global.workspace()
        let (catalog, issues) = PriceCatalog.load(config: workspace.config, pricesFile: prices, home: workspace.paths.home)
        for issue in issues { Output.error("prices: \(issue)") }
        guard unpriced else { return Output.write(ModelsReport.render(catalog, provider: provider, json: json)) }
        do {
            Output.write(try ModelsReport.unpriced(try Ledger(path: workspace.paths.database), catalog: catalog, json: json))
        } catch {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.turnFailed)
        }
    }
}

extension ConversationMode: ExpressibleByArgument {}

struct Debate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let personas debate a topic, headless: in rounds, round-robin or moderated, with an optional judge.")

    @Argument(help: "The topic or question. `@name` picks who answers it first.")
    var topic: String

    @Option(help: "Comma-separated persona ids or names.")
    var personas: String

    @Option(help: "rounds, round-robin, moderated or parallel.")
    var mode: ConversationMode = .rounds

    @Option(help: "How many rounds; consensus on answer_pattern may end the debate sooner.")
    var rounds = 3

    @Option(help: "A persona who reads the whole debate at the end and gives a verdict.")
    var judge: String?

    @Option(help: "The persona who picks the next speaker in moderated mode.")
    var moderator: String?

    @Option(help: "provider:model for every participant.")
    var model: String?

    @Option(help: "Largest answer, in tokens.")
    var maxTokens: Int?

    @Flag(help: "Print JSON-lines events instead of text.")
    var json = false

    @OptionGroup var money: MoneyOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var workspace = global.workspace()
        try await global.resolveDefaults(&workspace, personas: Ask.list(personas) + [judge, moderator].compactMap { $0 }, model: model)
        let session = SessionID.make()
        let plan: DebatePlan
        let accounting: Accounting
        let database: PersonaDatabase
        do {
            plan = try DebatePlanner.plan(DebateOptions(topic: topic, personas: Ask.list(personas), mode: mode, rounds: rounds,
                                                        judge: judge, moderator: moderator, model: model, maxTokens: maxTokens),
                                          workspace: workspace, session: session)
            accounting = try money.accounting(workspace: workspace, json: json)
            database = try PersonaDatabase(path: workspace.paths.database)
        } catch let exit as ArgumentParser.ExitCode {
            throw exit
        } catch {
            Output.error("\(error)")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
        let speakers = plan.participants + [plan.judge, plan.moderator].compactMap { $0 }
        for warning in RetiredModels.warnings(speakers.map { ($0.persona.id, $0.model) }, catalog: accounting.catalog) {
            Output.error(warning)
        }
        let engine = EngineSetup.make(workspace: workspace, accounting: accounting)
        let runner = DebateRunner(engine: engine, store: SessionStore(database: database))
        let interruption = Interruption()
        interruption.install()
        let code = await DebatePrinter(json: json, output: Output.write).run(runner, plan, message: topic, interruption: interruption)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Saved conversations: list them, show one, export one, or import an export.",
        subcommands: [List.self, Show.self, Export.self, Import.self], defaultSubcommand: List.self)

    static func database(_ global: GlobalOptions) throws -> PersonaDatabase {
        try PersonaDatabase(path: global.workspace().paths.database)
    }

    static func store(_ global: GlobalOptions) throws -> SessionStore {
        SessionStore(database: try database(global))
    }

    /// A session, its messages, and what it cost as the ledger has it.
    static func load(_ id: String, _ global: GlobalOptions) throws -> (SessionInfo, [TranscriptMessage], CostTotals) {
        let database = try database(global)
        guard let session = try SessionStore(database: database).load(id) else {
            Output.error("no session '\(id)'; `persona sessions list` shows them")
            throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
        }
        return (session.info, session.messages, try Ledger(database: database).totals(session: session.info.id))
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions, newest first, with their turns and cost.")
        @Option(help: "How many to list.") var limit = 30
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let database = try Sessions.database(global)
            let sessions = try SessionStore(database: database).list(limit: limit)
            Output.write(SessionsReport.list(sessions, costs: try Ledger(database: database).totals(sessions: sessions.map(\.info.id))))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session's transcript.")
        @Argument(help: "The session id (a unique prefix will do).") var id: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (info, messages, totals) = try Sessions.load(id, global)
            Output.write(SessionsReport.show(info, messages, totals: totals))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session as Markdown (with a YAML header) or JSON.")
        @Argument(help: "The session id (a unique prefix will do).") var id: String
        @Option(help: "markdown or json.") var format = "markdown"
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (info, messages, totals) = try Sessions.load(id, global)
            switch format {
            case "markdown", "md": Output.write(SessionsReport.exportMarkdown(info, messages, totals: totals))
            case "json": Output.write(SessionsReport.exportJSON(info, messages, totals: totals))
            default:
                Output.error("--format: use markdown or json")
                throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a session exported with --format json.")
        @Argument(help: "The JSON export file.") var file: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            do {
                let (info, messages) = try SessionsReport.importJSON(try String(contentsOfFile: file, encoding: .utf8))
                let store = try Sessions.store(global)
                guard try store.load(info.id) == nil else {
                    Output.error("session \(info.id) is already saved")
                    throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
                }
                try store.insert(info, messages: messages)
                Output.write("imported session \(info.id): \(messages.count) messages\n")
            } catch let error as SessionsReport.ImportError {
                Output.error("\(file): \(error)")
                throw ExitCode(PersonaApp.ExitCode.usageOrConfig)
            }
        }
    }
}

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
        if !DoctorReport.healthy(checks) { throw ExitCode(PersonaApp.ExitCode.turnFailed) }
    }
}

struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The local model (llama.cpp with Gemma 3 270M): no key, and no network once set up.",
        subcommands: [Setup.self, Start.self, Stop.self, Status.self], defaultSubcommand: Status.self)

    struct Setup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install it under <home>/local (builds llama.cpp: 10 to 16 minutes on 2 cores; resumes if interrupted).")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            do {
                try LocalServer(home: global.paths().home).setup { Output.write($0 + "\n") }
            } catch {
                Output.error("local setup: \(error)")
                throw ExitCode(PersonaApp.ExitCode.turnFailed)
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the server on a free port of 127.0.0.1.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let local = LocalServer(home: global.paths().home)
            do {
                let running = try await local.start()
                Output.write("local server running at \(running.baseURL) (pid \(running.pid)); log: \(local.log.path)\n")
            } catch {
                Output.error("local start: \(error)")
                throw ExitCode(PersonaApp.ExitCode.turnFailed)
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the server this home started.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            Output.write(LocalServer(home: global.paths().home).stop() ? "local server stopped\n" : "no local server was running\n")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether it is set up and running.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let local = LocalServer(home: global.paths().home)
            var lines = ["installed: " + (local.isInstalled ? "yes (\(local.model.path))" : "no (run `persona local setup`)")]
            if let running = local.running {
                lines.append("running: yes, at \(running.baseURL), pid \(running.pid)")
                lines.append("log: \(local.log.path)")
            } else {
                lines.append("running: no" + (local.isInstalled ? " (`persona local start`, or it starts when needed)" : ""))
            }
            Output.write(lines.joined(separator: "\n") + "\n")
        }
    }
}

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
            if workspace.issues.contains(where: { $0.severity == .error }) { throw ExitCode(PersonaApp.ExitCode.usageOrConfig) }
        }
    }
}
