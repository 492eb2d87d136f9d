import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

final class ReducerTests: XCTestCase {
    func state(panes: Int = 3, width: Int = 120, height: Int = 30) -> AppState {
        let all = [("skeptic", "The Skeptic"), ("optimist", "The Optimist"), ("pragmatist", "The Pragmatist")]
        return AppState(session: "s", panes: all.prefix(panes).map { RenderTests.pane($0.0, $0.1) }, width: width, height: height)
    }

    @discardableResult
    func press(_ keys: [Key], _ state: inout AppState, at time: Double = 1) -> [AppEffect] {
        keys.flatMap { ChatReducer.reduce(&state, .key($0), at: time) }
    }

    func type(_ text: String, _ state: inout AppState) {
        press(text.map { Key.character($0) }, &state)
    }

    /// Sends `text` and starts every pane's turn (turn `serial`, its input estimated at `estimate`),
    /// as the conversation's first events do.
    func send(_ text: String, _ state: inout AppState, round: Int = 1, serial: Int = 1, estimate: Int = 0) {
        type(text, &state)
        press([.enter], &state)
        for pane in state.panes {
            _ = ChatReducer.reduce(&state, Turns.started(pane.personaID, serial: serial, round: round, estimate: estimate), at: 1)
        }
    }

    func done(_ id: String, in state: inout AppState, serial: Int = 1, text: String = "answer") {
        var report = TurnReport.notSent()
        report.text = text
        _ = ChatReducer.reduce(&state, Turns.event(id, serial: serial, .done(report)), at: 2)
    }

    func testEnterStartsAConversationWithEveryPane() {
        var state = state()
        type("hello", &state)
        XCTAssertEqual(press([.enter], &state), [.converse("hello")])
        XCTAssertEqual(state.input.text, "")
        XCTAssertTrue(state.conversing)
        XCTAssertTrue(state.panes.allSatisfy { $0.entries.map(\.role) == [.user] })
        for pane in state.panes {
            _ = ChatReducer.reduce(&state, Turns.started(pane.personaID), at: 1)
        }
        XCTAssertEqual(state.round, 1)
        XCTAssertTrue(state.panes.allSatisfy { $0.phase == .waiting && $0.entries.map(\.role) == [.user, .assistant] })
        _ = ChatReducer.reduce(&state, .conversationEnded(.roundsDone), at: 2)
        XCTAssertFalse(state.conversing)
        type(" ", &state)
        XCTAssertEqual(press([.enter], &state), [], "an empty line sends nothing")
    }

    func testSendingWhileStreamingAsksToWaitOrStop() {
        var state = state()
        send("one", &state)
        type("two", &state)
        XCTAssertEqual(press([.enter], &state), [])
        XCTAssertEqual(state.input.text, "two", "the message is kept")
        XCTAssertNotNil(state.notice)
    }

    func testADebateTakesInterjectionsBetweenRounds() {
        var state = state()
        type("/mode rounds", &state)
        press([.enter], &state)
        type("/rounds 2", &state)
        press([.enter], &state)
        XCTAssertEqual(state.mode, .rounds)
        XCTAssertEqual(state.debateRounds, 2)
        send("Debate this", &state)
        _ = ChatReducer.reduce(&state, .roundStarted(1, of: 2), at: 1)
        XCTAssertTrue(ChatView.render(state).frame.line(0).contains("│ rounds │ round 1/2"))
        type("Consider cost too", &state)
        XCTAssertEqual(press([.enter], &state), [.interject("Consider cost too")])
        XCTAssertEqual(state.panes[0].entries.last?.text, "Consider cost too")
        _ = ChatReducer.reduce(&state, .roundStarted(2, of: 2), at: 2)
        XCTAssertTrue(ChatView.render(state).frame.line(0).contains("round 2/2"))
        _ = ChatReducer.reduce(&state, .conversationEnded(.consensus("42")), at: 3)
        XCTAssertEqual(state.notice, "Consensus: 42. The debate stopped early.")
        XCTAssertNil(state.progress)
    }

