import Foundation
import MockProvider
import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

/// The chat session without a terminal: keys go through the reducer, effects through the session,
/// and the engine's requests reach a loopback mock that records them. Frames are drawn headless.
final class ChatSessionTests: XCTestCase {
    /// Keeps what the session posts from the engine's tasks, for the test to deliver in order.
    final class RecordingSink: AppEventSink, @unchecked Sendable {
        private let lock = NSLock()
        private var events: [AppEvent] = []
        func post(_ event: AppEvent) { lock.withLock { events.append(event) } }
        func post(_ events: [AppEvent]) { lock.withLock { self.events += events } }
        func take() -> [AppEvent] {
            lock.withLock {
                defer { events.removeAll() }
                return events
            }
        }
    }

    /// The reducer, the session and a headless screen, wired as the run loop wires them.
    final class Driver {
        var state: AppState
        let session: ChatSession
        let sink: RecordingSink
        let screen = HeadlessScreen(width: 140, height: 30)
        let renderer = ChatRenderer()
        private var time = 0.0

        init(state: AppState, session: ChatSession, sink: RecordingSink) {
            self.state = state
            self.session = session
            self.sink = sink
        }

        func dispatch(_ event: AppEvent) {
            session.note(event)
            time += 0.01
            for effect in ChatReducer.reduce(&state, event, at: time) {
                for next in session.perform(effect, state: state) { dispatch(next) }
            }
        }

        func type(_ line: String) {
            dispatch(.key(.paste(line)))
            dispatch(.key(.enter))
        }

        /// Delivers what the engine posted until the conversation ends (at most 10 s).
        func waitForTheConversation() async {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                for event in sink.take() { dispatch(event) }
                if !state.conversing { return }
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
            XCTFail("the conversation did not end")
        }

        /// What the screen shows now.
        func frame() -> [String] {
            var buffer = CellBuffer(width: 0, height: 0)
            let cursor = renderer.render(state, into: &buffer)
            screen.present(buffer, cursor: cursor)
            return screen.frame.lines
        }
    }

    var server: MockServer!
    var home: URL!

    override func setUpWithError() throws {
        // Each persona answers with its id and how many requests it has had.
        let counts = Counts()
        server = try MockServer { request in
            let body = (try? JSON.parse(request.body)) ?? .null
            let system = body["system"]?.string ?? body["system"]?[0]?["text"]?.string ?? body["messages"]?[0]?["content"]?.string ?? ""
            let id = system.replacingOccurrences(of: "You are ", with: "").replacingOccurrences(of: ".", with: "")
            if request.model.hasPrefix("refused") { return MockBehavior(status: 401, errorMessage: "bad key") }
            return MockBehavior(text: "\(id)-\(counts.next(id))", chunkSize: 50)
        }
        home = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID().uuidString)")
        let personas = home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        for id in ["skeptic", "optimist", "judge"] {
            try "---\nname: \(id.capitalized)\n---\nYou are \(id).\n".write(to: personas.appendingPathComponent("\(id).md"), atomically: true,
                                                                            encoding: .utf8)
        }
        try "---\nname: Fragile\nmodel: openai:refused-model\nfallback: [anthropic:claude-haiku-4-5]\n---\nYou are fragile.\n"
            .write(to: personas.appendingPathComponent("fragile.md"), atomically: true, encoding: .utf8)
        try "default_model: openai:gpt-4o-mini\n".write(to: home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        server.stop()
        try? FileManager.default.removeItem(at: home)
    }

