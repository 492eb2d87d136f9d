import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct BatchSubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Plan a job, show what it may cost, and send it.")

    @Option(help: "One prompt for every persona.")
    var prompt: String?

    @Option(help: ArgumentHelp("A prompts file: one prompt a line, or JSONL of {\"id\": …, \"prompt\": …}.", valueName: "file"))
    var prompts: String?

    @OptionGroup var roster: RosterOptions

    @Option(help: "parallel (each persona answers each prompt) or rounds (a debate, one batch per round).")
    var mode: ConversationMode = .parallel

    @Option(help: "How many rounds a debate job runs (with --mode rounds).")
    var rounds = 1

    @Option(help: "Cap this job's spending, in USD.")
    var budget: String?

    @Option(help: "A name to find the job by.")
    var name: String?

    @Option(help: "How many requests run at once where a provider has no batch API (1 to 1000).")
    var concurrency = 8

    @Flag(help: "Send without asking.")
    var yes = false

    @Flag(help: "Print a JSON `job` event instead of text.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (prompt == nil) != (prompts == nil) else { throw ValidationError("give either --prompt TEXT or --prompts FILE") }
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 1000") }
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 20") }
        guard mode == .parallel || mode == .rounds else { throw ValidationError("--mode must be parallel or rounds") }
        if let prompts { try requireReadableFile(prompts, "--prompts") }
    }

    func run() async throws {
        ProcessRole.set("batch")
        var workspace = global.workspace()
        try await global.resolveDefaults(&workspace, personas: roster.names, model: roster.model)
        let jobBudget = try budget.map { text -> Int64 in
            guard let dollars = Money.parse(text), case .success(let picos) = Money.cap(dollars: dollars) else {
                throw failure("--budget: '\(text)' is not an amount in USD, such as 5.00", .usageOrConfig)
            }
            return picos
        }
        let (accounting, plan, promptCount, personaCount) = try await exitingOnFailure {
            // Results are priced by whichever process reads them, so a job takes its prices from the
            // catalog and config alone, never from a one-off --prices file.
            let accounting = try AccountingSetup.make(workspace: workspace, budget: nil, pricesFile: nil, warn: { Output.error($0) })
            let list: [BatchPrompt]
            if let prompts {
                list = try BatchPrompts.parse(try String(contentsOfFile: prompts, encoding: .utf8), file: prompts)
            } else {
                list = [BatchPrompt(id: "1", text: prompt ?? "", line: 1)]
            }
            let planner = try TurnPlanner(workspace: workspace, model: roster.model)
            let participants = try planner.participants(named: roster.names)
            let options = BatchOptions(name: name, mode: mode, rounds: mode == .parallel ? 1 : rounds, maxTokens: roster.maxTokens,
                                       concurrency: concurrency, budgetPicos: jobBudget, model: roster.model)
            let plan = try BatchPlanner(planner: planner, catalog: accounting.catalog).plan(list, participants: participants, options: options)
            return (accounting, plan, list.count, participants.count)
        }
        let planText = BatchReport.plan(plan, prompts: promptCount, personas: personaCount)
        if json { Output.notice(planText) } else { Output.write(planText) }
        if !yes, isatty(STDIN_FILENO) == 1 {
            Output.notice("Send this job? [y/N] ")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                throw failure("nothing was sent", .success)
            }
        }
        var caps = accounting.budget.caps
        caps.session = jobBudget
        let store = try await exitingOnFailure { try BatchSetup.store(workspace: workspace) }
        do {
            _ = try store.create(plan.job, parts: plan.parts, requests: plan.requests, sessions: plan.sessions, claim: plan.claim, caps: caps)
        } catch let refusal as BudgetRefusal {
            throw failure(BatchSetup.refusalText(refusal, jobBudget: jobBudget != nil), .budget)
        } catch {
            throw failure("\(error); nothing was sent", .turnFailed)
        }
        let runner = try await exitingOnFailure {
            try BatchSetup.runner(workspace: workspace, accounting: accounting, model: plan.job.model, notice: Output.notice)
        }
        let stuck = try await exitingOnFailure { try await runner.advance(plan.job.id, interval: 5, runLive: false) }
        if json {
            Output.write(BatchReport.jobEvent(plan))
        } else {
            Output.write("job \(plan.job.id) submitted: \(plan.requests.count) requests in \(plan.parts.count) parts; "
                + "follow it with `persona batch wait \(plan.job.id)`\n")
        }
        for part in stuck { Output.error(part.description) }
        if !stuck.isEmpty { throw ExitCode.turnFailed }
    }
}