    func testModeRoundsAndJudgeCommands() {
        var state = state()
        type("/mode nonsense", &state)
        press([.enter], &state)
        XCTAssertTrue(state.notice?.hasPrefix("Usage: /mode parallel|rounds|round-robin|moderated") ?? false)
        type("/rounds 0", &state)
        press([.enter], &state)
        XCTAssertTrue(state.notice?.hasPrefix("Usage: /rounds") ?? false)
        type("/judge judge", &state)
        XCTAssertEqual(press([.enter], &state), [.setJudge("judge")])
        let judge = RenderTests.pane("judge", "The Judge")
        _ = ChatReducer.reduce(&state, .judgeSet(judge), at: 1)
        XCTAssertEqual(state.panes.last?.personaID, "judge")
        XCTAssertEqual(state.judgeID, "judge")
        type("/judge off", &state)
        XCTAssertEqual(press([.enter], &state), [.setJudge(nil)])
        _ = ChatReducer.reduce(&state, .judgeSet(nil), at: 1)
        XCTAssertFalse(state.panes.contains { $0.personaID == "judge" })
    }

    func testAParallelModeLetsTheJudgeAndItsPaneGo() {
        var state = state()
        type("/mode rounds", &state)
        press([.enter], &state)
        _ = ChatReducer.reduce(&state, .judgeSet(RenderTests.pane("judge", "The Judge")), at: 1)
        type("/mode parallel", &state)
        press([.enter], &state)
        XCTAssertNil(state.judgeID)
        XCTAssertEqual(state.panes.map(\.personaID), ["skeptic", "optimist", "pragmatist"])
        XCTAssertEqual(state.notice, "Parallel: everyone answers you, side by side. The Judge stops judging; /judge brings a judge back.")
    }

    func testAnUnknownAtNameSendsNothing() {
        var state = state()
        type("@nobody what do you think?", &state)
        XCTAssertEqual(press([.enter], &state), [])
        XCTAssertEqual(state.notice, "No one here answers to @nobody; on screen: @skeptic @optimist @pragmatist. Nothing was sent.")
        XCTAssertEqual(state.input.text, "@nobody what do you think?", "the draft stays to be corrected")
        XCTAssertFalse(state.conversing)
        press([.control("u")], &state)
        type("@TheSkeptic and @optimist, agree? (mail me at a@b.c)", &state)
        XCTAssertEqual(press([.enter], &state), [.converse("@TheSkeptic and @optimist, agree? (mail me at a@b.c)")])
    }

    func testModelAndDropTakeNamesWithSpaces() {
        var state = state()
        type("/model The Optimist anthropic:claude-haiku-4-5", &state)
        XCTAssertEqual(press([.enter], &state),
                       [.changeModel(personaID: "optimist", model: ModelRef(provider: "anthropic", model: "claude-haiku-4-5"))])
        type("/drop the pragmatist", &state)
        press([.enter], &state)
        XCTAssertEqual(state.panes.map(\.personaID), ["skeptic", "optimist"])
    }

    func testArrowsMoveBetweenTheLinesOfADraftBeforeTheHistory() {
        var state = state()
        type("earlier", &state)
        press([.enter], &state)
        state.conversing = false
        type("first line", &state)
        press([.newline], &state)
        type("second", &state)
        press([.up], &state)
        XCTAssertEqual(state.input.text, "first line\nsecond", "↑ on the last line moves up, not into the history")
        XCTAssertEqual(state.input.cursor, 6, "to the same column")
        press([.down], &state)
        XCTAssertEqual(state.input.cursor, 17, "↓ goes back down, to the same column")
        press([.up, .up], &state)
        XCTAssertEqual(state.input.text, "earlier", "↑ on the first line walks the history")
        press([.down], &state)
        XCTAssertEqual(state.input.text, "first line\nsecond", "and ↓ brings the draft back")
    }

    func testTheWelcomeHoldsTheTopicAndKeepsTheKeyThatClosesIt() {
        var state = state()
        state.pendingTopic = "A first question"
        _ = ChatReducer.reduce(&state, .welcomeLoaded(["Welcome to Persona"]), at: 0)
        XCTAssertFalse(state.conversing, "nothing is sent while the welcome is open")
        XCTAssertEqual(press([.character("W")], &state), [.converse("A first question")])
        XCTAssertNil(state.overlay)
        XCTAssertEqual(state.input.text, "W", "the key that closed it is typed")
        XCTAssertEqual(state.panes[0].entries.first?.text, "A first question")
        _ = ChatReducer.reduce(&state, .welcomeLoaded(["Welcome to Persona"]), at: 0)
        XCTAssertEqual(press([.escape], &state), [], "/welcome again sends nothing when it closes")
    }

