import ArgumentParser
import PersonaApp
import PersonaKit

struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask every selected persona at once and print their answers (headless).")

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var roster: RosterOptions

    @Option(help: "Sampling temperature.")
    var temperature: Double?

    @Option(help: ArgumentHelp("A JSON Schema file every persona answers in, in place of its own schema.", valueName: "file"))
    var schema: String?

    @Flag(help: "Print JSON-lines events instead of text.")
    var json = false

    @OptionGroup var money: MoneyOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        ProcessRole.set("ask")
        var workspace = global.workspace()
        try await exitingOnFailure { try roster.applyTools(to: &workspace) }
        try await global.resolveDefaults(&workspace, personas: roster.names, model: roster.model)
        let session = SessionID.make()
        let (accounting, turns) = try await exitingOnFailure {
            let accounting = try money.accounting(workspace: workspace, json: json)
            let options = AskOptions(prompt: prompt, personas: roster.names, model: roster.model, json: json,
                                     maxTokens: roster.maxTokens, temperature: temperature, schema: schema)
            return (accounting, try AskPlanner.plan(options, workspace: workspace, session: session, catalog: accounting.catalog))
        }
        for warning in RetiredModels.warnings(turns.map { ($0.persona.id, $0.model) }, catalog: accounting.catalog) {
            Output.error(warning)
        }
        let interruption = Interruption()
        interruption.install()
        let engine = EngineSetup.make(workspace: workspace, accounting: accounting)
        let code = await AskRunner(engine: engine, output: Output.write, notices: Output.notice)
            .run(turns, json: json, session: session, interruption: interruption)
        await engine.toolBox?.shutdown()
        if code != 0 { throw ExitCode(code) }
    }
}