    final class Counts: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [String: Int] = [:]
        func next(_ id: String) -> Int {
            lock.withLock {
                counts[id, default: 0] += 1
                return counts[id]!
            }
        }
    }

    var environment: [String: String] {
        ["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.baseURL + "/v1", "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": server.baseURL]
    }

    func workspace() -> Workspace {
        Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil, environment: environment), environment: environment,
                       bundledPersonas: nil)
    }

    func driver(_ ids: [String], transcript: [TranscriptMessage] = [], session: String = "s1", store: SessionStore? = nil) throws -> Driver {
        let workspace = workspace()
        let planner = TurnPlanner(workspace: workspace)
        let participants = try planner.participants(named: ids)
        let accounting = Accounting(catalog: try PriceCatalog.bundled())
        let sink = RecordingSink()
        let chat = ChatSession(engine: ConversationEngine(accounting: accounting), planner: planner,
                               personas: participants.map(\.persona), store: store, transcript: transcript, sink: sink)
        var state = ChatSetup.state(for: participants, session: session, accounting: accounting, workspace: workspace, width: 140,
                                    height: 30, resumed: transcript)
        state.notice = nil
        return Driver(state: state, session: chat, sink: sink)
    }

    /// The persona each request was for, from its system prompt, in the order they came.
    func askedPersonas() -> [String] {
        server.requests.map { request in
            let body = (try? JSON.parse(request.body)) ?? .null
            let system = body["system"]?.string ?? body["system"]?[0]?["text"]?.string ?? body["messages"]?[0]?["content"]?.string ?? ""
            return system.replacingOccurrences(of: "You are ", with: "").replacingOccurrences(of: ".", with: "")
        }
    }

    func testAddBringsAPersonaIntoTheNextMessage() async throws {
        let chat = try driver(["skeptic"])
        chat.type("/add optimist")
        XCTAssertEqual(chat.state.panes.map(\.personaID), ["skeptic", "optimist"])
        XCTAssertEqual(chat.state.panes[1].model.description, "openai:gpt-4o-mini", "the planner's model for it")
        chat.type("Hello?")
        await chat.waitForTheConversation()
        XCTAssertEqual(Set(askedPersonas()), ["skeptic", "optimist"])
        XCTAssertTrue(chat.frame().contains { $0.contains("optimist-1") })
        chat.type("/add nobody")
        XCTAssertTrue(chat.state.notice?.hasPrefix("/add: no persona named 'nobody'") ?? false, "\(String(describing: chat.state.notice))")
    }

    func testDropLeavesAPersonaOutOfTheNextMessage() async throws {
        let chat = try driver(["skeptic", "optimist"])
        chat.type("/drop optimist")
        XCTAssertEqual(chat.state.panes.map(\.personaID), ["skeptic"])
        chat.type("Hello?")
        await chat.waitForTheConversation()
        XCTAssertEqual(askedPersonas(), ["skeptic"])
    }

    func testModelMovesAPersonaToAnotherProvider() async throws {
        let chat = try driver(["skeptic"])
        chat.type("/model skeptic anthropic:claude-haiku-4-5")
        XCTAssertEqual(chat.state.panes[0].model.description, "anthropic:claude-haiku-4-5")
        XCTAssertEqual(chat.state.panes[0].providerType, .anthropic)
        XCTAssertNotNil(chat.state.panes[0].price)
        chat.type("Hello?")
        await chat.waitForTheConversation()
        XCTAssertEqual(server.requests.map(\.path), ["/v1/messages"], "Anthropic's route")
        XCTAssertTrue(chat.frame().contains { $0.contains("claude-haiku-4-5") })
        chat.type("/model skeptic nosuch:model")
        XCTAssertTrue(chat.state.notice?.hasPrefix("/model:") ?? false)
    }

    func testModeAndRoundsMakeTheNextMessageADebate() async throws {
        let chat = try driver(["skeptic", "optimist"])
        chat.type("/mode rounds")
        chat.type("/rounds 2")
        chat.type("/judge judge")
        chat.type("Debate it.")
        await chat.waitForTheConversation()
        XCTAssertEqual(askedPersonas().filter { $0 == "skeptic" }.count, 2, "two rounds")
        XCTAssertEqual(askedPersonas().filter { $0 == "optimist" }.count, 2)
        XCTAssertEqual(askedPersonas().last, "judge", "the judge reads the debate at the end")
        XCTAssertEqual(chat.state.panes.first { $0.personaID == "judge" }?.entries.last?.text, "judge-1")
        XCTAssertEqual(chat.session.transcript.filter { $0.role == .persona }.count, 4)
    }

    func testAResumedSessionSendsItsHistoryWithTheNextMessage() async throws {
        let earlier = [
            TranscriptMessage.user("First question?", round: 1),
            TranscriptMessage(round: 1, speaker: "skeptic", name: "Skeptic", role: .persona, text: "An earlier answer."),
        ]
        let chat = try driver(["skeptic"], transcript: earlier)
        XCTAssertTrue(chat.frame().contains { $0.contains("An earlier answer.") }, "the pane is refilled")
        chat.type("And now?")
        await chat.waitForTheConversation()
        let body = try JSON.parse(try XCTUnwrap(server.requests.first).body)
        let contents = (body["messages"]?.array ?? []).dropFirst().map { $0["content"]?.string ?? "" }
        XCTAssertEqual(contents, ["First question?", "An earlier answer.", "And now?"])
        XCTAssertEqual(chat.state.round, 2, "the next message opens round 2")
    }

    func testResumeBringsBackTheLastRosterModelsModeRoundsAndJudge() async throws {
        let store = SessionStore(database: try PersonaDatabase(path: workspace().paths.database))
        let chat = try driver(["skeptic", "optimist"], session: "20261204-101500-abcd", store: store)
        chat.type("Hello?")
        await chat.waitForTheConversation()
        chat.type("/drop optimist")
        chat.type("/model skeptic anthropic:claude-haiku-4-5")
        chat.type("/mode rounds")
        chat.type("/rounds 2")
        chat.type("/judge judge")
        XCTAssertEqual(chat.session.recordSetup(chat.state), "20261204-101500", "what quitting prints to resume with")

        let launch = try ChatLaunch(ChatLaunch.Options(resume: "last"), workspace: workspace(), warn: { _ in })
        XCTAssertEqual(launch.roster.map(\.persona.id), ["skeptic"])
        XCTAssertEqual(launch.roster.first?.model.description, "anthropic:claude-haiku-4-5")
        XCTAssertEqual(launch.judge?.persona.id, "judge")
        let state = launch.runLoop(screen: HeadlessScreen(width: 120, height: 30)).currentState
        XCTAssertEqual(state.mode, .rounds)
        XCTAssertEqual(state.debateRounds, 2)
        XCTAssertEqual(state.panes.map(\.personaID), ["skeptic", "judge"])
    }

    func testADroppedPersonaNeverSeesWhatWasSentWhileItWasAway() async throws {
        let chat = try driver(["skeptic", "optimist"])
        chat.type("First, to both.")
        await chat.waitForTheConversation()
        chat.type("/drop optimist")
        chat.type("Only the skeptic hears this.")
        await chat.waitForTheConversation()
        chat.type("/add optimist")
        XCTAssertEqual(chat.state.panes.first { $0.personaID == "optimist" }?.entries.count, 0, "it comes back to an empty pane")
        chat.type("Both again.")
        await chat.waitForTheConversation()
        let optimist = try XCTUnwrap(server.requests.last { request in
            (try? JSON.parse(request.body))?["messages"]?[0]?["content"]?.string == "You are optimist."
        })
        let contents = ((try JSON.parse(optimist.body))["messages"]?.array ?? []).dropFirst().map { $0["content"]?.string ?? "" }
        XCTAssertEqual(contents, ["First, to both.", "optimist-1", "Both again."])

        // A resumed session shows it the same way.
        let resumed = try driver(["skeptic", "optimist"], transcript: chat.session.transcript)
        let optimistPane = try XCTUnwrap(resumed.state.panes.first { $0.personaID == "optimist" })
        XCTAssertEqual(optimistPane.entries.map(\.text), ["First, to both.", "optimist-1", "Both again.", "optimist-2"])
        XCTAssertEqual(resumed.state.panes[0].entries.filter { $0.role == .user }.count, 3)
    }

    func testSoloGoesOnWithOnePersonaAndAllBringsTheOthersBackUnaware() async throws {
        let chat = try driver(["skeptic", "optimist"])
        chat.type("/solo optimist")
        XCTAssertEqual(chat.state.soloID, "optimist")
        XCTAssertTrue(chat.frame().contains { $0.contains("Optimist  openai:") })
        XCTAssertFalse(chat.frame().contains { $0.contains("Skeptic  openai:") }, "only its pane shows")
        chat.type("Just between us?")
        await chat.waitForTheConversation()
        XCTAssertEqual(askedPersonas(), ["optimist"])
        chat.type("/all")
        XCTAssertNil(chat.state.soloID)
        chat.type("Everyone?")
        await chat.waitForTheConversation()
        let skeptic = try XCTUnwrap(server.requests.last { (try? JSON.parse($0.body))?["messages"]?[0]?["content"]?.string == "You are skeptic." })
        let contents = ((try JSON.parse(skeptic.body))["messages"]?.array ?? []).dropFirst().map { $0["content"]?.string ?? "" }
        XCTAssertEqual(contents, ["Everyone?"], "the skeptic never heard the solo part")
        XCTAssertEqual(chat.state.panes[0].entries.map(\.text), ["Everyone?", "skeptic-1"])
    }

    func testExportWritesTheSessionAndTheTranscriptShowsItInTimeOrder() async throws {
        let store = SessionStore(database: try PersonaDatabase(path: workspace().paths.database))
        let chat = try driver(["skeptic", "optimist"], session: "20261204-101500-abcd", store: store)
        chat.type("/export")
        XCTAssertEqual(chat.state.notice, "/export: nothing is saved of this session yet; send a message first.")
        chat.type("Hello?")
        await chat.waitForTheConversation()
        let file = home.appendingPathComponent("out/chat.md").path
        try FileManager.default.createDirectory(atPath: home.appendingPathComponent("out").path, withIntermediateDirectories: true)
        chat.type("/export md \(file)")
        XCTAssertEqual(chat.state.notice, "Exported 3 messages to \(file).")
        let markdown = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(markdown.hasPrefix("---\nsession: \"20261204-101500-abcd\""), markdown)
        XCTAssertTrue(markdown.contains("skeptic-1") && markdown.contains("optimist-1"))
        chat.type("/export json \(home.path)/out/chat.json")
        XCTAssertNotNil(try JSON.parse(try String(contentsOfFile: home.path + "/out/chat.json", encoding: .utf8))["messages"])

        chat.dispatch(.key(.function(7)))
        guard case .transcript(let lines)? = chat.state.overlay else { return XCTFail("F7 shows the transcript") }
        let headings = lines.filter { $0.hasPrefix("── ") }
        XCTAssertEqual(headings.first, "── You · round 1 ──")
        XCTAssertEqual(headings.count, 3)
        XCTAssertTrue(headings.dropFirst().allSatisfy { $0.contains("· round 1 · $") }, "\(headings)")
        chat.dispatch(.key(.character("/")))
        for character in "optimist-1" { chat.dispatch(.key(.character(character))) }
        chat.dispatch(.key(.enter))
        XCTAssertEqual(chat.state.overlaySearch?.matched, true)
        XCTAssertTrue(lines[chat.state.overlayTop].contains("optimist-1"))
        XCTAssertTrue(chat.frame().contains { $0.contains("/optimist-1 (n: next)") })
        chat.dispatch(.key(.character("q")))
        XCTAssertNil(chat.state.overlay)
    }

    func testCopyHandsTheFocusedPanesLastAnswerToTheClipboard() async throws {
        let chat = try driver(["skeptic", "optimist"])
        chat.dispatch(.key(.control("y")))
        XCTAssertEqual(chat.state.notice, "Nothing to copy yet: the focused pane has no answer.")
        chat.type("Hello?")
        await chat.waitForTheConversation()
        chat.dispatch(.key(.tab))
        XCTAssertEqual(ChatReducer.reduce(&chat.state, .key(.control("y")), at: 9), [.copy("optimist-1")])
        XCTAssertEqual(chat.state.notice, "Copied Optimist's last answer (10 characters) to the clipboard.")
        XCTAssertEqual(ChatReducer.reduce(&chat.state, .key(.paste("/mouse off")), at: 9), [])
        XCTAssertEqual(ChatReducer.reduce(&chat.state, .key(.enter), at: 9), [.setMouseReports(false)])
        XCTAssertFalse(chat.state.mouseReports)
    }

    func testALongNoticeWrapsAndNoticesListsThemInFull() throws {
        let chat = try driver(["skeptic"])
        let long = "The provider said something very long about why it refused, " + String(repeating: "and then some more, ", count: 20)
        chat.dispatch(.notice(long))
        let frame = chat.frame()
        XCTAssertTrue(frame[frame.count - 2].hasPrefix("The provider said something very long"), "\(frame.suffix(3))")
        XCTAssertTrue(frame[frame.count - 1].hasSuffix("… /notices"), "\(frame.suffix(3))")
        chat.type("/notices")
        guard case .report(let lines)? = chat.state.overlay else { return XCTFail("/notices shows an overlay") }
        XCTAssertEqual(lines.first, "Notices, newest first")
        XCTAssertTrue(lines.contains(long))
    }

    func testAFailoverIsRelayedWithTheNewModelsFacts() async throws {
        let chat = try driver(["fragile"])
        chat.type("Hello?")
        await chat.waitForTheConversation()
        let pane = chat.state.panes[0]
        XCTAssertEqual(pane.usingModel?.description, "anthropic:claude-haiku-4-5")
        XCTAssertEqual(pane.providerType, .anthropic, "the failover event's provider type")
        XCTAssertNotNil(pane.price, "and its price, so the pane can count the cost")
        XCTAssertEqual(pane.entries.last?.text, "fragile-1")
        XCTAssertTrue(chat.frame().contains { $0.contains("claude-haiku-4-5") })
    }

    /// `/batch` sends the prompt to every pane as a batch job at batch prices, the session follows
    /// it and says when its answers are in, and `/jobs` lists it.
    func testBatchSendsThePromptAsAJobAndJobsListsIt() async throws {
        let workspace = workspace()
        let planner = TurnPlanner(workspace: workspace)
        let participants = try planner.participants(named: ["skeptic", "optimist"])
        let ledger = try Ledger(path: workspace.paths.database)
        let accounting = Accounting(catalog: try PriceCatalog.bundled(), ledger: ledger)
        let sink = RecordingSink()
        let chat = ChatSession(engine: ConversationEngine(accounting: accounting), planner: planner, personas: participants.map(\.persona),
                               store: nil, sink: sink)
        var state = ChatSetup.state(for: participants, session: "s1", accounting: accounting, workspace: workspace, width: 140, height: 30,
                                    resumed: [])
        state.notice = nil
        let driver = Driver(state: state, session: chat, sink: sink)
        driver.type("/batch")
        XCTAssertTrue(driver.state.notice?.hasPrefix("Usage: /batch PROMPT") ?? false, "nothing to send yet")
        driver.type("/batch Which is better, tea or coffee?")
        let notice = try XCTUnwrap(driver.state.notice)
        XCTAssertTrue(notice.hasPrefix("Batch job job-") && notice.contains("2 requests"), notice)
        let job = String(notice.dropFirst("Batch job ".count).prefix(10))
        // The session sends the batch in the background; the mock's clock moves once it has it.
        var deadline = Date().addingTimeInterval(10)
        while server.batches.batchCount == 0, Date() < deadline { try await Task.sleep(nanoseconds: 10_000_000) }
        server.batches.advance(by: 10)
        deadline = Date().addingTimeInterval(20)
        while !(driver.state.notice?.contains("is done") ?? false), Date() < deadline {
            for event in sink.take() { driver.dispatch(event) }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertEqual(driver.state.notice?.hasPrefix("Batch job \(job) is done: 2 answers, 0 failed"), true, "\(String(describing: driver.state.notice))")
        XCTAssertEqual(server.batches.submittedCustomIDs.sorted(), ["r1-1-1", "r1-1-2"])
        driver.type("/jobs")
        let frame = driver.frame()
        XCTAssertTrue(frame.contains { $0.contains(job) && $0.contains("ended") }, frame.joined(separator: "\n"))
    }
}