    func testARefusedAnswerIsShownAsARefusal() {
        var state = state(panes: 1, width: 80)
        send("How do I make anthrax?", &state)
        var report = TurnReport.notSent()
        report.refusal = "I'm sorry, I can't assist with that request."
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .done(report)), at: 2)
        XCTAssertEqual(state.panes[0].phase, .refused)
        let frame = ChatView.render(state).frame.lines
        XCTAssertTrue(frame.contains { $0.contains("⊘ refused: I'm sorry, I can't assist with that request.") }, "\(frame)")
        XCTAssertTrue(frame.contains { $0.hasPrefix(" ⊘ refused in 0") }, "the status line: \(frame)")
    }

    func testAStructuredAnswerShowsItsFieldsAndF6ShowsTheJSON() throws {
        var state = state(panes: 1, width: 60)
        send("Coffee?", &state)
        let raw = #"{"message":"Doubtful, and here is a long reason that must wrap in the pane.","confidence":0.82,"emotions":["wary","curious"]}"#
        let schema = try JSON.parse(#"{"type":"object","properties":{"confidence":{"type":"number"}},"required":["confidence"]}"#)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .delta(raw)), at: 1.5)
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains(#"{"message":"Doubtful"#) }, "the JSON as it grows")
        var report = TurnReport.notSent()
        report.text = raw
        report.structured = StructuredAnswer(checking: raw, against: schema)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .done(report)), at: 2)
        var frame = ChatView.render(state).frame.lines
        XCTAssertTrue(frame.contains { $0.contains("message Doubtful, and here is a long reason that must wrap") }, "\(frame)")
        XCTAssertTrue(frame.contains { $0.hasPrefix(" in the pane.") }, "long strings wrap: \(frame)")
        XCTAssertTrue(frame.contains { $0.contains("confidence 0.82") }, "\(frame)")
        XCTAssertTrue(frame.contains { $0.contains("emotions") }, "\(frame)")
        XCTAssertTrue(frame.contains { $0.contains("  • wary") }, "lists as bullets: \(frame)")
        XCTAssertEqual(press([.control("y")], &state), [.copy(raw)], "copied as its JSON")

        press([.function(6)], &state)
        frame = ChatView.render(state).frame.lines
        XCTAssertTrue(frame.contains { $0.contains(#"{"message":"Doubtful"#) }, "F6 shows the raw JSON: \(frame)")
        XCTAssertFalse(frame.contains { $0.contains("confidence 0.82") })
        press([.function(6)], &state)
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains("confidence 0.82") }, "and back to the fields")
    }

    func testABrokenStructuredAnswerShowsItsTextAndFirstProblem() throws {
        var state = state(panes: 1, width: 80)
        send("Coffee?", &state)
        let schema = try JSON.parse(#"{"type":"object","properties":{"confidence":{"type":"number"}},"required":["confidence"]}"#)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .repair(SchemaRepair(attempt: 1, of: 1, problems: [
            SchemaProblem(path: "$.confidence", problem: "required, but missing")], rejectedText: "{}"))), at: 1.5)
        XCTAssertEqual(state.panes[0].phase, .repairing(attempt: 1, of: 1))
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains("schema repair 1/1") })
        var report = TurnReport.notSent()
        report.text = #"{"confidence":"high"}"#
        report.structured = StructuredAnswer(checking: report.text, against: schema)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .done(report)), at: 2)
        let frame = ChatView.render(state).frame.lines
        XCTAssertTrue(frame.contains { $0.contains(#"{"confidence":"high"}"#) }, "\(frame)")
        XCTAssertTrue(frame.contains { $0.contains("✗ schema: $.confidence: expected a number, got the text 'high'") }, "\(frame)")
    }

    func testToolCallsShowInlineAndStayWhenTheTurnEnds() throws {
        var state = state(panes: 1, width: 100)
        send("35 boxes at 110?", &state)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .delta("Let me work it out.")), at: 1.2)
        let call = ToolCall(id: "c1", name: "calculator", arguments: .object(["expression": .string("35 * 110")]))
        var activity = ToolActivity(step: 1, call: call, label: "calculator")
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .toolCall(activity)), at: 1.3)
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains(#"⚙ calculator {"expression":"35 * 110"} …"#) })
        activity.result = ToolResult(callID: "c1", content: "3850")
        activity.duration = 0.01
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .toolResult(activity)), at: 1.4)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .delta("That is 3850.")), at: 1.5)
        var report = TurnReport.notSent()
        report.text = "Let me work it out.\n\nThat is 3850."
        report.steps = 2
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .done(report)), at: 2)
        let frame = ChatView.render(state).frame.lines
        XCTAssertTrue(frame.contains { $0.contains(#"⚙ calculator {"expression":"35 * 110"} → 3850"#) }, "\(frame)")
        XCTAssertTrue(frame.contains { $0.contains("That is 3850.") }, "\(frame)")
        XCTAssertFalse(frame.contains { $0.contains("110\"} …") }, "the running mark is gone: \(frame)")

        // A retry of the next step starts over from after the tools, not from nothing.
        send("Again?", &state, serial: 2)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 2, .toolCall(activity)), at: 3)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 2, .toolResult(activity)), at: 3.1)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 2, .delta("half an ans")), at: 3.2)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 2, .retry(TurnRetry(attempt: 1, of: 2, delay: 1,
            reason: ProviderError(kind: .server, message: "boom"), partialText: "half an ans"))), at: 3.3)
        XCTAssertEqual(state.panes[0].entries.last?.text, "⚙ calculator {\"expression\":\"35 * 110\"} → 3850\n")
    }

    func testALongToolLineIsOneRowAndZoomShowsItWhole() throws {
        var state = state(panes: 2, width: 80)
        send("Time?", &state)
        let call = ToolCall(id: "t", name: "time_get_current_time", arguments: .object(["timezone": .string("Europe/Paris")]))
        let result = ToolResult(callID: "t", content: #"{"timezone": "Europe/Paris", "datetime": "2026-12-04T17:12:30+01:00", "day_of_week": "Friday"}"#)
        let activity = ToolActivity(step: 1, call: call, label: "time/get_current_time", result: result, duration: 0.1)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .toolCall(activity)), at: 1.1)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .toolResult(activity)), at: 1.2)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .delta("It is Friday.")), at: 1.3)
        var frame = ChatView.render(state).frame.lines
        let folded = try XCTUnwrap(frame.first { $0.contains("⚙ time/get_current_time") }, "\(frame)")
        XCTAssertTrue(folded.split(separator: "│")[0].trimmingCharacters(in: .whitespaces).hasSuffix("…"), "cut to one row: \(frame)")
        XCTAssertFalse(frame.contains { $0.contains("Friday\"}") }, "the rest is not shown: \(frame)")
        XCTAssertTrue(frame.contains { $0.contains("It is Friday.") })

        press([.function(2)], &state)
        frame = ChatView.render(state).frame.lines
        XCTAssertTrue(frame.contains { $0.contains("Friday\"}") }, "zoomed, the whole line: \(frame)")
    }

    func testAResumedTurnShowsTheToolsItCalled() {
        var state = state(panes: 1, width: 100)
        let call = ToolCall(id: "c", name: "calculator", arguments: .object(["expression": .string("2 + 2")]))
        let tool = ToolActivity(step: 1, call: call, label: "calculator", result: ToolResult(callID: "c", content: "4"), duration: 0.01)
        ChatSetup.refill(&state, from: [.user("Sum?", round: 1),
                                        TranscriptMessage(round: 1, speaker: "skeptic", name: "The Skeptic", role: .persona, text: "It is 4.")
                                            .withTools([tool])])
        XCTAssertEqual(state.panes[0].entries.last?.text, "⚙ calculator {\"expression\":\"2 + 2\"} → 4\n\nIt is 4.")
    }

    func testEditingKeys() {
        var state = state()
        type("hello big world", &state)
        press([.control("w")], &state)
        XCTAssertEqual(state.input.text, "hello big ")
        press([.control("a"), .character(">"), .control("e"), .character("!")], &state)
        XCTAssertEqual(state.input.text, ">hello big !")
        press([.left, .left, .backspace], &state)
        XCTAssertEqual(state.input.text, ">hello bi !")
        press([.control("u")], &state)
        XCTAssertEqual(state.input.text, " !")
        press([.right, .newline, .character("x")], &state)
        XCTAssertEqual(state.input.text, " \nx!")
        press([.paste("pasted\ntext")], &state)
        XCTAssertEqual(state.input.text, " \nxpasted\ntext!")
    }

    func testHistoryWalksUpAndBackDownToTheDraft() {
        var state = state()
        for message in ["/help", "/help", "second"] {
            type(message, &state)
            press([.enter], &state)
            press([.escape, .escape], &state)
        }
        type("draft", &state)
        press([.up], &state)
        XCTAssertEqual(state.input.text, "second")
        press([.up, .up], &state)
        XCTAssertEqual(state.input.text, "/help", "a repeated entry is kept once")
        press([.down], &state)
        XCTAssertEqual(state.input.text, "second")
        press([.down], &state)
        XCTAssertEqual(state.input.text, "draft")
    }

    func testEscapeStopsTheFocusedPaneAndEscapeEscapeStopsAll() {
        var state = state()
        send("go", &state)
        press([.tab], &state)
        _ = ChatReducer.reduce(&state, Turns.event("optimist", serial: 1, .delta("partial answer")), at: 1)
        XCTAssertEqual(press([.escape], &state), [.cancelTurn(personaID: "optimist")])
        XCTAssertEqual(state.panes[1].phase, .cancelled)
        XCTAssertEqual(state.panes[1].entries.last?.text, "partial answer", "what streamed is kept")
        XCTAssertEqual(state.panes[1].entries.last?.status, .stopped)
        XCTAssertEqual(press([.escape], &state), [.cancelTurn(personaID: "skeptic"), .cancelTurn(personaID: "pragmatist"),
                                                  .stopConversation])
        XCTAssertFalse(state.isStreaming)
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains("■ stopped") })
    }

    func testCtrlCStopsThenQuitsOnTheSecondPress() {
        var state = state()
        send("go", &state)
        XCTAssertEqual(press([.control("c")], &state).count, 4, "three turns and the conversation")
        XCTAssertFalse(state.shouldQuit)
        XCTAssertTrue(state.notice?.contains("Ctrl-C again") ?? false)
        press([.character("x")], &state)
        XCTAssertEqual(press([.control("c")], &state), [], "another key in between disarms")
        XCTAssertEqual(press([.control("c")], &state), [.quit])
        XCTAssertTrue(state.shouldQuit)
    }

    func testTabCyclesFocusBothWays() {
        var state = state()
        press([.tab, .tab, .tab], &state)
        XCTAssertEqual(state.focus, 0)
        press([.shiftTab], &state)
        XCTAssertEqual(state.focus, 2)
    }

    func testScrolledUpPaneStaysPutWhileTextStreamsAndEndFollowsAgain() {
        var state = state(panes: 1, width: 60, height: 14)
        send("go", &state)
        let paragraph = (1...40).map { "Line \($0) of the answer." }.joined(separator: "\n") + "\n"
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .delta(paragraph)), at: 1)
        XCTAssertNil(state.panes[0].scrollTop, "following the stream")
        press([.pageUp], &state)
        let top = state.panes[0].scrollTop
        XCTAssertNotNil(top)
        let before = ChatView.render(state).frame.lines
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .delta("More text arriving.\nAnd more.\n")), at: 1.1)
        XCTAssertEqual(ChatView.render(state).frame.lines[2..<10], before[2..<10], "the view does not move")
        press([.end], &state)
        XCTAssertNil(state.panes[0].scrollTop)
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains("And more.") })
        press([.home], &state)
        XCTAssertTrue(ChatView.render(state).frame.line(2).contains("› go"))
        press([.wheelDown(x: 5, y: 5)], &state)
        XCTAssertEqual(state.panes[0].scrollTop, 3)
        let marker = ChatView.render(state).frame.lines.first { $0.contains("more (End)") } ?? ""
        XCTAssertTrue(marker.hasPrefix(" ↓ ") && marker.hasSuffix("more (End)"), "the marker's row holds nothing else: '\(marker)'")
    }

    func testCtrlRRegeneratesTheFocusedPanesLastAnswer() {
        var state = state(panes: 2)
        send("go", &state)
        XCTAssertEqual(press([.control("r")], &state), [], "not while it streams")
        done("skeptic", in: &state)
        done("optimist", in: &state)
        _ = ChatReducer.reduce(&state, .conversationEnded(.roundsDone), at: 2)
        XCTAssertEqual(press([.control("r")], &state), [.regenerate(personaID: "skeptic")])
        XCTAssertEqual(state.panes[0].entries.map(\.role), [.user], "the old answer goes")
        _ = ChatReducer.reduce(&state, Turns.started("skeptic", serial: 2), at: 3)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .delta("stale")), at: 3)
        XCTAssertEqual(state.panes[0].entries.last?.text, "", "events of the replaced turn are ignored")
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 2, .delta("fresh")), at: 3)
        XCTAssertEqual(state.panes[0].entries.last?.text, "fresh")
    }

    func testFailedTurnKeepsPartialTextAndShowsTheError() {
        var state = state(panes: 1, width: 80)
        send("go", &state)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .delta("half an ans")), at: 1)
        var report = TurnReport.notSent()
        report.text = "half an ans"
        let error = ProviderError(kind: .rateLimit, status: 429, message: "slow down")
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .failed(error, report)), at: 2)
        XCTAssertEqual(state.panes[0].phase, .failed(kind: "rate_limit"))
        let lines = ChatView.render(state).frame.lines
        XCTAssertTrue(lines.contains { $0.contains("half an ans") })
        XCTAssertTrue(lines.contains { $0.contains("✗ rate_limit (HTTP 429): slow down") })
        XCTAssertTrue(lines.contains { $0.contains("✗ failed: rate_limit") })
    }

    func testTimeToFirstTokenCountsFromSendingNotFromTheQueue() {
        var state = state(panes: 1, width: 120)
        send("go", &state)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .queued(wait: 3)), at: 1)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .sent), at: 4)
        XCTAssertEqual(state.panes[0].phase, .waiting)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .delta("Hi")), at: 4.25)
        XCTAssertEqual(state.panes[0].counters.timeToFirstToken, 0.25)
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains("ttft 0.25s") },
                      ChatView.render(state).frame.lines.joined(separator: "\n"))
    }

    func testARetryStartsTheAnswerOverButKeepsTheInputEstimate() {
        var state = state(panes: 1, width: 80)
        send("go", &state, estimate: 42)
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", serial: 1, .delta("half an ans")), at: 1)
        let error = ProviderError(kind: .server, status: 500, message: "oops")
        _ = ChatReducer.reduce(&state, Turns.event("skeptic", .retry(TurnRetry(attempt: 1, of: 3, delay: 0.5, reason: error, partialText: ""))),
                               at: 2)
        XCTAssertEqual(state.panes[0].counters.inputTokens, 42)
        XCTAssertEqual(state.panes[0].counters.outputTokens, 0)
        XCTAssertEqual(state.panes[0].entries.last?.text, "")
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains("in ~42") })
    }

    func testSlashCommands() {
        var state = state()
        type("/nonsense now", &state)
        XCTAssertEqual(press([.enter], &state), [], "never sent to a model")
        XCTAssertTrue(state.notice?.hasPrefix("Unknown command /nonsense") ?? false)

        type("/model skeptic anthropic:claude-haiku-4-5", &state)
        XCTAssertEqual(press([.enter], &state), [.changeModel(personaID: "skeptic", model: ModelRef(provider: "anthropic", model: "claude-haiku-4-5"))])
        let haiku = ModelRef(provider: "anthropic", model: "claude-haiku-4-5")
        _ = ChatReducer.reduce(&state, .modelChanged(personaID: "skeptic", model: haiku, price: nil, providerType: .anthropic), at: 1)
        XCTAssertEqual(state.panes[0].model.description, "anthropic:claude-haiku-4-5")

        type("/model skeptic", &state)
        press([.enter], &state)
        XCTAssertTrue(state.notice?.hasPrefix("Usage: /model") ?? false)

        type("/drop optimist", &state)
        press([.enter], &state)
        XCTAssertEqual(state.panes.map(\.personaID), ["skeptic", "pragmatist"])

        type("/add historian", &state)
        XCTAssertEqual(press([.enter], &state), [.addPersona("historian")])

        type("/help", &state)
        press([.enter], &state)
        XCTAssertEqual(state.overlay, .help)
        press([.character("q")], &state)
        XCTAssertNil(state.overlay, "any key closes help")
        XCTAssertEqual(state.input.text, "", "and does nothing else")

        send("go", &state)
        type("/clear", &state)
        XCTAssertEqual(press([.enter], &state).last, .newSession, "a fresh start is a new session")
        XCTAssertTrue(state.panes.allSatisfy { $0.entries.isEmpty && !$0.isActive })

        type("/quit", &state)
        XCTAssertEqual(press([.enter], &state), [.quit])
    }

    func testF2ZoomsAndF1ShowsHelp() {
        var state = state()
        press([.tab, .function(2)], &state)
        XCTAssertTrue(state.zoomed)
        XCTAssertEqual(ScreenLayout(state).panes.map(\.index), [1])
        press([.function(1)], &state)
        XCTAssertEqual(state.overlay, .help)
        XCTAssertTrue(ChatView.render(state).frame.lines.contains { $0.contains("Persona: keys") })
    }

    func testClickFocusesThePaneUnderThePointer() {
        var state = state()
        press([.click(x: 100, y: 10)], &state)
        XCTAssertEqual(state.focus, 2)
    }

    func testPanesMoveToAGridWhenTooNarrow() {
        var state = state(width: 70, height: 20)
        XCTAssertEqual(ScreenLayout(state).panes.map(\.frame.y), [1, 1, 9])
        state.width = 120
        XCTAssertEqual(ScreenLayout(state).panes.map(\.frame.y), [1, 1, 1])
    }

    func testResumedSessionsRefillEveryPane() {
        var state = state(panes: 2)
        let messages = [
            TranscriptMessage.user("first", round: 1),
            TranscriptMessage(round: 1, speaker: "skeptic", name: "The Skeptic", role: .persona, text: "doubt", costPicos: 120),
            TranscriptMessage(round: 1, speaker: "optimist", name: "The Optimist", role: .persona, text: "hope", status: .stopped),
        ]
        ChatSetup.refill(&state, from: messages)
        XCTAssertEqual(state.panes[0].entries.map(\.text), ["first", "doubt"])
        XCTAssertEqual(state.panes[1].entries.map(\.status), [.complete, .stopped])
        XCTAssertEqual(state.round, 1)
    }

    /// The header's sums are the ledger's figures plus the running turns' estimates. A finished
    /// turn's row arrives with its last event, so the turn is counted once, never twice or not at all.
    func testHeaderSumsAreTheLedgersPlusRunningTurns() {
        var state = state(panes: 2)
        let price = try! PriceCatalog.bundled().price(for: ModelRef(provider: "openai", model: "gpt-4o-mini"))
        for index in state.panes.indices { state.panes[index].price = price }
        state.sessionSpent = CostTotals(picos: 5_000, requests: 2)
        state.todaySpent = CostTotals(picos: 9_000, requests: 7)
        XCTAssertEqual(state.sessionCostPicos, 5_000)
        send("go", &state, estimate: 1000)
        let running = state.panes.map { $0.costPicos ?? 0 }.reduce(0, +)
        XCTAssertGreaterThan(running, 0)
        XCTAssertEqual(state.sessionCostPicos, 5_000 + running)
        XCTAssertEqual(state.todayCostPicos, 9_000 + running)
        XCTAssertTrue(state.sessionCostIsEstimate, "a running turn's cost is an estimate")

        var report = TurnReport.notSent()
        report.costPicos = 777
        let recorded = CostTotals(picos: 5_777, requests: 3)
        _ = ChatReducer.reduce(&state, .ledgerTotals(session: state.session, sessionTotals: recorded,
                                                     today: CostTotals(picos: 9_777, requests: 8)), at: 2)
        _ = ChatReducer.reduce(&state, Turns.event(state.panes[0].personaID, serial: 1, .done(report)), at: 2)
        let stillRunning = state.panes[1].costPicos ?? 0
        XCTAssertEqual(state.sessionCostPicos, 5_777 + stillRunning)
        XCTAssertEqual(state.todayCostPicos, 9_777 + stillRunning)
    }

    func testOlderOrForeignLedgerFiguresAreIgnored() {
        var state = state(panes: 1)
        state.sessionSpent = CostTotals(picos: 50, requests: 5)
        state.todaySpent = CostTotals(picos: 80, requests: 9)
        _ = ChatReducer.reduce(&state, .ledgerTotals(session: state.session, sessionTotals: CostTotals(picos: 40, requests: 4),
                                                     today: CostTotals(picos: 70, requests: 8)), at: 1)
        XCTAssertEqual(state.sessionCostPicos, 50, "a query that finished late holds fewer rows")
        XCTAssertEqual(state.todayCostPicos, 80)
        _ = ChatReducer.reduce(&state, .key(.paste("/clear")), at: 1)
        _ = ChatReducer.reduce(&state, .sessionStarted("new"), at: 1)
        XCTAssertEqual(state.sessionCostPicos, 0, "a new session has spent nothing")
        _ = ChatReducer.reduce(&state, .ledgerTotals(session: "old", sessionTotals: CostTotals(picos: 60, requests: 6),
                                                     today: CostTotals(picos: 90, requests: 10)), at: 1)
        XCTAssertEqual(state.sessionCostPicos, 0, "the stopped turns of the old session are not this one's")
        XCTAssertEqual(state.todayCostPicos, 90, "but today's figure takes them")
    }

    func testAnUnpricedOrEstimatedRowMarksTheSums() {
        var state = state(panes: 1)
        state.sessionSpent = CostTotals(picos: 10, requests: 2, unpriced: 1)
        state.todaySpent = CostTotals(picos: 10, requests: 2, estimated: 1)
        XCTAssertNil(state.sessionCostPicos)
        XCTAssertEqual(state.todayCostPicos, 10)
        XCTAssertTrue(state.todayCostIsEstimate)
        XCTAssertFalse(state.sessionCostIsEstimate)
        let header = ChatView.render(state).frame.lines[0]
        XCTAssertTrue(header.contains("session $?"), header)
        XCTAssertTrue(header.contains("today ~$0.000000"), header)
    }

    func testReloadedCapsApplyAtOnce() {
        var state = state(panes: 1)
        state.sessionSpent = CostTotals(picos: 4_000_000_000, requests: 1)
        state.todaySpent = CostTotals(picos: 4_000_000_000, requests: 1)
        XCTAssertFalse(ChatView.render(state).frame.lines[0].contains("█"))
        _ = ChatReducer.reduce(&state, .budgetChanged(BudgetCaps(session: 5_000_000_000), warnAtPermille: 800), at: 1)
        let header = ChatView.render(state).frame.lines[0]
        XCTAssertTrue(header.contains("session $0.004000 / $0.005000 ████████░░"), header)
        _ = ChatReducer.reduce(&state, .budgetChanged(BudgetCaps(daily: 8_000_000_000), warnAtPermille: 800), at: 1)
        XCTAssertTrue(ChatView.render(state).frame.lines[0].contains("today $0.004000 / $0.008000 █████░░░░░"))
    }

    func testALedgerFailureIsShownInRed() {
        var state = state(panes: 1)
        state.todaySpent = CostTotals()
        _ = ChatReducer.reduce(&state, .ledgerFailed("the cost ledger /h/persona.db cannot be used: the disk is full"), at: 1)
        let frame = ChatView.render(state).frame
        XCTAssertTrue(frame.lines[0].contains("✗ ledger"), frame.lines[0])
        XCTAssertTrue(frame.lines.contains { $0.contains("the disk is full") })
    }
}
