import Foundation
import GRDB
import MockProvider
import XCTest

@testable import PersonaKit

/// What `persona monitor` reads: snapshots that agree with the ledger's own totals, requests in
/// flight with the progress their processes publish, stale reservations, providers' health and
/// budget warnings.
final class MonitorTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("persona.db").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func entry(_ provider: String = "openai", model: String = "gpt-4o", cost: Int64?, session: String = "s1", persona: String = "skeptic",
               at date: Date, status: LedgerEntry.Status = .ok, ttft: Int? = nil, client: String? = nil) -> LedgerEntry {
        LedgerEntry(timestamp: date, session: session, persona: persona, provider: provider, model: model, inputTokens: 10, outputTokens: 5,
                    costPicos: cost, estimated: false, timeToFirstTokenMs: ttft, durationMs: 100, status: status, client: client)
    }

    /// Noon today, so that an hour either side stays within the day.
    let noon = Calendar.current.date(bySettingHour: 12, minute: 0, second: 0, of: Date())!

    func testASnapshotAgreesWithTheLedgersTotals() throws {
        let ledger = try Ledger(path: path)
        try ledger.record(batch: [
            entry(cost: 1_000_000_007, session: "a", at: noon.addingTimeInterval(-30), ttft: 100),
            entry("anthropic", model: "claude", cost: 2_000_000_011, session: "b", persona: "optimist",
                  at: noon.addingTimeInterval(-30 * 60), ttft: 300, client: "ci"),
            entry(cost: 3, session: "a", at: noon.addingTimeInterval(-2 * 3600), status: .failed),
            entry(cost: nil, session: "c", at: noon.addingTimeInterval(-3 * 3600)),
            entry(cost: 999, at: noon.addingTimeInterval(-86400)),
        ])
        let snapshot = try MonitorReader(ledger: ledger).snapshot(budgets: MonitorBudgets(), now: noon)
        XCTAssertEqual(snapshot.today, try ledger.totals(in: .day(of: noon)))
        XCTAssertEqual(snapshot.today.picos, 3_000_000_021)
        XCTAssertEqual(snapshot.today.unpriced, 1)
        XCTAssertEqual(snapshot.lastMinute.picos, 1_000_000_007)
        XCTAssertEqual(snapshot.lastHour, try ledger.totals(in: Ledger.Period(start: noon.addingTimeInterval(-3600), end: noon)))
        XCTAssertEqual(snapshot.perMinute.count, 60)
        XCTAssertEqual(snapshot.perMinute.reduce(0, +), snapshot.lastHour.picos, "the sparkline sums to the last hour")
        XCTAssertEqual(snapshot.perMinute[59], 1_000_000_007)
        XCTAssertEqual(snapshot.perMinute[30], 2_000_000_011)
        XCTAssertEqual(snapshot.spenders[.session]?.map(\.key), ["b", "a", "c"])
        XCTAssertEqual(snapshot.spenders[.session]?[1].totals.picos, 1_000_000_010)
        XCTAssertEqual(snapshot.spenders[.persona]?.map(\.key), ["optimist", "skeptic"])
        XCTAssertEqual(snapshot.spenders[.model]?.map(\.key), ["anthropic:claude", "openai:gpt-4o"])
        XCTAssertEqual(snapshot.spenders[.client]?.map(\.key), ["ci", ""])
        let openai = try XCTUnwrap(snapshot.providers.first { $0.provider == "openai" })
        XCTAssertEqual(openai.today.requests, 3)
        XCTAssertEqual(openai.failed, 1)
        XCTAssertEqual(openai.attempted, 3)
        XCTAssertEqual(openai.errorPermille, 333)
        XCTAssertEqual(openai.ttftP50, 100, "only the last 15 minutes' answers count")
        XCTAssertNil(snapshot.providers.first { $0.provider == "anthropic" }?.ttftP50, "30 minutes ago is outside the window")
        XCTAssertEqual(snapshot.providers.map(\.provider), ["anthropic", "openai"], "largest spend first")
    }

    /// One reader, as the monitor keeps, adds new rows to the day's sums; a deleted row (a late
    /// settle replacing the row that reclaiming wrote) and a new day make it sum afresh.
    func testTheDaysSumsFollowNewRowsDeletionsAndANewDay() async throws {
        let ledger = try Ledger(path: path)
        let reader = MonitorReader(ledger: ledger)
        func check(_ now: Date, _ line: UInt = #line) throws {
            let snapshot = try reader.snapshot(budgets: MonitorBudgets(), now: now)
            let day = Ledger.Period.day(of: now)
            XCTAssertEqual(snapshot.today, try ledger.totals(in: day), line: line)
            XCTAssertEqual(snapshot.lastHour, try ledger.totals(in: Ledger.Period(start: now.addingTimeInterval(-3600), end: now)), line: line)
            XCTAssertEqual(snapshot.lastMinute, try ledger.totals(in: Ledger.Period(start: now.addingTimeInterval(-60), end: now)), line: line)
            XCTAssertEqual(snapshot.perMinute.reduce(0, +), snapshot.lastHour.picos, line: line)
            for kind in SpenderKind.allCases {
                var sum = CostTotals()
                for spender in snapshot.spenders[kind] ?? [] { XCTAssertTrue(sum.add(spender.totals)) }
                XCTAssertEqual(sum, snapshot.today, "the \(kind) table divides the day", line: line)
            }
        }
        try ledger.record(entry(cost: 10, session: "a", at: noon.addingTimeInterval(-60)))
        try check(noon)
        try ledger.record(entry(cost: 3, session: "a", at: noon.addingTimeInterval(-50 * 60)))
        try check(noon.addingTimeInterval(15 * 60))
        try ledger.record(batch: [entry(cost: 20, session: "b", at: noon.addingTimeInterval(-30)),
                                  entry(cost: 5, session: "a", at: noon.addingTimeInterval(-86400))])
        try check(noon)
        // A request whose process was taken for dead settles after all: its row is replaced.
        let reservation = try await ledger.reserve(ReservationClaim(session: "a", persona: "p", provider: "openai", model: "gpt-4o",
                                                                    inputTokens: 1, maxOutputTokens: 1, picos: 900), caps: BudgetCaps())
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE reservations SET owner_pid = ?, owner_start = 'gone' WHERE id = ?",
                           arguments: [try LedgerTests.pidOfAFinishedProcess(), reservation.id])
        }
        XCTAssertEqual(try ledger.reclaimAbandoned(), 1)
        try check(Date())
        try await ledger.settle(reservation, as: entry(cost: 40, session: "a", at: Date()))
        let replaced = try reader.snapshot(budgets: MonitorBudgets())
        XCTAssertEqual(replaced.today, try ledger.totals(in: .day(of: Date())))
        XCTAssertEqual(replaced.spenders[.session]?.first { $0.key == "a" }?.totals.picos, 53, "the reclaimed row's 900 is gone")
        try check(noon.addingTimeInterval(86400))
        XCTAssertEqual(try reader.snapshot(budgets: MonitorBudgets(), now: noon.addingTimeInterval(86400)).today, CostTotals())
    }

    func testReservationsShowInFlightAndADeadOwnersAsStale() async throws {
        let ledger = try Ledger(path: path)
        ProcessRole.set("ask")
        let mine = try await ledger.reserve(ReservationClaim(session: "s", persona: "skeptic", provider: "openai", model: "gpt-4o",
                                                             inputTokens: 100, maxOutputTokens: 500, picos: 5_000, client: "ci"),
                                            caps: BudgetCaps())
        let orphan = try await ledger.reserve(ReservationClaim(session: "t", persona: "optimist", provider: "openai", model: "gpt-4o",
                                                               inputTokens: 100, maxOutputTokens: 500, picos: 7_000), caps: BudgetCaps())
        let dead = try LedgerTests.pidOfAFinishedProcess()
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE reservations SET owner_pid = ?, owner_start = 'gone' WHERE id = ?", arguments: [dead, orphan.id])
        }
        let snapshot = try MonitorReader(ledger: ledger).snapshot(budgets: MonitorBudgets(daily: 10_000), now: Date())
        XCTAssertEqual(snapshot.inFlight.map(\.reservation), [mine.id, orphan.id])
        XCTAssertEqual(snapshot.inFlight.map(\.stale), [false, true])
        XCTAssertEqual(snapshot.inFlight[0].source, "ask")
        XCTAssertEqual(snapshot.inFlight[0].client, "ci")
        XCTAssertEqual(snapshot.inFlight[0].reservedPicos, 5_000)
        XCTAssertEqual(snapshot.heldPicos, 12_000)
        XCTAssertEqual(snapshot.warnings, [BudgetWarning(budget: "the daily budget", spentPicos: 12_000, capPicos: 10_000, exhausted: true)],
                       "the cap counts what is held, as the budget guard does")
        XCTAssertEqual(try ledger.reclaimAbandoned(), 1)
        // A batch job's reservation belongs to the job, which no process's death releases.
        let job = try ledger.reserve(ReservationClaim(session: "job-1", persona: "batch", provider: "openai", model: "gpt-4o",
                                                      inputTokens: 100, maxOutputTokens: 500, picos: 3_000), caps: BudgetCaps(), batchJob: "job-1")
        let after = try MonitorReader(ledger: ledger).snapshot(budgets: MonitorBudgets(), now: Date())
        XCTAssertEqual(after.inFlight.map(\.reservation), [mine.id, job.id], "a stale request leaves once it is released")
        XCTAssertEqual(after.today.picos, 7_000)
        XCTAssertEqual(after.inFlight[1].batchJob, "job-1")
        XCTAssertEqual(after.inFlight[1].source, "batch")
        XCTAssertFalse(after.inFlight[1].stale)
        XCTAssertEqual(after.inFlight[1].picosSoFar, 0, "no results yet")
    }

    func testWarningsStartAtTheWarningLevel() {
        let budgets = MonitorBudgets(daily: 1_000, clients: ["ci": 100, "idle": 100], warnAtPermille: 800)
        XCTAssertEqual(MonitorReader.warnings(budgets, today: 799, clients: [:]), [])
        XCTAssertEqual(MonitorReader.warnings(budgets, today: 800, clients: ["ci": 100]), [
            BudgetWarning(budget: "the daily budget", spentPicos: 800, capPicos: 1_000, exhausted: false),
            BudgetWarning(budget: "client ci's daily budget", spentPicos: 100, capPicos: 100, exhausted: true),
        ])
    }

    /// A request streaming from the loopback mock shows its tokens so far while it runs, and
    /// leaves when it ends; the process publishes its provider's breaker too.
    func testARequestInFlightPublishesItsProgress() async throws {
        let server = try MockServer { _ in MockBehavior(tokens: 60, delayPerToken: 0.05) }
        defer { server.stop() }
        let ledger = try Ledger(path: path)
        var catalog = PriceCatalog()
        catalog.add(ModelPrice(key: ModelRef(provider: "openai", model: "gpt-4o-mini"), prices: TokenPrices(input: 1, output: 2)))
        let engine = ConversationEngine(accounting: Accounting(catalog: catalog, ledger: ledger), health: ProviderHealth())
        let turn = PlannedTurn(session: "live", persona: Persona(id: "p", name: "P", systemPrompt: "Be brief."),
                               endpoint: ProviderEndpoint(name: "openai", type: .openai, baseURL: server.baseURL + "/v1", apiKey: "k",
                                                          apiKeyEnv: "OPENAI_API_KEY", keyRequired: true),
                               request: ChatRequest(model: "gpt-4o-mini", system: "Be brief.", messages: [ChatMessage(role: .user, content: "go")]))
        let running = Task { await engine.run(turn) { _ in } }
        var seen: [Int] = []
        var costs: [Int64] = []
        for _ in 0..<40 {
            try await Task.sleep(nanoseconds: 150_000_000)
            guard let request = try MonitorReader(ledger: ledger).snapshot(budgets: MonitorBudgets()).inFlight.first else { continue }
            seen.append(request.outputTokens)
            if let picos = request.picosSoFar { costs.append(picos) }
            if Set(seen.filter { $0 > 0 }).count >= 3 { break }
        }
        await running.value
        XCTAssertGreaterThanOrEqual(seen.count, 3, "seen in flight: \(seen)")
        XCTAssertGreaterThan(seen.last ?? 0, seen.first { $0 > 0 } ?? .max, "the count moves while it streams: \(seen)")
        XCTAssertGreaterThan(costs.last ?? 0, 0)
        XCTAssertEqual(try MonitorReader(ledger: ledger).snapshot(budgets: MonitorBudgets()).inFlight, [], "it leaves when it ends")
        try await Task.sleep(nanoseconds: 700_000_000)
        let status = try MonitorReader(ledger: ledger).snapshot(budgets: MonitorBudgets())
        XCTAssertEqual(status.providers.first?.breaker, "closed")
        XCTAssertEqual(status.today.requests, 1)
    }
}
