import XCTest

@testable import PersonaKit

/// Who answers with which model, decided once for every command.
final class TurnPlannerTests: XCTestCase {
    var home: URL!

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("planner-\(UUID().uuidString)")
        let personas = home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        let files = [
            "own": "model: anthropic:claude-haiku-4-5\n", "plain": "", "judge": "", "verdict": "model: gemini:gemini-2.5-flash\n",
            "moderator": "", "big": "max_tokens: 900\ntemperature: 0.2\n",
        ]
        for (id, frontMatter) in files {
            try "---\nname: \(id.capitalized)\n\(frontMatter)---\nYou are \(id).\n"
                .write(to: personas.appendingPathComponent("\(id).md"), atomically: true, encoding: .utf8)
        }
    }

    override func tearDown() { try? FileManager.default.removeItem(at: home) }

    func workspace(config: String = "default_model: openai:gpt-4o-mini\n", without personas: [String] = []) throws -> Workspace {
        for id in personas { try FileManager.default.removeItem(at: home.appendingPathComponent("personas/\(id).md")) }
        try config.write(to: home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let environment = ["OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "GEMINI_API_KEY": "k"]
        return Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil, environment: environment),
                              environment: environment, bundledPersonas: nil)
    }

    func planner(model: String? = nil, config: String = "default_model: openai:gpt-4o-mini\n") throws -> TurnPlanner {
        try TurnPlanner(workspace: workspace(config: config), model: model)
    }

    func models(_ participants: [Participant]) -> [String] { participants.map(\.model.description) }

    func testAPersonaIsFoundByEveryHandleAMentionAccepts() {
        let personas = [Persona(id: "skeptic", name: "The Skeptic", systemPrompt: "s"), Persona(id: "sk", name: "Other", systemPrompt: "s")]
        for handle in ["skeptic", "The Skeptic", "TheSkeptic", "the-skeptic", "the_skeptic", " SKEPTIC "] {
            XCTAssertEqual(Workspace.find(handle, in: personas)?.id, "skeptic", handle)
        }
        XCTAssertEqual(Workspace.find("sk", in: personas)?.id, "sk", "an id first")
        XCTAssertNil(Workspace.find("The", in: personas))
    }

    func testEachPersonaKeepsItsOwnModelElseTheDefault() throws {
        XCTAssertEqual(models(try planner().participants(named: ["own", "plain"])), ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini"])
    }

    func testModelOverridesEveryParticipant() throws {
        XCTAssertEqual(models(try planner(model: "gemini:gemini-2.5-pro").participants(named: ["own", "plain"])),
                       ["gemini:gemini-2.5-pro", "gemini:gemini-2.5-pro"])
    }

    func testAPanesModelOverridesModel() throws {
        let planner = try planner(model: "gemini:gemini-2.5-pro")
        let personas = [try planner.find("own"), try planner.find("plain")]
        XCTAssertEqual(models(try planner.participants(personas, models: ["plain": ModelRef(provider: "anthropic", model: "claude-x")])),
                       ["gemini:gemini-2.5-pro", "anthropic:claude-x"])
    }

    func testOnlyModelMakesOneAdHocAssistant() throws {
        let participants = try planner(model: "openai:gpt-4o").participants(named: [])
        XCTAssertEqual(participants.map(\.persona.id), ["assistant"])
        XCTAssertThrowsError(try planner(config: "").participants(named: [])) { error in
            XCTAssertTrue("\(error)".contains("no personas chosen"), "\(error)")
        }
        XCTAssertThrowsError(try TurnPlanner(workspace: workspace(), model: "gpt-4o")) { error in
            XCTAssertTrue("\(error)".hasPrefix("--model:"), "\(error)")
        }
    }

    func testTheJudgeKeepsItsOwnModelElseFollowsModelElseTheDefaultElseTheFirstParticipant() throws {
        XCTAssertEqual(try planner(model: "gemini:gemini-2.5-pro").supporting("verdict", firstModel: nil).model.description,
                       "gemini:gemini-2.5-flash", "its own model wins over --model")
        XCTAssertEqual(try planner(model: "gemini:gemini-2.5-pro").supporting("judge", firstModel: nil).model.description,
                       "gemini:gemini-2.5-pro")
        XCTAssertEqual(try planner().supporting("judge", firstModel: nil).model.description, "openai:gpt-4o-mini")
        let first = ModelRef(provider: "anthropic", model: "claude-haiku-4-5")
        XCTAssertEqual(try planner(config: "").supporting("judge", firstModel: first).model, first)
        XCTAssertThrowsError(try planner(config: "").supporting("judge", firstModel: nil)) { error in
            XCTAssertTrue("\(error)".contains("has no model"), "\(error)")
        }
    }

    func testTheModeratorFollowsTheSameRuleAndIsRequiredInModeratedMode() throws {
        let planner = try planner(config: "")
        let participants = try planner.participants([try planner.find("own")])
        let plan = try planner.conversation(id: "s", topic: "t", mode: .moderated, rounds: 2, participants: participants)
        XCTAssertEqual(plan.moderator?.persona.id, "moderator")
        XCTAssertEqual(plan.moderator?.model.description, "anthropic:claude-haiku-4-5", "no --model, no default: the first participant's")
        let named = try planner.conversation(id: "s", topic: "t", mode: .moderated, rounds: 2, participants: participants,
                                             moderator: "verdict")
        XCTAssertEqual(named.moderator?.model.description, "gemini:gemini-2.5-flash")
        XCTAssertNil(try planner.conversation(id: "s", topic: "t", mode: .rounds, rounds: 2, participants: participants).moderator)

        let without = try TurnPlanner(workspace: workspace(without: ["moderator"]))
        XCTAssertThrowsError(try without.conversation(id: "s", topic: "t", mode: .moderated, rounds: 1,
                                                      participants: try without.participants(named: ["own"]))) { error in
            XCTAssertTrue("\(error)".contains("moderated mode needs a moderator persona"), "\(error)")
        }
    }

    func testAConversationIsCheckedAndNamesItsRosterAndJudge() throws {
        let planner = try planner()
        let participants = try planner.participants(named: ["own", "plain"])
        let judge = try planner.supporting("judge", firstModel: participants.first?.model)
        let plan = try planner.conversation(id: "s1", topic: "Why?", mode: .rounds, rounds: 3, participants: participants, judge: judge)
        XCTAssertEqual(plan.rounds, 3)
        XCTAssertEqual(plan.session.roster.map(\.persona), ["own", "plain"])
        XCTAssertEqual(plan.session.judge, "judge")
        XCTAssertEqual(try planner.conversation(id: "s", topic: "t", mode: .parallel, rounds: nil, participants: participants).rounds, 1)
        XCTAssertThrowsError(try planner.conversation(id: "s", topic: " ", mode: .rounds, rounds: 1, participants: participants))
        XCTAssertThrowsError(try planner.conversation(id: "s", topic: "t", mode: .rounds, rounds: 0, participants: participants))
    }

    func testAResumedSessionKeepsItsModelsUnlessModelIsGiven() throws {
        let saved = SessionInfo(id: "s", mode: .rounds, topic: "t", roster: [
            .init(persona: "own", name: "Own", model: ModelRef(provider: "openai", model: "gpt-4o")),
            .init(persona: "plain", name: "Plain", model: ModelRef(provider: "gemini", model: "gemini-2.5-flash")),
        ])
        XCTAssertEqual(models(try planner().participants(resuming: saved)), ["openai:gpt-4o", "gemini:gemini-2.5-flash"])
        XCTAssertEqual(models(try planner(model: "anthropic:claude-x").participants(resuming: saved)),
                       ["anthropic:claude-x", "anthropic:claude-x"])
    }

    func testQuestionsCarryTheOverridesAndCacheOnlyTheSystemPrompt() throws {
        let planner = try planner()
        let participants = try planner.participants(named: ["big", "plain"])
        let turns = try planner.questions("Hello?", to: participants, session: "s", maxTokens: nil, temperature: 0.9, catalog: nil)
        XCTAssertEqual(turns.map(\.request.maxTokens), [900, nil], "the persona's own max_tokens")
        XCTAssertEqual(turns.map(\.request.temperature), [0.9, 0.9], "--temperature over the persona's")
        XCTAssertEqual(turns.first?.request.promptCache?.throughLastMessage, false)
        XCTAssertEqual(turns.first?.request.messages, [ChatMessage(role: .user, content: "Hello?")])
        XCTAssertThrowsError(try planner.questions("  ", to: participants, session: "s", catalog: nil))
    }

    func testATurnLeavesOutOldTurnsToFitTheModelsWindow() throws {
        let planner = try planner()
        let speaker = try planner.participants(named: ["plain"])[0]
        let catalog = PriceCatalog([ModelPrice(key: speaker.model, contextWindow: 600, maxOutput: 100, prices: TokenPrices(input: 1, output: 1))])
        let long = String(repeating: "many words here ", count: 40)
        let messages = (0..<8).map { ChatMessage(role: $0 % 2 == 0 ? .user : .assistant, content: "\($0) \(long)") }
        let turn = TurnPlanner.turn(speaker, messages: messages, session: "s", round: 4, role: .judge, maxTokens: 100,
                                    promptCache: .auto, cacheThroughLastMessage: true, catalog: catalog)
        XCTAssertGreaterThan(turn.droppedTurns, 0)
        XCTAssertTrue(turn.request.messages.first?.text.hasPrefix(messages[0].text) ?? false, "the opening message stays")
        XCTAssertTrue(turn.request.messages.last?.text.hasSuffix(messages[7].text) ?? false, "the latest stays")
        XCTAssertEqual(turn.role, .judge)
        XCTAssertEqual(turn.round, 4)
        XCTAssertEqual(turn.request.promptCache?.throughLastMessage, true)
    }
}
