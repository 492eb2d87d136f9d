import Foundation
import MockProvider
import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

/// Every view of what a session cost reads the same ledger queries, so they agree to the
/// picodollar: the header, F3, `sessions list`, `show` and `export`, the summaries of `ask` and
/// `debate`, and `persona costs`. Session totals include the moderator, the judge and retries.
final class AgreementTests: XCTestCase {
    var cli: CLI!
    var server: MockServer!

    override func setUpWithError() throws {
        cli = try CLI()
        let attempts = Counter()
        // The third request breaks off after a few tokens, so one turn is retried.
        server = try MockServer { _ in
            attempts.next() == 3 ? MockBehavior(tokens: 12, dropAfter: 4) : MockBehavior(tokens: 9)
        }
        try """
            default_model: openai:gpt-4o-mini
            retry: { max_retries: 2, base_delay: 0.01, max_delay: 0.05 }
            """.write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        server.stop()
        cli.remove()
    }

    var environment: [String: String] { MoneyCLITests.environment(server) }

    /// Every view's figure for `session`, as text, beside the ledger's exact total.
    func assertViewsAgree(_ session: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let totals = try ledger().totals(session: session)
        let exact = Money.exactText(totals.picos)
        let shown = CostsReport.money(totals)
        XCTAssertTrue(shown.hasSuffix("$" + exact), file: file, line: line)
        let list = try cli.run(["sessions", "list"]).stdout
        let row = list.split(separator: "\n").first { $0.hasPrefix(session) }
        XCTAssertTrue(row?.contains(" \(shown) ") ?? false, "sessions list: \(list)", file: file, line: line)
        let show = try cli.run(["sessions", "show", session]).stdout
        XCTAssertTrue(show.contains("cost: \(shown) in \(totals.requests) requests"), "sessions show: \(show.suffix(300))", file: file, line: line)
        let markdown = try cli.run(["sessions", "export", session]).stdout
        XCTAssertTrue(markdown.contains("\ntotal_cost_usd: \(exact)\n"), "export markdown", file: file, line: line)
        let json = try JSON.parse(try cli.run(["sessions", "export", session, "--format", "json"]).stdout)
        XCTAssertEqual(json["ledger"]?["cost_usd"], .number(exact), "export json", file: file, line: line)
    }

    func ledger() throws -> Ledger { try Ledger(path: cli.home.appendingPathComponent("persona.db").path) }

    func testADebatesSummaryAndEveryViewAgreeWithTheLedger() throws {
        let result = try cli.run(["debate", "Four-day weeks?", "--personas", "skeptic,optimist", "--mode", "moderated", "--rounds", "2",
                                  "--judge", "judge", "--json"], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.events.filter { $0["event"]?.string == "retry" }.isEmpty, "a turn was retried")
        let summary = try XCTUnwrap(result.events.last)
        let session = try XCTUnwrap(summary["session"]?.string)
        let totals = try ledger().totals(session: session)
        XCTAssertEqual(summary["cost_usd"], .number(Money.exactText(totals.picos)))
        XCTAssertEqual(summary["requests"]?.int, totals.requests)
        let moderator = result.events.filter { $0["event"]?.string == "request" && $0["role"]?.string == "moderator" }
        let persons = result.events.filter { $0["event"]?.string == "request" && $0["role"] == nil }
        XCTAssertFalse(moderator.isEmpty)
        XCTAssertGreaterThan(totals.requests, persons.count + 1, "the moderator's, the judge's and the retried requests are counted")
        try assertViewsAgree(session)
        XCTAssertEqual(try JSON.parse(try cli.run(["costs", "--json"]).stdout)["total_cost"], .number(Money.exactText(totals.picos)))
    }

