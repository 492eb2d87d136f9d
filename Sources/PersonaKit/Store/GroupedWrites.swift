import Foundation
import GRDB
import Synchronization

/// Group commit: writes that many tasks ask for at once share one transaction. A thousand
/// requests in flight each reserve and settle in the ledger; one `BEGIN IMMEDIATE` and one
/// commit apiece would cost more CPU than their tokens. A caller hears back only after the
/// transaction that holds its write has committed. Should one write throw, the group is rolled
/// back and each write runs again in a transaction of its own, so that the failure is its alone.
/// (A savepoint per write would do the same, at a cost for every write; a write rarely fails.)
/// Messages the writes added are indexed for search as the transaction ends (`MessageSearchIndex`).
///
/// The transactions run on the database's own writer queue, so no task's thread blocks on
/// SQLite or on another process's lock.
final class GroupedWrites: Sendable {
    private let pool: DatabasePool
    private struct Queue {
        var writes: [any QueuedWrite] = []
        var scheduled = false
    }
    private let queue = Mutex(Queue())

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Runs `body` in a transaction shared with the writes queued beside it, and returns its
    /// result once that transaction has committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let schedule = queue.withLock { queue in
                queue.writes.append(Write(body: body, continuation: continuation))
                defer { queue.scheduled = true }
                return !queue.scheduled
            }
            if schedule { pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
        }
    }

    /// Commits what is queued, one transaction at a time, until nothing is left.
    private func drain(_ db: Database) {
        while true {
            let writes = queue.withLock { queue in
                defer { queue.writes.removeAll() }
                if queue.writes.isEmpty { queue.scheduled = false }
                return queue.writes
            }
            if writes.isEmpty { return }
            var aWriteFailed = false
            do {
                try db.inTransaction(.immediate) {
                    for write in writes {
                        do { try write.run(db) } catch {
                            aWriteFailed = true
                            throw error
                        }
                    }
                    try MessageSearchIndex.indexQueued(in: db)
                    return .commit
                }
                for write in writes { write.reply() }
            } catch where aWriteFailed {
                for write in writes { runAlone(write, db) }
            } catch {
                // The transaction could not begin or commit (a lock held too long, a full disk):
                // every write hears so, and may try again.
                for write in writes { write.fail(error) }
            }
        }
    }

    private func runAlone(_ write: any QueuedWrite, _ db: Database) {
        do {
            try db.inTransaction(.immediate) {
                try write.run(db)
                try MessageSearchIndex.indexQueued(in: db)
                return .commit
            }
            write.reply()
        } catch {
            write.fail(error)
        }
    }
}

private protocol QueuedWrite: Sendable {
    /// Runs the write, keeping its result.
    func run(_ db: Database) throws
    /// Tells the caller its result, once the transaction has committed.
    func reply()
    func fail(_ error: any Error)
}

/// One caller's write. Its result is set and read only on the writer queue, in order.
private final class Write<T: Sendable>: QueuedWrite, @unchecked Sendable {
    let body: @Sendable (Database) throws -> T
    let continuation: CheckedContinuation<T, any Error>
    var result: T?

    init(body: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.body = body
        self.continuation = continuation
    }

    func run(_ db: Database) throws {
        result = try body(db)
    }

    func reply() {
        guard let result else { return fail(DatabaseError(resultCode: .SQLITE_MISUSE, message: "a grouped write replied before it ran")) }
        continuation.resume(returning: result)
    }

    func fail(_ error: any Error) {
        continuation.resume(throwing: error)
    }
}
