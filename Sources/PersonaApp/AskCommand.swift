import Foundation
import PersonaKit
import TerminalUI

/// Exit codes (DESIGN.md §6).
public enum ExitCode {
    public static let success: Int32 = 0
    public static let turnFailed: Int32 = 1
    public static let usageOrConfig: Int32 = 2
    public static let budget: Int32 = 3
}

/// What `persona ask` was asked.
public struct AskOptions: Sendable {
    public var prompt: String
    public var personas: [String]
    public var model: String?
    public var json: Bool
    public var maxTokens: Int?
    public var temperature: Double?
    /// `--schema`: a schema file for every persona's answer.
    public var schema: String?

    public init(prompt: String, personas: [String] = [], model: String? = nil, json: Bool = false,
                maxTokens: Int? = nil, temperature: Double? = nil, schema: String? = nil) {
        self.prompt = prompt
        self.personas = personas
        self.model = model
        self.json = json
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.schema = schema
    }
}

/// Turns `ask` options and a workspace into planned turns, or explains why it cannot.
public enum AskPlanner {
    /// One turn per persona, through the planner every command shares.
    public static func plan(_ options: AskOptions, workspace: Workspace, session: String, catalog: PriceCatalog?) throws -> [PlannedTurn] {
        let planner = try TurnPlanner(workspace: workspace, model: options.model, schemaFile: options.schema)
        return try planner.questions(options.prompt, to: planner.participants(named: options.personas), session: session,
                                     maxTokens: options.maxTokens, temperature: options.temperature, catalog: catalog)
    }
}

/// Runs `persona ask`: every planned turn at once, printed as JSON lines or labelled text.
public struct AskRunner {
    public var engine: ConversationEngine
    public var output: @Sendable (String) -> Void
    /// Where waits, retries and failovers are told: stderr.
    public var notices: @Sendable (String) -> Void

    public init(engine: ConversationEngine = ConversationEngine(), output: @escaping @Sendable (String) -> Void,
                notices: @escaping @Sendable (String) -> Void) {
        self.engine = engine
        self.output = output
        self.notices = notices
    }

    /// Streams the turns and returns the exit code (`RunOutcome.exitCode`). The summary's figures
    /// are the ledger's for the session.
    /// A signal stops the streams (`interruption`); the stopped turns are printed and recorded,
    /// and the run then exits with 128 plus the signal's number.
    public func run(_ turns: [PlannedTurn], json: Bool, session: String, interruption: Interruption? = nil) async -> Int32 {
        var outcome = RunOutcome()
        // A structured answer is printed whole, as its fields, rather than as JSON streaming in.
        var plain = PlainPrinter(liveStreaming: turns.count == 1 && turns[0].request.responseFormat == nil)
        let (events, continuation) = AsyncStream.makeStream(of: TurnEvent.self)
        let work = engine.startParallel(turns, emit: { continuation.yield($0) }, finished: { continuation.finish() })
        interruption?.onSignal { work.cancel() }
        for await event in events {
            outcome.note(event)
            if json {
                if let line = jsonLine(for: event) { output(line + "\n") }
            } else {
                let printed = plain.render(event)
                if !printed.text.isEmpty { output(printed.text) }
                if !printed.notice.isEmpty { notices(printed.notice) }
            }
        }
        let totals = try? engine.accounting?.ledger?.totals(session: session)
        if json {
            output(EventJSON.summary(session: session, totals: totals).serialized + "\n")
        } else if turns.count > 1 {
            output("total: " + PlainPrinter.totalsText(totals) + "\n")
        }
        return interruption?.exitCode ?? outcome.exitCode
    }

    func jsonLine(for event: TurnEvent) -> String? {
        EventJSON.event(event)?.serialized
    }
}

/// How a run of turns ended, for its exit code.
public struct RunOutcome: Sendable {
    var failed = false
    var budget = false
    var ledger = false

    public init() {}

    public mutating func note(_ event: TurnEvent) {
        guard case .failed(let error, _) = event.kind else { return }
        failed = true
        budget = budget || error.kind == .budget
        ledger = ledger || error.kind == .ledger
    }

    /// 1 when the ledger could not record a request; else 3 when the budget stopped a turn;
    /// else 1 when a turn failed; 0 when all went well.
    public var exitCode: Int32 {
        if ledger { return ExitCode.turnFailed }
        return budget ? ExitCode.budget : failed ? ExitCode.turnFailed : ExitCode.success
    }
}

/// Session ids: sortable by time, unique enough for one machine.
public enum SessionID {
    public static func make(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return formatter.string(from: now) + "-" + suffix
    }
}
