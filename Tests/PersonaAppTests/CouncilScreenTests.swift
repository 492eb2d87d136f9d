import Foundation
import MockProvider
import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

/// A council on the chat screen, headless: the header names the stage, each member's pane shows
/// its review under labels, the chairman answers in a full-width pane below, F8 shows the
/// ranking, and a follow-up question runs a new council that sees the chairman's answer.
final class CouncilScreenTests: XCTestCase {
    var server: MockServer!
    var home: URL!

    override func setUpWithError() throws {
        server = try MockServer()
        home = FileManager.default.temporaryDirectory.appendingPathComponent("council-\(UUID().uuidString)")
        let personas = home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        for id in ["ada", "bea", "cy"] {
            try "---\nname: The \(id.capitalized)\nmodel: openai:mock+tokens=6+verdict=sorted\n---\nYou are \(id).\n"
                .write(to: personas.appendingPathComponent("\(id).md"), atomically: true, encoding: .utf8)
        }
    }

    override func tearDown() {
        server.stop()
        try? FileManager.default.removeItem(at: home)
    }

    func driver(store: SessionStore?, ledger: Ledger? = nil) throws -> ChatSessionTests.Driver {
        let environment = ["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.baseURL + "/v1"]
        let workspace = Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil, environment: environment),
                                       environment: environment, bundledPersonas: nil)
        let planner = TurnPlanner(workspace: workspace)
        let participants = try planner.participants(named: ["ada", "bea", "cy"])
        var catalog = try PriceCatalog.bundled()
        catalog.add(ModelPrice(key: ModelRef(provider: "openai", model: "mock+tokens=6+verdict=sorted"), prices: TokenPrices(input: 1_000_000, output: 2_000_000)))
        let accounting = Accounting(catalog: catalog, ledger: ledger)
        let sink = ChatSessionTests.RecordingSink()
        let chat = ChatSession(engine: ConversationEngine(accounting: accounting), planner: planner, personas: participants.map(\.persona),
                               store: store, sink: sink)
        var state = ChatSetup.state(for: participants, session: "c1", accounting: accounting, workspace: workspace, width: 140, height: 30)
        state.notice = nil
        return ChatSessionTests.Driver(state: state, session: chat, sink: sink)
    }

    func testACouncilRunsOnTheScreenWithItsStagesReviewsChairmanAndRanking() async throws {
        let ledger = try Ledger(path: home.appendingPathComponent("persona.db").path)
        let chat = try driver(store: nil, ledger: ledger)
        chat.type("/mode council")
        XCTAssertTrue(chat.state.notice?.hasPrefix("Council:") ?? false)
        chat.type("Tea or coffee?")
        var sawReview = false
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            for event in chat.sink.take() {
                chat.dispatch(event)
                if chat.state.councilStage == "2/3 · review" {
                    sawReview = sawReview || chat.frame()[0].contains("council 2/3 · review")
                }
            }
            if !chat.state.conversing { break }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        XCTAssertTrue(sawReview, "the header named the review stage")
        XCTAssertFalse(chat.state.conversing)
        XCTAssertEqual(chat.state.chairPaneID, "chair:ada", "the first member chairs")
        let chair = try XCTUnwrap(chat.state.panes.last)
        XCTAssertEqual(chair.name, "Chairman · The Ada")
        XCTAssertEqual(chair.entries.filter { $0.role == .assistant }.count, 1)
        // Each member's pane holds its answer, then its review under labels.
        let ada = try XCTUnwrap(chat.state.panes.first { $0.personaID == "ada" })
        XCTAssertEqual(ada.entries.filter { $0.role == .assistant }.count, 2)
        XCTAssertTrue(ada.entries.last?.text.contains("ranking") ?? false, ada.entries.last?.text ?? "")
        XCTAssertFalse(ada.entries.last?.text.contains("The Bea") ?? true, "no names in a review")

        let frame = chat.frame()
        let chairTitle = try XCTUnwrap(frame.firstIndex { $0.contains("Chairman · The Ada") })
        let memberTitle = try XCTUnwrap(frame.firstIndex { $0.contains("The Bea") })
        XCTAssertGreaterThan(chairTitle, memberTitle, "the chairman's pane is below the members'")
        XCTAssertEqual(chat.state.notice?.hasSuffix("F8 shows the ranking."), true)
        // The header's stage costs are differences of the ledger's session totals: they add up to it.
        let starts = chat.state.councilStageStarts
        XCTAssertEqual(starts.count, 3)
        XCTAssertEqual(starts[0], 0)
        XCTAssertTrue(zip(starts, starts.dropFirst()).allSatisfy { $0 < $1 }, "\(starts)")
        XCTAssertEqual(chat.state.sessionSpent?.picos, try ledger.totals(session: "c1").picos)
        XCTAssertGreaterThan(try ledger.totals(session: "c1").picos, starts[2], "the chairman's answer cost something")
        XCTAssertTrue(frame[0].contains("answers $") && frame[0].contains("reviews $") && frame[0].contains("chair $"), frame[0])

        chat.dispatch(.key(.function(8)))
        let table = chat.frame().joined(separator: "\n")
        XCTAssertTrue(table.contains("The last council's ranking") && table.contains("Borda"), table)
        chat.dispatch(.key(.escape))

        // A follow-up council: every member sees the first question and the chairman's answer.
        server.clearLog()
        chat.type("And in the evening?")
        await chat.waitForTheConversation()
        let answers = server.requests.filter { MockCouncil.labels(in: $0).isEmpty && !String(decoding: $0.body, as: UTF8.self).contains("You chair") }
        XCTAssertEqual(answers.count, 3)
        let chairAnswer = chair.entries.last { $0.role == .assistant }?.text ?? "-"
        for request in answers {
            let body = String(decoding: request.body, as: UTF8.self)
            XCTAssertTrue(body.contains("Tea or coffee?") && body.contains(String(chairAnswer.prefix(20))), body)
        }
        XCTAssertEqual(chat.state.panes.filter { $0.personaID.hasPrefix("chair:") }.count, 1)
        XCTAssertEqual(chat.state.panes.last?.entries.filter { $0.role == .assistant }.count, 2, "the chairman's pane keeps both answers")

        chat.type("/mode parallel")
        XCTAssertNil(chat.state.chairPaneID)
        XCTAssertEqual(chat.state.panes.map(\.personaID), ["ada", "bea", "cy"])
    }

    func testAResumedCouncilComesBackWithItsChairmanAndRanking() async throws {
        let database = try PersonaDatabase(path: home.appendingPathComponent("persona.db").path)
        let store = SessionStore(database: database)
        let chat = try driver(store: store)
        chat.type("/mode council")
        chat.type("Tea or coffee?")
        await chat.waitForTheConversation()
        _ = chat.session.recordSetup(chat.state)
        let saved = try XCTUnwrap(try store.load("c1"))
        XCTAssertEqual(saved.info.mode, .council)

        let environment = ["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.baseURL + "/v1"]
        let workspace = Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil, environment: environment),
                                       environment: environment, bundledPersonas: nil)
        let participants = try TurnPlanner(workspace: workspace).participants(named: ["ada", "bea", "cy"])
        let state = ChatSetup.state(for: participants, session: "c1", accounting: Accounting(catalog: try PriceCatalog.bundled()),
                                    workspace: workspace, width: 140, height: 30, mode: saved.info.mode, resumed: saved.messages)
        XCTAssertEqual(state.chairPaneID, "chair:ada")
        XCTAssertEqual(state.panes.last?.entries.count, 1, "the chairman's answer is back in its pane")
        XCTAssertTrue(state.councilTable?.first?.hasPrefix("Place") ?? false)
        XCTAssertEqual(state.panes.first { $0.personaID == "bea" }?.entries.filter { $0.role == .assistant }.count, 2,
                       "its answer and its review")
    }
}
