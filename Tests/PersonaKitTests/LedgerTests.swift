import Foundation
import GRDB
import XCTest

@testable import PersonaKit

/// The ledger's rows, sums and migration, and the reservations that hold budgets across processes.
final class LedgerTests: XCTestCase {
    var directory: URL!
    var path: String { directory.appendingPathComponent("persona.db").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func entry(_ provider: String = "openai", _ model: String = "gpt-4o", cost: Int64?, session: String = "s1", at date: Date = Date(),
               input: Int = 10, output: Int = 5, estimated: Bool = false) -> LedgerEntry {
        LedgerEntry(timestamp: date, session: session, persona: "skeptic", provider: provider, model: model, inputTokens: input,
                    outputTokens: output, costPicos: cost, estimated: estimated, durationMs: 100, status: .ok)
    }

    func testTotalsBreakdownsEntriesAndUnpricedModels() throws {
        let ledger = try Ledger(path: path)
        try ledger.record(entry(cost: 7_000_000_001))
        try ledger.record(entry("anthropic", "claude-sonnet-4-6", cost: 9_975_000_000))
        try ledger.record(entry("anthropic", "claude-sonnet-4-6", cost: 25))
        try ledger.record(entry("openrouter", "mystery", cost: nil))
        XCTAssertEqual(try ledger.totals(), CostTotals(picos: 16_975_000_026, requests: 4, inputTokens: 40, outputTokens: 20, unpriced: 1))
        let byProvider = try ledger.breakdown(byModel: false)
        XCTAssertEqual(byProvider.map(\.key), ["anthropic", "openai", "openrouter"])
        XCTAssertEqual(byProvider.map(\.totals.picos), [9_975_000_025, 7_000_000_001, 0])
        XCTAssertEqual(try ledger.entries(limit: 2).map(\.costPicos), [nil, 25])
        XCTAssertEqual(try ledger.unpricedModels().map(\.model), [ModelRef(provider: "openrouter", model: "mystery")])
        XCTAssertEqual(try ledger.totals(sessions: ["s1", "none"]).keys.sorted(), ["s1"])
    }

    func testPeriodsAndDays() throws {
        let ledger = try Ledger(path: path)
        let now = Date()
        let yesterday = Calendar.current.date(byAdding: .day, value: -1, to: now)!
        try ledger.record(batch: [entry(cost: 100, at: yesterday), entry(cost: 50, at: now, estimated: true)])
        XCTAssertEqual(try ledger.totals(in: .day(of: now)).picos, 50)
        XCTAssertEqual(try ledger.totals(in: Ledger.Period(end: Calendar.current.startOfDay(for: now))).picos, 100)
        let days = try ledger.daily(days: 3, now: now)
        XCTAssertEqual(days.map(\.totals.picos), [0, 100, 50])
        XCTAssertEqual(days.map(\.totals.estimated), [0, 0, 1])
    }

    /// Sums are exact far past where a float would round, and a sum past Int64 is an error, not a
    /// crash or a wrong figure.
    func testSumsStayExactAndOverflowIsAnError() throws {
        let ledger = try Ledger(path: path)
        try ledger.record(batch: (0..<90).map { _ in entry(cost: Money.requestCeiling - 1) })
        XCTAssertEqual(try ledger.totals().picos, 90 * (Money.requestCeiling - 1))
        try ledger.record(batch: (0..<10).map { _ in entry(cost: Money.requestCeiling) })
        XCTAssertThrowsError(try ledger.totals()) { error in XCTAssertTrue(error is LedgerError, "\(error)") }
        XCTAssertThrowsError(try ledger.summary())
    }

    func testAddingTotalsPastInt64IsRefusedNotTrapped() {
        var totals = CostTotals(picos: 5, inputTokens: Int.max)
        XCTAssertFalse(totals.add(CostTotals(picos: 1, inputTokens: 1)))
        XCTAssertEqual(totals, CostTotals(picos: 5, inputTokens: Int.max), "left as it was")
        XCTAssertTrue(totals.add(CostTotals(picos: 1, requests: 1)))
        XCTAssertEqual(totals.picos, 6)
    }

    func testRowsSurviveReopening() throws {
        try Ledger(path: path).record(entry(cost: 1))
        XCTAssertEqual(try Ledger(path: path).totals().requests, 1)
    }

    // MARK: Migration

    /// A ledger written before costs were exact: micro-dollars, and rows of impossible usage.
    func testAnOldLedgerMovesToPicodollarsAndLosesItsImpossibleRows() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let old = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        for (name, sql) in OldSchema.migrations { migrator.registerMigration(name) { try $0.execute(sql: sql) } }
        try migrator.migrate(old)
        try old.write { db in
            let insert = """
                INSERT INTO requests (timestamp_ms, session, persona, provider, model, input_tokens, cached_input_tokens,
                    cache_write_tokens, output_tokens, reasoning_tokens, cost_micros, estimated, duration_ms, status)
                VALUES (?, 's', 'p', 'openai', 'gpt-4o-mini', ?, 0, 0, ?, 0, ?, 0, 10, 'ok')
                """
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try db.execute(sql: insert, arguments: [now, 1011, 750, 602])
            try db.execute(sql: insert, arguments: [now, 10, -1_000_000_000, -599_999_999])
            try db.execute(sql: insert, arguments: [now, Int64.max / 2, 5, Int64.max / 4])
            try db.execute(sql: """
                INSERT INTO sessions (id, created_ms, mode, topic, roster) VALUES ('s', 0, 'parallel', 't', '[]');
                INSERT INTO messages (session, round, speaker, name, role, text, status, cost_micros, created_ms)
                    VALUES ('s', 1, 'p', 'P', 'persona', 'hi', 'complete', 602, 0);
                """)
        }
        try old.close()

        let ledger = try Ledger(path: path)
        let rows = try ledger.entries(limit: 10).reversed().map { $0 }
        XCTAssertEqual(rows.map(\.costPicos), [602_000_000, nil, nil])
        XCTAssertEqual(rows.map(\.estimated), [false, true, true])
        XCTAssertEqual(rows[1].outputTokens, 0)
        XCTAssertEqual(rows[2].inputTokens, 0)
        XCTAssertNotNil(rows[1].usageNote)
        XCTAssertEqual(try ledger.totals(), CostTotals(picos: 602_000_000, requests: 3, inputTokens: 1021, outputTokens: 755, unpriced: 2,
                                                       estimated: 2))
        let store = SessionStore(database: try PersonaDatabase(path: path))
        XCTAssertEqual(try store.load("s")?.messages.first?.costPicos, 602_000_000)
        XCTAssertEqual(try store.search("hi").map(\.session), ["s"], "messages saved before the search index are indexed")
    }

