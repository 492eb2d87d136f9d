import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaApp

/// What each persona received in each mode, read from the request bodies the mock recorded.
final class DebateTests: XCTestCase {
    var server: MockServer!
    var database: PersonaDatabase!
    var directory: URL!
    let replies = Replies()

    /// Answers `<id>-<n>` for a persona's n-th request, or what a test scripted for it.
    final class Replies: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [String: Int] = [:]
        var scripted: [String: [String]] = [:]

        func reply(to request: MockRequest) -> MockBehavior {
            let body = (try? JSON.parse(request.body)) ?? .null
            let system = (body["messages"]?[0]?["content"]?.string ?? "").split(separator: "\n").first.map(String.init) ?? ""
            let id = system.replacingOccurrences(of: "You are ", with: "").replacingOccurrences(of: ".", with: "")
            return lock.withLock {
                counts[id, default: 0] += 1
                if var queue = scripted[id], !queue.isEmpty {
                    let text = queue.removeFirst()
                    scripted[id] = queue
                    return MockBehavior(text: text, chunkSize: 50)
                }
                return MockBehavior(text: "\(id)-\(counts[id]!)", chunkSize: 50)
            }
        }
    }

    override func setUpWithError() throws {
        let replies = self.replies
        server = try MockServer { replies.reply(to: $0) }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("debate-\(UUID().uuidString)")
        database = try PersonaDatabase(path: directory.appendingPathComponent("persona.db").path)
    }

    override func tearDown() {
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func participant(_ id: String, pattern: String? = nil, instructions: String = "") -> Participant {
        let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "k",
                                        apiKeyEnv: "OPENAI_API_KEY", keyRequired: true)
        let persona = Persona(id: id, name: id.capitalized, card: "The \(id).", answerPattern: pattern,
                              systemPrompt: "You are \(id)." + instructions)
        return Participant(persona: persona, endpoint: endpoint, model: ModelRef(provider: "openai", model: "gpt-4o-mini"))
    }

    @discardableResult
    func debate(_ mode: ConversationMode, rounds: Int, topic: String = "Topic?", participants ids: [String] = ["ann", "bob", "cy"],
                judge: String? = nil, moderator: String? = nil, patterns: [String: String] = [:], instructions: String = "",
                catalog: PriceCatalog? = nil) async -> [DebateEvent] {
        let participants = ids.map { participant($0, pattern: patterns[$0], instructions: instructions) }
        let info = SessionInfo(id: "s-\(UUID().uuidString)", mode: mode, topic: topic,
                               roster: participants.map { .init(persona: $0.persona.id, name: $0.persona.name, model: $0.model) })
        let plan = DebatePlan(session: info, participants: participants, mode: mode, rounds: rounds,
                              judge: judge.map { participant($0) }, moderator: moderator.map { participant($0) })
        let accounting = Accounting(catalog: catalog ?? (try! PriceCatalog.bundled()), ledger: Ledger(database: database))
        let runner = DebateRunner(engine: ConversationEngine(accounting: accounting), store: SessionStore(database: database))
        var events: [DebateEvent] = []
        for await event in runner.run(plan, message: topic) { events.append(event) }
        return events
    }

    /// The chat messages of every request `id` made, in order.
    func prompts(of id: String) -> [[(role: String, content: String)]] {
        server.requests.compactMap { request in
            guard let body = try? JSON.parse(request.body), body["messages"]?[0]?["content"]?.string == "You are \(id)." else { return nil }
            return (body["messages"]?.array ?? []).dropFirst().map { ($0["role"]?.string ?? "", $0["content"]?.string ?? "") }
        }
    }

    /// A transcript that cannot be written stops the debate before anything more is sent, and
    /// says why, as a ledger failure does.
    func testATranscriptThatCannotBeWrittenStopsTheDebate() async throws {
        let dropper = Process()
        dropper.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        dropper.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('DROP TABLE messages'); c.commit()",
                             directory.appendingPathComponent("persona.db").path]
        try dropper.run()
        dropper.waitUntilExit()
        XCTAssertEqual(dropper.terminationStatus, 0)
        let events = await debate(.rounds, rounds: 2)
        guard case .finished(.transcript(let problem))? = events.last else { return XCTFail("\(String(describing: events.last))") }
        XCTAssertTrue(problem.hasPrefix("the transcript could not be saved"), problem)
        XCTAssertEqual(server.requests.count, 0, "nothing is sent that the transcript could not keep")
    }

    func testParallelIsolation() async {
        await debate(.parallel, rounds: 2)
        let second = prompts(of: "ann")[1]
        XCTAssertEqual(second.map(\.role), ["user", "assistant"], "the topic and its own answer only")
        XCTAssertEqual(second[1].content, "ann-1")
        XCTAssertFalse(second.contains { $0.content.contains("bob") || $0.content.contains("cy-") })
    }

    func testRoundsGiveEachPersonaTheOthersPreviousAnswers() async {
        let events = await debate(.rounds, rounds: 2)
        let second = prompts(of: "ann")[1]
        XCTAssertEqual(second.map(\.role), ["user", "assistant", "user"])
        XCTAssertEqual(second[0].content, "Topic?")
        XCTAssertEqual(second[1].content, "ann-1", "its own answer is the assistant's")
        XCTAssertTrue(second[2].content.contains("[Bob]: bob-1") && second[2].content.contains("[Cy]: cy-1"), second[2].content)
        XCTAssertFalse(second[2].content.contains("ann-1"), "never its own answer as user text")
        // Every round-1 done comes before any round-2 request.
        let order = events.compactMap { event -> String? in
            if case .turn(let turn) = event, case .done = turn.kind { return "done\(turn.turn.round)" }
            if case .turn(let turn) = event, case .started = turn.kind { return "request\(turn.turn.round)" }
            return nil
        }
        XCTAssertLessThan(order.lastIndex(of: "done1")!, order.firstIndex(of: "request2")!)
    }

    func testRoundRobinAlternatesAndRotates() async {
        await debate(.roundRobin, rounds: 2)
        let speakers = server.requests.compactMap { (try? JSON.parse($0.body))?["messages"]?[0]?["content"]?.string }
        XCTAssertEqual(speakers, ["You are ann.", "You are bob.", "You are cy.", "You are bob.", "You are cy.", "You are ann."])
        let bobFirst = prompts(of: "bob")[0]
        XCTAssertEqual(bobFirst.map(\.role), ["user"], "the topic and ann's words merge into one user turn")
        XCTAssertEqual(bobFirst[0].content, "Topic?\n\n[Ann]: ann-1")
        let annSecond = prompts(of: "ann")[1]
        XCTAssertEqual(annSecond.map(\.role), ["user", "assistant", "user"])
        XCTAssertEqual(annSecond[2].content, "[Bob]: bob-1\n\n[Cy]: cy-1\n\n[Bob]: bob-2\n\n[Cy]: cy-2")
        for prompt in prompts(of: "ann") + prompts(of: "bob") + prompts(of: "cy") {
            XCTAssertEqual(prompt.first?.role, "user")
            XCTAssertTrue(zip(prompt, prompt.dropFirst()).allSatisfy { $0.role != $1.role }, "strictly alternating")
        }
    }

    func testModeratorPicksTheSpeakerAndIsReaskedWhenItNamesNobody() async {
        replies.scripted["moderator"] = ["Cy should answer this.", "Hmm.", "Let me think.", "Bob", "nobody", "none", "no idea"]
        let events = await debate(.moderated, rounds: 1, moderator: "moderator")
        let picks = events.compactMap { event -> (String, Int, Bool)? in
            if case .moderatorChose(_, let persona, let attempts, let fallback) = event { return (persona, attempts, fallback) }
            return nil
        }
        XCTAssertEqual(picks.map(\.0), ["cy", "bob", "ann"])
        XCTAssertEqual(picks.map(\.1), [1, 3, 3])
        XCTAssertEqual(picks.map(\.2), [false, false, true], "after two re-asks the next in order speaks")
        let firstAsk = prompts(of: "moderator")[0][0].content
        XCTAssertTrue(firstAsk.contains("- Ann (ann): The ann."), "the moderator sees each card")
        XCTAssertTrue(firstAsk.contains("[You]: Topic?"), "and the transcript")
        let reask = prompts(of: "moderator")[2]
        XCTAssertEqual(reask.map(\.role), ["user", "assistant", "user"])
        XCTAssertTrue(reask[2].content.contains("Answer with exactly one of: Ann, Bob, Cy"))
    }

    func testAtNamePicksTheSpeakerInAnyMode() async {
        await debate(.rounds, rounds: 2, topic: "@bob what do you say?")
        XCTAssertEqual(prompts(of: "ann").count, 1, "round 1 is bob's alone")
        XCTAssertEqual(prompts(of: "bob").count, 2)
        server.clearLog()
        await debate(.roundRobin, rounds: 1, topic: "@cy first, please")
        XCTAssertEqual(server.requests.first.flatMap { (try? JSON.parse($0.body))?["messages"]?[0]?["content"]?.string }, "You are cy.")
    }

    func testConsensusStopsTheDebate() async {
        let boxed = #"\\boxed\{(.+?)\}"#
        for id in ["ann", "bob"] { replies.scripted[id] = ["I think \\boxed{42}.", "still \\boxed{42}"] }
        replies.scripted["cy"] = ["Clearly \\boxed{ 42 }."]
        let events = await debate(.rounds, rounds: 3, patterns: ["ann": boxed, "bob": boxed, "cy": boxed])
        XCTAssertTrue(events.contains(.consensus(round: 1, answer: "42")))
        XCTAssertEqual(events.last, .finished(.consensus("42")))
        XCTAssertEqual(server.requests.count, 3, "no second round")

        server.clearLog()
        replies.scripted = ["ann": ["\\boxed{1}"], "bob": ["\\boxed{2}"], "cy": ["\\boxed{1}"]]
        let disagreeing = await debate(.rounds, rounds: 2, patterns: ["ann": boxed, "bob": boxed, "cy": boxed])
        XCTAssertEqual(disagreeing.last, .finished(.roundsDone))
        XCTAssertEqual(server.requests.count, 6)
    }

    func testEchoedPlaceholdersEmptyAnswersAndTheLastRoundMakeNoConsensus() async {
        let boxed = #"\\boxed\{(.*?)\}"#
        let form = "\nEnd with your answer as \\boxed{answer}."
        replies.scripted = ["ann": ["So: \\boxed{answer}"], "bob": ["So: \\boxed{Answer}"], "cy": ["So: \\boxed{ answer }"]]
        let echoed = await debate(.rounds, rounds: 2, patterns: ["ann": boxed, "bob": boxed, "cy": boxed], instructions: form)
        XCTAssertEqual(echoed.last, .finished(.roundsDone), "the prompt's own placeholder is no answer")
        XCTAssertEqual(server.requests.count, 6)

        server.clearLog()
        replies.scripted = ["ann": ["\\boxed{}"], "bob": ["\\boxed{}"], "cy": ["\\boxed{}"]]
        let empty = await debate(.rounds, rounds: 2, patterns: ["ann": boxed, "bob": boxed, "cy": boxed])
        XCTAssertEqual(empty.last, .finished(.roundsDone), "nor is an empty one")

        server.clearLog()
        replies.scripted = ["ann": ["\\boxed{7}"], "bob": ["\\boxed{7}"], "cy": ["\\boxed{7}"]]
        let last = await debate(.rounds, rounds: 1, patterns: ["ann": boxed, "bob": boxed, "cy": boxed])
        XCTAssertEqual(last.last, .finished(.roundsDone), "agreement in the last round stops nothing early")
        XCTAssertFalse(last.contains(.consensus(round: 1, answer: "7")))
    }

    func testTheJudgeSeesTheWholeTranscript() async {
        let events = await debate(.rounds, rounds: 2, judge: "judge")
        let verdict = prompts(of: "judge")
        XCTAssertEqual(verdict.count, 1)
        XCTAssertEqual(verdict[0].map(\.role), ["user"])
        for answer in ["ann-1", "bob-1", "cy-1", "ann-2", "bob-2", "cy-2", "Topic?"] {
            XCTAssertTrue(verdict[0][0].content.contains(answer), answer)
        }
        XCTAssertTrue(verdict[0][0].content.contains("[Bob, round 2]: bob-2"))
        XCTAssertTrue(events.contains {
            if case .turn(let turn) = $0, case .done = turn.kind, turn.turn.role == .judge { return turn.turn.personaID == "judge" } else { return false }
        })
    }

    func testTrimmingKeepsTheSystemPromptAndDropsTheOldestTurnsFirst() async throws {
        var catalog = try PriceCatalog.bundled()
        var tiny = PriceSettings()
        tiny.input = 1
        tiny.output = 1
        tiny.contextWindow = 60
        tiny.maxOutput = 8
        catalog.apply(["openai:gpt-4o-mini": tiny])
        for id in ["ann", "bob"] {
            replies.scripted[id] = (1...6).map { "\(id) says \(String(repeating: "blah ", count: 8))\($0)" }
        }
        let events = await debate(.roundRobin, rounds: 4, participants: ["ann", "bob"], catalog: catalog)
        let last = prompts(of: "ann").last!
        XCTAssertEqual(last.first?.content.hasPrefix("Topic?"), true, "the opening message stays")
        XCTAssertTrue(last.last!.content.contains("bob says") && last.last!.content.hasSuffix("4"), "the latest turn stays")
        XCTAssertFalse(last.contains { $0.content.contains("ann says blah blah blah blah blah blah blah blah 1") },
                       "the oldest middle turns went first")
        let lastBody = try JSON.parse(server.requests.last!.body)
        XCTAssertEqual(lastBody["messages"]?[0]?["role"]?.string, "system", "the system prompt stays pinned")
        let dropped = events.compactMap { event -> Int? in
            if case .turn(let turn) = event, case .started = turn.kind, turn.turn.droppedTurns > 0 { return turn.turn.droppedTurns }
            return nil
        }
        XCTAssertFalse(dropped.isEmpty, "request events say how many turns were dropped")
        let turn = TurnID(personaID: "a", personaName: "A", round: 3, droppedTurns: 2, model: ModelRef(provider: "p", model: "m"))
        XCTAssertEqual(DebatePrinter.turnJSON(TurnEvent(turn, .started))?["dropped_turns"]?.int, 2)
    }

    func testTheExportOfAThreeRoundDebateReimportsAsTheSameMessages() async throws {
        await debate(.rounds, rounds: 3, judge: "judge")
        let store = SessionStore(database: database)
        let saved = try XCTUnwrap(try store.list().first)
        let (info, messages) = try XCTUnwrap(try store.load(saved.info.id))
        XCTAssertEqual(messages.filter { $0.role == .persona }.count, 9)
        let totals = try Ledger(database: database).totals(session: info.id)
        let exported = SessionsReport.exportJSON(info, messages, totals: totals)
        let (reimported, reimportedMessages) = try SessionsReport.importJSON(exported)
        XCTAssertEqual(reimportedMessages, messages)
        XCTAssertEqual(reimported.roster, info.roster)
        XCTAssertEqual(reimported.topic, info.topic)

        let other = try PersonaDatabase(path: directory.appendingPathComponent("other.db").path)
        try SessionStore(database: other).insert(reimported, messages: reimportedMessages)
        XCTAssertEqual(try SessionStore(database: other).load(info.id)?.messages, messages)

        let markdown = SessionsReport.exportMarkdown(info, messages, totals: totals)
        XCTAssertTrue(markdown.hasPrefix("---\nsession: "))
        XCTAssertTrue(markdown.contains("roster:\n  - persona: \"ann\"\n    name: \"Ann\"\n    model: \"openai:gpt-4o-mini\""))
        XCTAssertTrue(markdown.contains("    output_tokens: "))
        XCTAssertTrue(markdown.contains("## Round 3"))
        XCTAssertTrue(markdown.contains("**Verdict — Judge**:"))
    }
}

