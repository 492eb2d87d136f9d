import Foundation
import MockProvider
import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

/// Blind mode and votes on the chat screen, headless, against the loopback mock: the panes come
/// shuffled under labels with no name, model or cost until the vote; the vote is stored with the
/// ledger's answer keys; bad votes store nothing; a council's verdicts become council votes.
final class VotingScreenTests: XCTestCase {
    var server: MockServer!
    var home: URL!
    let models = ["ada": "mock+tokens=6+verdict=sorted", "bea": "mock+tokens=7+verdict=sorted", "cy": "mock+tokens=8+verdict=sorted"]

    override func setUpWithError() throws {
        server = try MockServer()
        home = FileManager.default.temporaryDirectory.appendingPathComponent("voting-\(UUID().uuidString)")
        let personas = home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        for (id, model) in models {
            try "---\nname: The \(id.capitalized)\nmodel: openai:\(model)\n---\nYou are \(id).\n"
                .write(to: personas.appendingPathComponent("\(id).md"), atomically: true, encoding: .utf8)
        }
    }

    override func tearDown() {
        server.stop()
        try? FileManager.default.removeItem(at: home)
    }

    func driver(_ database: PersonaDatabase) throws -> ChatSessionTests.Driver {
        let environment = ["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": server.baseURL + "/v1"]
        let workspace = Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil, environment: environment),
                                       environment: environment, bundledPersonas: nil)
        let planner = TurnPlanner(workspace: workspace)
        let participants = try planner.participants(named: ["ada", "bea", "cy"])
        var catalog = try PriceCatalog.bundled()
        for model in models.values {
            catalog.add(ModelPrice(key: ModelRef(provider: "openai", model: model), prices: TokenPrices(input: 1_000_000, output: 2_000_000)))
        }
        let accounting = Accounting(catalog: catalog, ledger: Ledger(database: database))
        let sink = ChatSessionTests.RecordingSink()
        let chat = ChatSession(engine: ConversationEngine(accounting: accounting), planner: planner, personas: participants.map(\.persona),
                               store: SessionStore(database: database), sink: sink)
        var state = ChatSetup.state(for: participants, session: "v1", accounting: accounting, workspace: workspace, width: 140, height: 30)
        state.notice = nil
        return ChatSessionTests.Driver(state: state, session: chat, sink: sink)
    }

    /// Anything on the screen that would tell who answered: a name, a model, or a pane's cost
    /// (below the header, which shows the session's).
    func giveaways(_ frame: [String]) -> [String] {
        let text = frame.joined(separator: "\n")
        return ["The Ada", "The Bea", "The Cy", "tokens=6", "tokens=7", "tokens=8"].filter { text.contains($0) }
            + frame.dropFirst().filter { $0.contains("$") }
    }

    func testBlindAnswersHideWhoAnsweredUntilTheVoteWhichIsStored() async throws {
        let database = try PersonaDatabase(path: home.appendingPathComponent("persona.db").path)
        let chat = try driver(database)
        chat.type("/vote B")
        XCTAssertTrue(chat.state.notice?.hasPrefix("Nothing to vote on") ?? false, chat.state.notice ?? "")
        chat.type("/blind")
        XCTAssertTrue(chat.state.blind)
        XCTAssertEqual(giveaways(chat.frame()), [], "from the moment blind mode begins")
        XCTAssertTrue(chat.frame()[1].contains("Answer A"), chat.frame()[1])

        var orders: [[String]] = []
        for prompt in ["Tea or coffee?", "Cats or dogs?", "Sea or mountains?"] {
            chat.type(prompt)
            XCTAssertEqual(chat.state.panes.map { $0.ballotLabel }, ["A", "B", "C"])
            orders.append(chat.state.panes.map(\.personaID))
            chat.type("/vote A")
            XCTAssertTrue(chat.state.notice?.hasPrefix("Still answering") ?? false, chat.state.notice ?? "")
            await chat.waitForTheConversation()
            let frame = chat.frame()
            XCTAssertEqual(giveaways(frame), [], frame.joined(separator: "\n"))
            XCTAssertTrue(frame[1].contains("Answer A") && frame[1].contains("Answer B") && frame[1].contains("Answer C"), frame[1])
            // The header's session total still shows.
            XCTAssertTrue(frame[0].contains("session $"), frame[0])
            XCTAssertNil(chat.state.overlay)
            chat.dispatch(.key(.function(7)))
            XCTAssertNil(chat.state.overlay, "the transcript would name them")

            chat.type("/vote D")
            XCTAssertTrue(chat.state.notice?.contains("'D' is no answer here") ?? false, chat.state.notice ?? "")
            chat.type("/vote B>A>B")
            XCTAssertTrue(chat.state.notice?.contains("B is named twice") ?? false, chat.state.notice ?? "")
            XCTAssertTrue(chat.state.panes.allSatisfy(\.hidden))
            XCTAssertEqual(try VoteStore(database: database).votes().count, orders.count - 1, "a bad vote stores nothing")

            chat.dispatch(.key(.alt("2")))
            XCTAssertTrue(chat.state.notice?.hasPrefix("Voted B.") ?? false, chat.state.notice ?? "")
            let revealed = chat.frame()
            XCTAssertTrue(revealed[1].contains("B · \(chat.state.panes[1].name)"), revealed[1])
            XCTAssertTrue(revealed.contains { $0.contains("$0.0") }, "costs show again")
        }
        XCTAssertNotEqual(orders[0], orders[1])
        XCTAssertNotEqual(orders[1], orders[2])

        let votes = try VoteStore(database: database).votes()
        XCTAssertEqual(votes.count, 3)
        let last = try XCTUnwrap(votes.last)
        XCTAssertTrue(last.blind)
        XCTAssertEqual(last.order, [["B"]])
        XCTAssertEqual(last.candidates.map(\.persona), orders[2])
        XCTAssertEqual(last.candidates.map(\.label), ["A", "B", "C"])
        XCTAssertEqual(last.promptHash, SHA256.hex(Array("Sea or mountains?".utf8)))
        // Each candidate's answer key finds its ledger rows, whose cost is the pane's.
        let costs = try VoteStore(database: database).ledgerCosts()
        for candidate in last.candidates {
            XCTAssertEqual(costs[try XCTUnwrap(candidate.answer)], candidate.costPicos)
        }

        chat.type("/vote A")
        XCTAssertTrue(chat.state.notice?.hasPrefix("You voted on these answers already") ?? false)
        chat.type("/unvote")
        XCTAssertTrue(chat.state.notice?.hasPrefix("Withdrew your vote B") ?? false, chat.state.notice ?? "")
        XCTAssertEqual(try VoteStore(database: database).votes().count, 2)
        chat.type("/vote C>A")
        XCTAssertEqual(try VoteStore(database: database).votes().last?.order, [["C"], ["A"]])
        XCTAssertEqual(try VoteStore(database: database).votes().last?.blind, false, "the names were showing")

        chat.type("/blind")
        XCTAssertFalse(chat.state.blind)
        chat.type("Left or right?")
        await chat.waitForTheConversation()
        XCTAssertFalse(chat.state.panes.contains(where: \.hidden))
        chat.type("/vote the bea")
        XCTAssertTrue(chat.state.notice?.contains("(not blind)") ?? false, chat.state.notice ?? "")
        let sighted = try XCTUnwrap(try VoteStore(database: database).votes().last)
        XCTAssertFalse(sighted.blind)
        XCTAssertEqual(sighted.order, [[try XCTUnwrap(sighted.candidates.first { $0.persona == "bea" }?.label)]])
    }

    func testACouncilsVerdictsAreStoredAsCouncilVotes() async throws {
        let database = try PersonaDatabase(path: home.appendingPathComponent("persona.db").path)
        let chat = try driver(database)
        chat.type("/mode council")
        chat.type("Tea or coffee?")
        await chat.waitForTheConversation()
        let store = VoteStore(database: database)
        XCTAssertEqual(try store.votes(VoteStore.Filter()).count, 0, "not under the default source")
        let council = try store.votes(VoteStore.Filter(source: .council))
        XCTAssertEqual(council.count, 3, "one verdict per reviewer")
        for vote in council {
            XCTAssertEqual(vote.candidates.count, 2, "a reviewer does not rank its own answer")
            XCTAssertFalse(vote.candidates.contains { $0.persona == vote.reviewer })
            XCTAssertEqual(vote.order.count, 2)
            XCTAssertNotNil(vote.candidates.first?.answer)
        }
        let board = try store.leaderboard(VoteStore.Filter(source: .council), options: .init(grouping: .persona))
        XCTAssertEqual(Set(board.rows.map(\.name)), ["ada", "bea", "cy"])
        XCTAssertEqual(board.pairs, 3)
    }
}
