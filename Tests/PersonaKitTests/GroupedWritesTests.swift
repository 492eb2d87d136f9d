import Foundation
import GRDB
import Synchronization
import XCTest

@testable import PersonaKit

/// Writes of requests in flight share transactions (group commit) and still keep budgets exact,
/// and a write that fails takes nothing of the others with it.
final class GroupedWritesTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("grouped-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    static func claim(_ picos: Int64) -> ReservationClaim {
        ReservationClaim(session: "s1", persona: "p", provider: "openai", model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 500,
                         picos: picos)
    }

    static func entry(cost: Int64) -> LedgerEntry {
        LedgerEntry(timestamp: Date(), session: "s1", persona: "p", provider: "openai", model: "gpt-4o-mini", inputTokens: 10,
                    outputTokens: 5, costPicos: cost, estimated: false, durationMs: 1, status: .ok)
    }

    /// Counts the transactions that commit.
    final class Commits: TransactionObserver, @unchecked Sendable {
        let count = Mutex(0)
        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { true }
        func databaseDidChange(with event: DatabaseEvent) {}
        func databaseDidCommit(_ db: Database) { count.withLock { $0 += 1 } }
        func databaseDidRollback(_ db: Database) {}
    }

    func testAThousandRequestsReservingAtOnceShareTransactionsAndFillTheCapExactly() async throws {
        let database = try PersonaDatabase(path: directory.appendingPathComponent("persona.db").path)
        let ledger = Ledger(database: database)
        let commits = Commits()
        try await database.pool.write { db in db.add(transactionObserver: commits, extent: .databaseLifetime) }
        let caps = BudgetCaps(session: 3_000)
        let outcomes = await withTaskGroup(of: Reservation?.self) { group in
            for _ in 0..<1000 { group.addTask { try? await ledger.reserve(Self.claim(10), caps: caps) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let reserved = outcomes.compactMap { $0 }
        XCTAssertEqual(reserved.count, 300, "the cap holds exactly 300 reservations of 10")
        XCTAssertEqual(try ledger.entries(limit: 2000).filter { $0.status == .budget }.count, 700, "each refusal is recorded")
        await withTaskGroup(of: Void.self) { group in
            for reservation in reserved { group.addTask { try? await ledger.settle(reservation, as: Self.entry(cost: 7)) } }
        }
        XCTAssertTrue(try ledger.openReservations().isEmpty)
        XCTAssertEqual(try ledger.totals(), CostTotals(picos: 2_100, requests: 1_000, inputTokens: 3_000, outputTokens: 1_500))
        XCTAssertLessThan(commits.count.withLock { $0 }, 1_300, "1,300 writes shared transactions")
    }

    func testAWriteThatFailsTakesNothingOfTheOthersWithIt() async throws {
        let database = try PersonaDatabase(path: directory.appendingPathComponent("persona.db").path)
        let ledger = Ledger(database: database)
        struct Refused: Error {}
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<50 {
                group.addTask {
                    do {
                        try await database.writes.write { db in
                            try db.execute(sql: Ledger.insertSQL, arguments: Ledger.arguments(Self.entry(cost: Int64(index))))
                            if index == 25 { throw Refused() }
                        }
                        return true
                    } catch {
                        return error is Refused
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.filter { $0 }.count, 50, "49 writes committed and one heard its own error")
        let costs = Set(try ledger.entries(limit: 100).compactMap(\.costPicos))
        XCTAssertEqual(costs, Set((0..<50).map(Int64.init)).subtracting([25]))
    }
}