/// A debate killed with SIGKILL keeps every turn that had finished.
final class DebateCrashTests: XCTestCase {
    func testKillNineMidDebateKeepsTheFinishedTurns() throws {
        let server = try MockServer { request in
            // Every other request streams slowly, so the kill lands while turns are in flight.
            MockBehavior(tokens: 20, delayPerToken: request.bodyText.contains("[") ? 0.2 : 0.005)
        }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["debate", "Crash me", "--personas", "skeptic,optimist,pragmatist", "--model", "openai:gpt-4o-mini",
                             "--mode", "round-robin", "--rounds", "3", "--json", "--home", cli.home.path]
        process.environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k", "HOME": cli.home.path,
                               "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // Wait for two finished turns, then kill while the third streams.
        var seen = ""
        let deadline = Date().addingTimeInterval(20)
        while seen.components(separatedBy: "\"event\":\"done\"").count < 3, Date() < deadline {
            seen += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        let finished = seen.components(separatedBy: "\"event\":\"done\"").count - 1
        XCTAssertGreaterThanOrEqual(finished, 2)

        let list = try cli.run(["sessions", "list"])
        let id = try XCTUnwrap(list.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))
        let shown = try cli.run(["sessions", "show", id])
        XCTAssertEqual(shown.status, 0)
        XCTAssertTrue(shown.stdout.contains("Crash me"))
        let answers = shown.stdout.components(separatedBy: "(openai:gpt-4o-mini):").count - 1
        XCTAssertGreaterThanOrEqual(answers, finished, "every finished turn was saved\n" + shown.stdout)
        XCTAssertFalse(shown.stdout.contains("[failed]"))
    }
}