    /// A council whose third request breaks off and is retried, and whose reviews are unreadable
    /// (asked again): its cost per stage adds up to the session's total in every view, and the
    /// chat screen resumes it as a council, its header agreeing with the ledger.
    func testACouncilsCostPerStageAgreesWithTheLedgerAndItResumesAsACouncil() async throws {
        let result = try cli.run(["debate", "Four-day weeks?", "--personas", "skeptic,optimist,pragmatist", "--mode", "council", "--json"],
                                 environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let summary = try XCTUnwrap(result.events.last)
        let session = try XCTUnwrap(summary["session"]?.string)
        let totals = try ledger().totals(session: session)
        XCTAssertEqual(summary["cost_usd"], .number(Money.exactText(totals.picos)))
        let stages = try XCTUnwrap(summary["stages"])
        XCTAssertEqual(["answers", "reviews", "chair"].compactMap { stages[$0]?.decimal }.reduce(0, +), summary["cost_usd"]?.decimal,
                       "the stages add up, the retried request and the reviews asked again included")
        XCTAssertTrue(result.events.contains { $0["event"]?.string == "verdict" && $0["valid"]?.bool == false })
        try assertViewsAgree(session)

        var workspace = Workspace.load(paths: PersonaPaths.resolve(home: cli.home.path, config: nil), environment: environment)
        try await workspace.resolveDefaults(personaNames: [], modelFlag: nil, startLocal: false)
        let resumed = try ChatLaunch(ChatLaunch.Options(resume: session), workspace: workspace, warn: { _ in })
        let screen = try ScreenUnderTest(resumed)
        let state = try await screen.waitUntilIdle(after: 0)
        XCTAssertEqual(state.mode, .council)
        XCTAssertEqual(state.chairPaneID, "chair:skeptic")
        XCTAssertNotNil(state.councilTable)
        try assertHeaderAgrees(state)
        await screen.quit()
    }

    /// The chat screen, headless: a moderated debate with a judge, a `/drop`, a `/clear` and a
    /// resume, with the header checked against the ledger at each step.
    func testTheHeaderAgreesWithTheLedgerThroughDropClearAndResume() async throws {
        var workspace = Workspace.load(paths: PersonaPaths.resolve(home: cli.home.path, config: nil), environment: environment)
        try await workspace.resolveDefaults(personaNames: ["skeptic", "optimist"], modelFlag: nil, startLocal: false)
        let first = try ChatLaunch(ChatLaunch.Options(personas: ["skeptic", "optimist"]), workspace: workspace, warn: { _ in })
        let screen = try ScreenUnderTest(first)

        screen.type("/mode moderated\r/judge judge\r/rounds 2\rFour-day weeks?\r")
        var state = try await screen.waitUntilIdle(after: 1)
        let debated = state.session
        try assertHeaderAgrees(state)
        screen.type("/drop optimist\rAnd for nurses?\r")
        state = try await screen.waitUntilIdle(after: 2)
        XCTAssertEqual(state.session, debated)
        XCTAssertFalse(state.panes.contains { $0.personaID == "optimist" })
        try assertHeaderAgrees(state)

        screen.type("/clear\rStart again.\r")
        state = try await screen.waitUntilIdle(after: 3)
        XCTAssertNotEqual(state.session, debated, "/clear starts a new session")
        try assertHeaderAgrees(state)
        let cleared = state.session
        XCTAssertGreaterThan(try ledger().totals(session: cleared).requests, 0, "its rows carry the new id")
        await screen.quit()

        let resumed = try ChatLaunch(ChatLaunch.Options(resume: debated), workspace: workspace, warn: { _ in })
        let again = try ScreenUnderTest(resumed)
        state = try await again.waitUntilIdle(after: 0)
        XCTAssertEqual(state.session, debated)
        try assertHeaderAgrees(state)
        again.type("One more round?\r")
        state = try await again.waitUntilIdle(after: 1)
        try assertHeaderAgrees(state)
        await again.quit()

        let ledger = try ledger()
        for session in [debated, cleared] { try assertViewsAgree(session) }
        XCTAssertEqual(try JSON.parse(try cli.run(["costs", "--json"]).stdout)["total_cost"],
                       .number(Money.exactText(try ledger.totals().picos)))
        let lines = try CostsReport.overlayLines(ledger, session: debated)
        XCTAssertTrue(lines[0].contains("$" + Money.exactText(try ledger.totals(session: debated).picos)), "F3: \(lines[0])")
        // F3 splits the session by persona, and the split adds up to the session's total.
        let split = try ledger.totalsByPersona(session: debated)
        XCTAssertEqual(split.reduce(0) { $0 + $1.totals.picos }, try ledger.totals(session: debated).picos)
        for entry in split {
            XCTAssertTrue(lines.contains { $0.hasPrefix("  \(entry.persona) ") && $0.contains("$" + Money.exactText(entry.totals.picos)) },
                          "F3 line for \(entry.persona): \(lines)")
        }
    }

    func assertHeaderAgrees(_ state: AppState, file: StaticString = #filePath, line: UInt = #line) throws {
        let ledger = try ledger()
        XCTAssertEqual(state.sessionCostPicos, try ledger.totals(session: state.session).picos, "session", file: file, line: line)
        XCTAssertEqual(state.todayCostPicos, try ledger.totals(in: .day()).picos, "today", file: file, line: line)
        XCTAssertFalse(state.isStreaming, file: file, line: line)
    }
}

/// The chat screen on a headless screen, fed keys through a pipe; each frame's state is kept.
private final class ScreenUnderTest: @unchecked Sendable {
    private let controller: ChatRunLoop
    private let keys = Pipe()
    private let lock = NSLock()
    private var latest: AppState?
    private var finished: Task<Void, Never>?

    init(_ launch: ChatLaunch) throws {
        controller = launch.runLoop(screen: HeadlessScreen(width: 120, height: 30), input: keys.fileHandleForReading.fileDescriptor)
        controller.onFrame = { [weak self] report in self?.lock.withLock { self?.latest = report.state } }
        let running = UncheckedController(controller)
        finished = Task.detached {
            await running.value.runOnOwnThread()
            await running.value.settle()
        }
    }

    func type(_ text: String) { keys.fileHandleForWriting.write(Data(text.utf8)) }

    /// Waits until `conversations` conversations have ended and nothing streams, and the header's
    /// figures have settled; returns the state then shown.
    func waitUntilIdle(after conversations: Int, timeout: Double = 30) async throws -> AppState {
        let deadline = Date().addingTimeInterval(timeout)
        var quietSince: Date?
        while Date() < deadline {
            let state = lock.withLock { latest }
            if let state, !state.conversing, !state.isStreaming, state.input.history.filter({ !$0.hasPrefix("/") }).count >= conversations {
                quietSince = quietSince ?? Date()
                // The last turn's ledger figures arrive with its event; a moment more lets a late one land.
                if Date().timeIntervalSince(quietSince!) > 0.5 { return lock.withLock { latest }! }
            } else {
                quietSince = nil
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw NSError(domain: "AgreementTests", code: 1,
                      userInfo: [NSLocalizedDescriptionKey: "the screen did not settle within \(timeout) s: \(lock.withLock { latest }?.notice ?? "")"])
    }

    func quit() async {
        type("\u{3}\u{3}")
        await finished?.value
    }
}

private struct UncheckedController: @unchecked Sendable {
    let value: ChatRunLoop
    init(_ value: ChatRunLoop) { self.value = value }
}

/// Counts requests across the mock's threads.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func next() -> Int { lock.withLock { count += 1; return count } }
}