    // MARK: Reservations

    func claim(_ picos: Int64?, session: String = "s1") -> ReservationClaim {
        ReservationClaim(session: session, persona: "p", provider: "openai", model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 500,
                         picos: picos)
    }

    func testAReservationThatDoesNotFitIsRefusedAndRecorded() async throws {
        let ledger = try Ledger(path: path)
        let caps = BudgetCaps(daily: 1_000)
        func refusal(_ picos: Int64) async -> BudgetRefusal? {
            do {
                _ = try await ledger.reserve(claim(picos), caps: caps)
                return nil
            } catch {
                return error as? BudgetRefusal
            }
        }
        let first = try await ledger.reserve(claim(600), caps: caps)
        let refused = await refusal(500)
        XCTAssertEqual(refused?.needed, 500)
        XCTAssertEqual(refused?.left, 400)
        XCTAssertEqual(refused?.daily, true)
        XCTAssertEqual(try ledger.entries(limit: 5).map(\.status), [.budget])
        try await ledger.settle(first, as: entry(cost: 120))
        XCTAssertEqual(try ledger.openReservations(), [])
        _ = try await ledger.reserve(claim(880), caps: caps)
        let over = await refusal(1)
        XCTAssertNotNil(over, "120 spent and 880 held fill the cap exactly")
    }

    /// A session's cap counts what the session spent before, in this process or an earlier one.
    func testASessionCapCountsEverythingTheSessionSpent() throws {
        let ledger = try Ledger(path: path)
        try ledger.record(entry(cost: 7_400_000_000, session: "resumed"))
        try ledger.record(entry(cost: 1_000_000_000, session: "other"))
        let caps = BudgetCaps(session: 5_000_000_000)
        XCTAssertThrowsError(try ledger.reserve(claim(1, session: "resumed"), caps: caps)) { error in
            XCTAssertEqual((error as? BudgetRefusal)?.left, 0)
        }
        XCTAssertNoThrow(try ledger.reserve(claim(4_000_000_000, session: "other"), caps: caps))
    }