/// `persona debate --json` end to end: every event carries its round, and done events follow the mode.
final class DebateCLITests: XCTestCase {
    func testEveryJSONEventCarriesItsRoundAndDonesFollowTheMode() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 4) }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        let environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k"]
        let result = try cli.run(["debate", "Four-day weeks?", "--personas", "skeptic,optimist,pragmatist", "--mode", "round-robin",
                                  "--rounds", "2", "--judge", "judge", "--model", "openai:gpt-4o-mini", "--json"], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let events = result.events
        XCTAssertTrue(events.allSatisfy { $0["round"]?.int != nil }, "every event carries round")
        let dones = events.filter { $0["event"]?.string == "done" }.map { "\($0["round"]!.int!):\($0["persona"]!.string!)" }
        XCTAssertEqual(dones, ["1:skeptic", "1:optimist", "1:pragmatist", "2:optimist", "2:pragmatist", "2:skeptic", "2:judge"])
        XCTAssertEqual(events.last(where: { $0["event"]?.string == "done" })?["role"]?.string, "judge")
        XCTAssertEqual(events.first { $0["event"]?.string == "end" }?["reason"]?.string, "rounds")
        let summary = try XCTUnwrap(events.last)
        XCTAssertEqual(summary["event"]?.string, "summary")
        XCTAssertEqual(summary["requests"]?.int, 7)

        let list = try cli.run(["sessions", "list"]).stdout
        XCTAssertTrue(list.contains("round-robin"), list)
        let markdown = try cli.run(["sessions", "export", String(summary["session"]!.string!.prefix(15)), "--format", "markdown"])
        XCTAssertEqual(markdown.status, 0, markdown.stderr)
        XCTAssertTrue(markdown.stdout.contains("mode: round-robin"))
        let json = try cli.run(["sessions", "export", summary["session"]!.string!, "--format", "json"])
        let file = cli.home.appendingPathComponent("export.json")
        try json.stdout.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try cli.run(["sessions", "import", file.path]).status, 2, "already saved")
    }
}
