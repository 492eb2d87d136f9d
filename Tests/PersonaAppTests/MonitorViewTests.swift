import Foundation
import GRDB
import PersonaKit
import TerminalUI
import XCTest

@testable import PersonaApp

/// The monitor's screen, headless: its layout at 80×24 and 200×50, the small-terminal message,
/// the keys, and its JSON against `persona costs`.
final class MonitorViewTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_796_000_000)

    func snapshot(inFlight count: Int = 3) -> MonitorSnapshot {
        let requests = (0..<count).map { index in
            InFlightRequest(reservation: Int64(index + 1), source: index == 1 ? "serve" : "ask", client: index == 1 ? "editor" : nil,
                            session: "s\(index)", persona: ["skeptic", "optimist", "pragmatist"][index % 3], provider: "openai",
                            model: "gpt-4o-mini", started: now.addingTimeInterval(-Double(index + 2)), outputTokens: 40 * (index + 1),
                            outputExact: false, picosSoFar: 12_000_000 * Int64(index + 1), reservedPicos: 90_000_000,
                            stale: index == 2, batchJob: nil)
        }
        var perMinute = [Int64](repeating: 0, count: 60)
        perMinute[58] = 40_000_000_000
        perMinute[59] = 10_000_000_000
        return MonitorSnapshot(
            taken: now, today: CostTotals(picos: 4_123_400_000_000, requests: 57, inputTokens: 9_000, outputTokens: 4_000, estimated: 1),
            heldPicos: 270_000_000, lastMinute: CostTotals(picos: 10_000_000_000, requests: 2),
            lastHour: CostTotals(picos: 50_000_000_000, requests: 9), perMinute: perMinute, inFlight: requests,
            providers: [ProviderActivity(provider: "openai", today: CostTotals(picos: 4_000_000_000_000, requests: 50), failed: 2,
                                         attempted: 50, ttftP50: 412, ttftP95: 980, breaker: "closed", remainingRequests: 4_990,
                                         limitRequests: 5_000),
                        ProviderActivity(provider: "anthropic", today: CostTotals(picos: 123_400_000_000, requests: 7), failed: 7,
                                         attempted: 7, breaker: "open")],
            spenders: [.session: [Spender(key: "20261205-093000-abc", totals: CostTotals(picos: 3_000_000_000_000, requests: 40))],
                       .persona: [Spender(key: "skeptic", totals: CostTotals(picos: 2_000_000_000_000, requests: 20))],
                       .model: [], .client: [Spender(key: "editor", totals: CostTotals(picos: 1_000_000_000, requests: 1))]],
            warnings: [BudgetWarning(budget: "the daily budget", spentPicos: 4_123_670_000_000, capPicos: 5_000_000_000_000, exhausted: false)],
            budgets: MonitorBudgets(daily: 5_000_000_000_000))
    }

    func lines(_ frame: CellBuffer) -> [String] { (0..<frame.height).map { frame.line($0) } }

    func testTheLayoutAt80By24() {
        let frame = MonitorView.render(MonitorState(width: 80, height: 24, snapshot: snapshot()))
        let rows = lines(frame)
        XCTAssertEqual(rows[0], " Persona monitor │ today ~$4.12 / $5.00 █████████░ 82% · held $0.000270")
        XCTAssertTrue(rows[1].hasPrefix(" 1 min $0.0100 · 1 h $0.0500 │ $/2 min ·····"), rows[1])
        XCTAssertTrue(rows[1].hasSuffix("·█"), "the last two minutes share a column: \(rows[1])")
        XCTAssertTrue(rows[2].hasPrefix(" IN FLIGHT 3"), rows[2])
        XCTAssertTrue(rows[3].contains("ask") && rows[3].contains("skeptic") && rows[3].contains("openai:gpt-4o-mini")
                      && rows[3].contains("2.0s") && rows[3].contains("~40") && rows[3].contains("~$0.000012"), rows[3])
        XCTAssertTrue(rows[4].contains("serve editor"), rows[4])
        XCTAssertTrue(rows[5].contains("stale ask"), rows[5])
        let providers = rows.firstIndex { $0.hasPrefix(" PROVIDERS") }!
        XCTAssertTrue(rows[providers + 1].contains("openai") && rows[providers + 1].contains("4.0%") && rows[providers + 1].contains("412 ms")
                      && rows[providers + 1].contains("4990/5000 req"), rows[providers + 1])
        XCTAssertTrue(rows[providers + 2].contains("anthropic") && rows[providers + 2].contains("100.0%") && rows[providers + 2].contains("open"),
                      rows[providers + 2])
        let top = rows.firstIndex { $0.hasPrefix(" TOP TODAY by [session]") }!
        XCTAssertTrue(rows[top + 1].contains("20261205-093000-abc") && rows[top + 1].contains("$3.00"), rows[top + 1])
        XCTAssertTrue(rows[22].contains("⚠ the daily budget is past its warning level: $4.12 of $5.00"), rows[22])
        XCTAssertTrue(rows[23].hasPrefix(" q quit · Tab spenders · p pause · ? help"), rows[23])
        XCTAssertEqual(frame[1, 5].style, Theme.statusError, "a stale request is drawn in red")
        for row in rows { XCTAssertLessThanOrEqual(DisplayWidth.of(row), 80) }
    }

    func testTheLayoutAt200By50ShowsEveryRowAndWiderColumns() {
        var many = snapshot(inFlight: 60)
        many.inFlight[0].model = "a-model-name-that-is-rather-long-indeed-v2"
        let rows = lines(MonitorView.render(MonitorState(width: 200, height: 50, snapshot: many)))
        XCTAssertTrue(rows.contains { $0.contains("openai:a-model-name-that-is-rather-long-indeed-v2") }, "the model column widens")
        XCTAssertTrue(rows.contains { $0.contains("… and ") && $0.contains(" more") }, "what does not fit is counted")
        XCTAssertTrue(rows[49].hasPrefix(" q quit"))
        XCTAssertTrue(rows[1].hasSuffix("·█▂ peak $0.0400"), "a column a minute: \(rows[1])")
        let narrow = lines(MonitorView.render(MonitorState(width: 80, height: 24, snapshot: many)))
        XCTAssertFalse(narrow.contains { $0.contains("a-model-name-that-is-rather-long-indeed-v2") }, "at 80 columns it is cut")
        XCTAssertTrue(narrow[3].contains("openai:a-model-name-th… "), narrow[3])
    }

    func testASmallTerminalGetsAMessageAndRecovers() {
        for (width, height) in [(59, 24), (80, 14), (20, 5)] {
            let text = lines(MonitorView.render(MonitorState(width: width, height: height, snapshot: snapshot()))).joined(separator: "\n")
            XCTAssertTrue(text.contains("Terminal too small"), "\(width)×\(height)")
            XCTAssertFalse(text.contains("IN FLIGHT"))
        }
        var state = MonitorState(width: 59, height: 14, snapshot: snapshot())
        (state.width, state.height) = (60, 15)
        let text = lines(MonitorView.render(state)).joined(separator: "\n")
        XCTAssertTrue(text.contains("IN FLIGHT") && text.contains("PROVIDERS") && text.contains("TOP TODAY"), text)
    }

    func testAProblemIsShownAndTheLastSnapshotKept() {
        let empty = lines(MonitorView.render(MonitorState(width: 80, height: 24, problem: "no ledger yet at /x/persona.db")))
        XCTAssertTrue(empty.contains { $0.contains("no ledger yet at /x/persona.db") })
        let kept = lines(MonitorView.render(MonitorState(width: 80, height: 24, snapshot: snapshot(), problem: "the file is locked")))
        XCTAssertTrue(kept.contains { $0.contains("✗ the file is locked; showing the last snapshot read") })
        XCTAssertTrue(kept.contains { $0.contains("IN FLIGHT 3") })
    }

    func testKeysComeFromTheBindingsTable() {
        var state = MonitorState(width: 80, height: 24, snapshot: snapshot())
        XCTAssertTrue(state.press(.tab))
        XCTAssertEqual(state.table, .persona)
        let text = lines(MonitorView.render(state)).joined(separator: "\n")
        XCTAssertTrue(text.contains("[persona]") && text.contains("skeptic"))
        for _ in 0..<3 { _ = state.press(.tab) }
        XCTAssertEqual(state.table, .session, "Tab goes round")
        _ = state.press(.character("p"))
        XCTAssertTrue(state.paused)
        XCTAssertTrue(lines(MonitorView.render(state))[23].hasSuffix("PAUSED"))
        _ = state.press(.character("?"))
        XCTAssertTrue(lines(MonitorView.render(state)).joined().contains("Persona monitor: keys"))
        _ = state.press(.escape)
        XCTAssertFalse(state.help)
        XCTAssertFalse(state.press(.character("x")), "an unbound key does nothing")
        _ = state.press(.character("q"))
        XCTAssertTrue(state.quit)
        for binding in Bindings.monitorKeys {
            for (key, action) in binding.keys { XCTAssertEqual(Bindings.monitorAction(for: key), action) }
        }
    }

    func testModelTextIsMadeInert() {
        var hostile = snapshot(inFlight: 1)
        hostile.inFlight[0].persona = "evil\u{1B}[2J\u{202E}"
        let row = lines(MonitorView.render(MonitorState(width: 80, height: 24, snapshot: hostile)))[3]
        XCTAssertFalse(row.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{202E}" }, row)
    }

    /// A home with no ledger yet is waited for, not created; a ledger another process holds
    /// locked is reported within a fraction of a second, and read again once it is free.
    func testAMissingOrLockedLedgerIsReportedAndRetried() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try "budget:\n  daily_usd: 3\n".write(to: home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let source = try MonitorSource(workspace: Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil), environment: [:]))
        XCTAssertEqual(source.budgets.daily, 3_000_000_000_000)
        guard case .failure(let missing) = source.read() else { return XCTFail("a snapshot of nothing") }
        XCTAssertTrue(missing.description.contains("no ledger yet at \(source.path)"), missing.description)
        XCTAssertFalse(FileManager.default.fileExists(atPath: source.path), "watching creates no ledger")

        try Ledger(path: source.path).record(LedgerEntry(timestamp: Date(), session: "s", persona: "p", provider: "openai", model: "m",
                                                         inputTokens: 1, outputTokens: 1, costPicos: 5, estimated: false, durationMs: 1,
                                                         status: .ok))
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE") }
        let holder = try DatabaseQueue(path: source.path, configuration: configuration)
        let (locked, release, released) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        Thread {
            try? holder.inDatabase { db in
                try db.execute(sql: "BEGIN EXCLUSIVE; DELETE FROM provider_status")
                locked.signal()
                release.wait()
                try db.execute(sql: "COMMIT; PRAGMA locking_mode = NORMAL; SELECT 1 FROM requests")
            }
            released.signal()
        }.start()
        locked.wait()
        let started = Date()
        guard case .failure(let problem) = source.read() else {
            release.signal()
            return XCTFail("read through an exclusive lock")
        }
        XCTAssertTrue(problem.description.contains("locked"), problem.description)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3, "the screen is not held for the writers' 5 s")
        release.signal()
        released.wait()
        try holder.close()
        guard case .success(let snapshot) = source.read() else { return XCTFail("not read again once free") }
        XCTAssertEqual(snapshot.today.picos, 5)
    }

    /// The JSON's figures are exact, as `persona costs --json` prints them, from the same ledger.
    func testTheJSONAgreesWithCostsToThePicodollar() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-json-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = try Ledger(path: directory.appendingPathComponent("persona.db").path)
        let now = Date()
        try ledger.record(batch: [1_000_000_001, 20_000_000_003, 7].map {
            LedgerEntry(timestamp: now.addingTimeInterval(-1), session: "s", persona: "p", provider: "openai", model: "m", inputTokens: 1,
                        outputTokens: 1, costPicos: $0, estimated: false, durationMs: 1, status: .ok)
        })
        let snapshot = try MonitorReader(ledger: ledger).snapshot(budgets: MonitorBudgets(), now: now)
        let json = try JSON.parse(Array(MonitorJSON.line(snapshot).utf8))
        let costs = try JSON.parse(Array(try CostsReport.render(.summary, ledger: ledger, options: .init(period: .day(of: now), json: true)).utf8))
        XCTAssertEqual(json["today"]?["cost"], costs["total_cost"])
        XCTAssertEqual(json["today"]?["cost"], .number("0.021000000011"))
        XCTAssertEqual(json["today"]?["requests"]?.int, 3)
        XCTAssertEqual(json["event"]?.string, "snapshot")
    }
}