    func testAnUnpricedRequestCannotBeCapped() throws {
        let ledger = try Ledger(path: path)
        XCTAssertThrowsError(try ledger.reserve(claim(nil), caps: BudgetCaps(session: 1_000_000))) { error in
            XCTAssertNil((error as? BudgetRefusal)?.needed)
        }
        XCTAssertNoThrow(try ledger.reserve(claim(nil), caps: BudgetCaps()), "without a cap it is only held")
    }

    /// Many tasks reserving at once never hold more than the cap between them.
    func testConcurrentReservationsStayUnderTheCap() async throws {
        let ledger = try Ledger(path: path)
        let caps = BudgetCaps(daily: 10_000)
        let request = claim(700)
        let granted = await withTaskGroup(of: Int64.self) { group in
            for _ in 0..<40 {
                group.addTask { (try? ledger.reserve(request, caps: caps)).map { $0.picos ?? 0 } ?? 0 }
            }
            return await group.reduce(0, +)
        }
        XCTAssertEqual(granted, 9_800, "14 of 700 fit in 10,000")
        XCTAssertEqual(try ledger.openReservations().count, 14)
        XCTAssertEqual(try ledger.entries(limit: 100).filter { $0.status == .budget }.count, 26)
    }

    /// A reservation whose process is gone is released as an interrupted row at its worst case.
    func testAReservationOfADeadProcessIsReclaimed() async throws {
        let ledger = try Ledger(path: path)
        let reservation = try await ledger.reserve(claim(5_000), caps: BudgetCaps())
        let dead = try Self.pidOfAFinishedProcess()
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE reservations SET owner_pid = ?, owner_start = 'gone' WHERE id = ?", arguments: [dead, reservation.id])
        }
        XCTAssertEqual(try ledger.reclaimAbandoned(), 1)
        XCTAssertEqual(try ledger.openReservations(), [])
        let row = try XCTUnwrap(try ledger.entries(limit: 1).first)
        XCTAssertEqual(row.status, .interrupted)
        XCTAssertEqual(row.costPicos, 5_000)
        XCTAssertTrue(row.estimated)
        XCTAssertEqual(row.outputTokens, 500)
        // Should its owner settle after all, the actual row replaces the interrupted one.
        try await ledger.settle(reservation, as: entry(cost: 1_234))
        XCTAssertEqual(try ledger.totals(), CostTotals(picos: 1_234, requests: 1, inputTokens: 10, outputTokens: 5))
    }

    func testAReservationPastItsDeadlineIsReclaimedEvenIfItsOwnerLives() throws {
        let ledger = try Ledger(path: path)
        _ = try ledger.reserve(claim(77), caps: BudgetCaps(), now: Date().addingTimeInterval(-Ledger.reservationLifetime - 1))
        XCTAssertEqual(try ledger.reclaimAbandoned(), 1)
        XCTAssertEqual(try ledger.totals().picos, 77)
    }

    static func pidOfAFinishedProcess() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}

/// The schema as it stood before picodollars, to test the migration from it.
private enum OldSchema {
    static let migrations: [(String, String)] = [
        ("ledger-v1", """
            CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp_ms INTEGER NOT NULL, session TEXT NOT NULL,
                persona TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, input_tokens INTEGER NOT NULL,
                cached_input_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
                reasoning_tokens INTEGER NOT NULL, cost_micros INTEGER, estimated INTEGER NOT NULL, ttft_ms INTEGER,
                duration_ms INTEGER NOT NULL, status TEXT NOT NULL, http_status INTEGER, error_kind TEXT);
            CREATE INDEX requests_time ON requests(timestamp_ms);
            CREATE INDEX requests_session ON requests(session);
            """),
        ("ledger-v2-summary-index", """
            CREATE INDEX requests_summary ON requests(provider, model, timestamp_ms, cost_micros, input_tokens, output_tokens)
            """),
        ("sessions-v1", """
            CREATE TABLE sessions (id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, mode TEXT NOT NULL, topic TEXT NOT NULL,
                roster TEXT NOT NULL, rounds INTEGER, judge TEXT);
            CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                round INTEGER NOT NULL, speaker TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL, provider TEXT, model TEXT,
                text TEXT NOT NULL, status TEXT NOT NULL, error TEXT, input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0, cost_micros INTEGER, estimated INTEGER NOT NULL DEFAULT 0,
                dropped_turns INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);
            CREATE INDEX messages_session ON messages(session, id);
            """),
        ("ledger-v3-summary-index-estimated", """
            DROP INDEX requests_summary;
            CREATE INDEX requests_summary ON requests(provider, model, timestamp_ms, cost_micros, input_tokens, output_tokens, estimated)
            """),
    ]
}
