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

/// A problem that stops a command before anything is sent; it exits with code 2.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What `persona ask` was asked.
public struct AskOptions: Sendable {
    public var prompt: String
    public var personas: [String]
    public var model: String?
    public var json: Bool
    public var maxTokens: Int?
    public var temperature: Double?

    public init(prompt: String, personas: [String] = [], model: String? = nil, json: Bool = false,
                maxTokens: Int? = nil, temperature: Double? = nil) {
        self.prompt = prompt
        self.personas = personas
        self.model = model
        self.json = json
        self.maxTokens = maxTokens
        self.temperature = temperature
    }
}

/// Turns `ask` options and a workspace into planned turns, or explains why it cannot.
public enum AskPlanner {
    public static func plan(_ options: AskOptions, workspace: Workspace) throws -> [PlannedTurn] {
        guard !options.prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw UsageError("the prompt is empty")
        }
        return try Roster.select(personas: options.personas, model: options.model, workspace: workspace).map { member in
            let request = ChatRequest(model: member.model.model, system: member.persona.systemPrompt,
                                      messages: [ChatMessage(role: .user, content: options.prompt)],
                                      maxTokens: options.maxTokens ?? member.persona.maxTokens,
                                      temperature: options.temperature ?? member.persona.temperature)
            return PlannedTurn(persona: member.persona, endpoint: member.endpoint, request: request, fallbacks: member.fallbacks)
        }
    }
}

/// Runs `persona ask`: every planned turn at once, printed as JSON lines or labelled text.
public struct AskRunner {
    public var engine: ConversationEngine
    public var output: @Sendable (String) -> Void

    public init(engine: ConversationEngine = ConversationEngine(), output: @escaping @Sendable (String) -> Void) {
        self.engine = engine
        self.output = output
    }

    /// Streams the turns and returns the exit code: 0 when all succeeded, 3 when the budget
    /// stopped any, 1 when any other failed.
    public func run(_ turns: [PlannedTurn], json: Bool, session: String = SessionID.make()) async -> Int32 {
        var totals = RunTotals()
        var failed = false
        var stoppedByBudget = false
        var plain = PlainPrinter(liveStreaming: turns.count == 1)
        for await event in engine.runParallel(turns) {
            switch event {
            case .done(_, let report):
                totals.add(report)
            case .failed(_, let error, let report):
                totals.add(report)
                failed = true
                stoppedByBudget = stoppedByBudget || error.kind == .budget
            case .request, .delta, .usage, .queued, .retry, .failover:
                break
            }
            if json {
                if let line = jsonLine(for: event) { output(line + "\n") }
            } else {
                output(plain.render(event))
            }
        }
        if json {
            output(EventJSON.summary(session: session, totals: totals).serialized + "\n")
        } else {
            output(plain.renderTotals(totals, turns: turns.count))
        }
        return stoppedByBudget ? ExitCode.budget : failed ? ExitCode.turnFailed : ExitCode.success
    }

    func jsonLine(for event: EngineEvent) -> String? {
        EventJSON.event(event)?.serialized
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
