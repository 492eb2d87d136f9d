import ArgumentParser
import PersonaApp
import PersonaKit

struct Debate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let personas debate a topic, headless: in rounds, round-robin or moderated, with an optional judge; or answer it as a council.")

    @Argument(help: "The topic or question. `@name` picks who answers it first.")
    var topic: String

    @OptionGroup var roster: RosterOptions
    @OptionGroup var conversation: ConversationOptions

    @Option(help: "The persona who picks the next speaker in moderated mode.")
    var moderator: String?

    @Option(help: ArgumentHelp("A JSON Schema file every persona answers in, in place of its own schema.", valueName: "file"))
    var schema: String?

    @Option(help: ArgumentHelp("Read consensus from this field of the structured answers, not from answer_pattern.",
                               valueName: "name"))
    var consensusField: String?

    @Option(help: "In council mode, the persona who writes the final answer (default: chairman: in the config, else the first).")
    var chairman: String?

    @Option(help: ArgumentHelp("In council mode, 2 has each reviewer judge twice, the second time in reversed order.",
                               valueName: "1|2"))
    var reviewOrders: Int?

    @Option(help: ArgumentHelp("In council mode, whether a reviewer sees its own answer.", valueName: "recuse|include"))
    var selfReview: String?

    @Option(help: "In council mode, the seed of the labels and orders (a session records it), to replay a council.")
    var seed: UInt64?

    @Flag(help: "Print JSON-lines events instead of text.")
    var json = false

    func validate() throws {
        if let reviewOrders, !(1...2).contains(reviewOrders) { throw ValidationError("--review-orders must be 1 or 2") }
        if let selfReview, CouncilBallot.SelfReview(rawValue: selfReview) == nil {
            throw ValidationError("--self-review must be recuse or include")
        }
    }

    @OptionGroup var money: MoneyOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        ProcessRole.set("debate")
        var workspace = global.workspace()
        try await exitingOnFailure { try roster.applyTools(to: &workspace) }
        let supporting = [conversation.judge, moderator, chairman].compactMap { $0 }
        try await global.resolveDefaults(&workspace, personas: roster.names + supporting, model: roster.model)
        let session = SessionID.make()
        let (plan, accounting, database) = try await exitingOnFailure {
            let options = DebateOptions(topic: topic, personas: roster.names, mode: conversation.mode ?? .rounds,
                                        rounds: conversation.rounds, judge: conversation.judge, moderator: moderator,
                                        model: roster.model, maxTokens: roster.maxTokens, schema: schema,
                                        consensusField: consensusField,
                                        council: CouncilOverrides(chairman: chairman, reviewOrders: reviewOrders,
                                                                  selfReview: selfReview.flatMap(CouncilBallot.SelfReview.init), seed: seed))
            let plan = try DebatePlanner.plan(options, workspace: workspace, session: session)
            return (plan, try money.accounting(workspace: workspace, json: json), try PersonaDatabase(path: workspace.paths.database))
        }
        let speakers = plan.participants + [plan.judge, plan.moderator, plan.council?.chairman].compactMap { $0 }
        for warning in RetiredModels.warnings(speakers.map { ($0.persona.id, $0.model) }, catalog: accounting.catalog) {
            Output.error(warning)
        }
        let runner = DebateRunner(engine: EngineSetup.make(workspace: workspace, accounting: accounting),
                                  store: SessionStore(database: database))
        let interruption = Interruption()
        interruption.install()
        let code = await DebatePrinter(json: json, output: Output.write, notices: Output.notice).run(runner, plan, message: topic, interruption: interruption)
        await runner.engine.toolBox?.shutdown()
        if code != 0 { throw ExitCode(code) }
    }
}
