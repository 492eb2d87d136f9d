import Foundation
import GRDB

/// What a request about to be sent asks the ledger to hold for it.
public struct ReservationClaim: Sendable, Equatable {
    public var session: String
    public var persona: String
    public var provider: String
    public var model: String
    /// The prompt's estimated size, and the most output the request allows.
    public var inputTokens: Int
    public var maxOutputTokens: Int
    /// The request's worst-case cost; nil when its price is unknown.
    public var picos: Int64?
    /// Through the gateway: the client and its request id, kept on a refusal's row.
    public var client: String?
    public var requestID: String?

    public init(session: String, persona: String, provider: String, model: String, inputTokens: Int, maxOutputTokens: Int,
                picos: Int64?, client: String? = nil, requestID: String? = nil) {
        self.client = client
        self.requestID = requestID
        self.session = session
        self.persona = persona
        self.provider = provider
        self.model = model
        self.inputTokens = inputTokens
        self.maxOutputTokens = maxOutputTokens
        self.picos = picos
    }
}

/// A request's hold on the budget while it is in flight.
public struct Reservation: Sendable, Equatable {
    public let id: Int64
    public let picos: Int64?
}

/// The caps a reservation must fit under, in picodollars.
public struct BudgetCaps: Sendable, Equatable {
    public var session: Int64?
    public var daily: Int64?

    public init(session: Int64? = nil, daily: Int64? = nil) {
        self.session = session
        self.daily = daily
    }

    public var isEmpty: Bool { session == nil && daily == nil }
}

/// A request the budget would not let out: it was never sent.
public struct BudgetRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let needed: Int64?
    public let left: Int64
    public let cap: Int64
    public let daily: Bool

    public var description: String {
        let which = daily ? "daily budget (budget.daily_usd)" : "session budget (--budget or budget.session_usd)"
        let cost = needed.map { "could cost up to \(Money.format(picos: $0))" } ?? "has no known price, so it cannot be capped"
        return "this request \(cost) and \(Money.format(picos: left)) of the \(Money.format(picos: cap)) \(which) is left; "
            + "it was not sent"
    }
}

/// A reservation as `persona.db` holds it, for tests and monitors.
public struct OpenReservation: Sendable, Equatable {
    public var id: Int64
    public var session: String
    public var persona: String
    public var provider: String
    public var model: String
    public var picos: Int64?
    public var ownerPID: Int32
    public var created: Date
}

/// Budgets that hold across every process sharing `persona.db` (DESIGN.md §5): each request
/// reserves its worst case in a `BEGIN IMMEDIATE` transaction, which SQLite runs one at a time
/// across processes, against what the ledger and every open reservation already hold. When the
/// request ends, one transaction swaps its reservation for its ledger row.
extension Ledger {
    /// A reservation older than this is taken for abandoned even if its process lives on.
    public static let reservationLifetime: TimeInterval = 6 * 3600

    /// How long a batch job's reservation may stand: a provider's batch window is a day, and a
    /// job of several rounds runs several windows.
    public static let batchReservationLifetime: TimeInterval = 30 * 24 * 3600

    /// Reserves `claim` if it fits under `caps`, first releasing reservations whose process is
    /// gone. Throws `BudgetRefusal` (after recording a `budget` row) or `LedgerError`.
    ///
    /// With `batchJob`, the reservation belongs to that job rather than to this process, so that it
    /// outlives it; `alongside` then writes the job's records in the same transaction, given the
    /// reservation's id, so that a job exists exactly when its reservation does.
    public func reserve(_ claim: ReservationClaim, caps: BudgetCaps, now: Date = Date(), calendar: Calendar = .current,
                        batchJob: String? = nil, alongside: ((Database, Int64) throws -> Void)? = nil) throws -> Reservation
    {
        let outcome = try database.guarded {
            try pool.writeWithoutTransaction { db in
                var outcome: ReserveOutcome?
                try db.inTransaction(.immediate) {
                    outcome = try reserve(claim, caps: caps, now: now, calendar: calendar, batchJob: batchJob, alongside: alongside, in: db)
                    return .commit
                }
                return outcome!
            }
        }
        return try outcome.reservation()
    }

    /// `reserve` for a request about to be sent: its transaction is shared with the other
    /// requests of this process reserving or settling at the same moment (`GroupedWrites`).
    public func reserve(_ claim: ReservationClaim, caps: BudgetCaps) async throws -> Reservation {
        let now = Date()
        let outcome = try await database.guarded {
            try await database.writes.write { db in try self.reserve(claim, caps: caps, now: now, calendar: .current, in: db) }
        }
        return try outcome.reservation()
    }

    enum ReserveOutcome: Sendable {
        case reserved(Reservation)
        /// Its `budget` row is written; the transaction commits, and nothing is sent.
        case refused(BudgetRefusal)

        func reservation() throws -> Reservation {
            switch self {
            case .reserved(let reservation): return reservation
            case .refused(let refusal): throw refusal
            }
        }
    }

    private func reserve(_ claim: ReservationClaim, caps: BudgetCaps, now: Date, calendar: Calendar, batchJob: String? = nil,
                         alongside: ((Database, Int64) throws -> Void)? = nil, in db: Database) throws -> ReserveOutcome {
        if reclaimDue(now: now) { try reclaim(db, now: now) }
        var refusal: BudgetRefusal?
        if let cap = caps.daily {
            refusal = Self.refusal(claim, left: try left(under: cap, daily: true, session: claim.session, now: now, calendar: calendar, in: db),
                                   cap: cap, daily: true)
        }
        if refusal == nil, let cap = caps.session {
            refusal = Self.refusal(claim, left: try left(under: cap, daily: false, session: claim.session, now: now, calendar: calendar, in: db),
                                   cap: cap, daily: false)
        }
        if let refusal {
            try db.cachedStatement(sql: Self.insertSQL).execute(arguments: Self.arguments(Self.refusedEntry(claim, at: now)))
            return .refused(refusal)
        }
        try db.cachedStatement(sql: """
            INSERT INTO reservations (created_ms, deadline_ms, owner_pid, owner_start, session, persona, provider, model,
                input_tokens, max_output_tokens, amount_picos, source, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [Self.milliseconds(now),
                                     Self.milliseconds(now.addingTimeInterval(batchJob == nil ? Self.reservationLifetime
                                                                                  : Self.batchReservationLifetime)),
                                     batchJob == nil ? ProcessIdentity.current.pid : 0,
                                     batchJob.map { Self.batchOwner($0) } ?? ProcessIdentity.current.start, claim.session,
                                     claim.persona, claim.provider, claim.model, claim.inputTokens, claim.maxOutputTokens, claim.picos,
                                     batchJob == nil ? ProcessRole.current : "batch", claim.client])
        let id = db.lastInsertedRowID
        try alongside?(db, id)
        return .reserved(Reservation(id: id, picos: claim.picos))
    }

    /// Swaps the reservation for the request's row, sharing its transaction as `reserve` does.
    /// Should the reservation have been reclaimed meanwhile (its deadline passed), the row that
    /// reclaiming wrote is corrected instead.
    public func settle(_ reservation: Reservation, as entry: LedgerEntry) async throws {
        try await database.guarded { try await database.writes.write { db in try Self.settle(reservation, as: entry, in: db) } }
    }

    private static func settle(_ reservation: Reservation, as entry: LedgerEntry, in db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM reservations WHERE id = ?").execute(arguments: [reservation.id])
        if db.changesCount == 0 {
            try db.cachedStatement(sql: "DELETE FROM requests WHERE reservation_id = ?").execute(arguments: [reservation.id])
        }
        try db.cachedStatement(sql: insertSQL).execute(arguments: arguments(entry, reservation: reservation.id))
    }

    /// Releases the reservations of processes that are gone, each as an `interrupted` row priced
    /// at its worst case (marked estimated): nobody knows what the provider billed, and less
    /// could let a budget overshoot. Returns how many.
    @discardableResult
    public func reclaimAbandoned(now: Date = Date()) throws -> Int {
        try database.guarded {
            try pool.writeWithoutTransaction { db in
                var count = 0
                try db.inTransaction(.immediate) {
                    count = try reclaim(db, now: now)
                    return .commit
                }
                return count
            }
        }
    }

    public func openReservations() throws -> [OpenReservation] {
        try database.guarded {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM reservations ORDER BY id").map { row in
                    OpenReservation(id: row["id"], session: row["session"], persona: row["persona"], provider: row["provider"],
                                    model: row["model"], picos: row["amount_picos"], ownerPID: row["owner_pid"],
                                    created: Date(timeIntervalSince1970: Double(row["created_ms"] as Int64) / 1000))
                }
            }
        }
    }

    /// What is left under `caps` for a request of `session` (the smaller of the daily and the
    /// session cap, less what the ledger and the open reservations hold); nil without a cap.
    public func available(caps: BudgetCaps, session: String, now: Date = Date(), calendar: Calendar = .current) throws -> Int64? {
        try database.guarded {
            try pool.read { db in
                let daily = try caps.daily.map { try left(under: $0, daily: true, session: session, now: now, calendar: calendar, in: db) }
                let sessionLeft = try caps.session.map { try left(under: $0, daily: false, session: session, now: now, calendar: calendar, in: db) }
                return [daily, sessionLeft].compactMap { $0 }.min()
            }
        }
    }

    /// Whether a reservation should first release those of processes that are gone: the first
    /// time, then at most once a second. Releasing one turns it into a row of the same amount,
    /// so a budget's sums are the same either way, and with a thousand requests in flight the
    /// search for them would cost more than the requests' tokens.
    private func reclaimDue(now: Date) -> Bool {
        lastReclaim.withLock { last in
            guard last.map({ now.timeIntervalSince($0) >= 1 || now < $0 }) ?? true else { return false }
            last = now
            return true
        }
    }

    /// The owner a batch job's reservation records in place of a process.
    static func batchOwner(_ job: String) -> String { "batch:" + job }

    /// A batch job's reservation is released by the job (as its results are settled, or when it
    /// ends), never by reclaiming: the job outlives the process that submitted it.
    @discardableResult
    private func reclaim(_ db: Database, now: Date) throws -> Int {
        // This process's own reservations are alive by definition; leaving them out keeps a
        // reservation cheap while a thousand of its requests are in flight.
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT * FROM reservations
            WHERE owner_start NOT LIKE 'batch:%' AND NOT (owner_pid = ? AND owner_start = ? AND deadline_ms >= ?)
            """), arguments: [ProcessIdentity.current.pid, ProcessIdentity.current.start, Self.milliseconds(now)])
        var count = 0
        for row in rows {
            let deadline: Int64 = row["deadline_ms"]
            guard deadline < Self.milliseconds(now) || !ProcessIdentity.isRunning(pid: row["owner_pid"], start: row["owner_start"])
            else { continue }
            let entry = LedgerEntry(
                timestamp: Date(timeIntervalSince1970: Double(row["created_ms"] as Int64) / 1000), session: row["session"],
                persona: row["persona"], provider: row["provider"], model: row["model"], inputTokens: row["input_tokens"],
                outputTokens: row["max_output_tokens"], costPicos: row["amount_picos"], estimated: true,
                usageNote: "the process ended before this request was recorded; priced at its reserved worst case",
                durationMs: 0, status: .interrupted, errorKind: "interrupted")
            let id: Int64 = row["id"]
            try db.execute(sql: Self.insertSQL, arguments: Self.arguments(entry, reservation: id))
            try db.execute(sql: "DELETE FROM reservations WHERE id = ?", arguments: [id])
            count += 1
        }
        return count
    }

    /// What the ledger rows and the open reservations matching the conditions hold together.
    private func committed(_ db: Database, ledgerWhere: String, _ ledgerArguments: [any DatabaseValueConvertible],
                           reservationsWhere: String, _ reservationArguments: [any DatabaseValueConvertible]) throws -> Int64 {
        let spent = try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(SUM(cost_picos), 0) FROM requests WHERE \(ledgerWhere)"),
                                       arguments: StatementArguments(ledgerArguments)) ?? 0
        let held = try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(SUM(amount_picos), 0) FROM reservations WHERE \(reservationsWhere)"),
                                      arguments: StatementArguments(reservationArguments)) ?? 0
        return Money.sum(spent, held) ?? .max
    }

    /// What is left under `cap`: the daily cap against what today holds, else the session cap
    /// against what `session` holds, in the ledger and the open reservations.
    private func left(under cap: Int64, daily: Bool, session: String, now: Date, calendar: Calendar, in db: Database) throws -> Int64 {
        let spent: Int64
        if daily {
            let day = Period.day(of: now, calendar: calendar)
            spent = try committed(db, ledgerWhere: "timestamp_ms >= ? AND timestamp_ms < ?",
                                  [Self.milliseconds(day.start!), Self.milliseconds(day.end!)], reservationsWhere: "1", [])
        } else {
            spent = try committed(db, ledgerWhere: "session = ?", [session], reservationsWhere: "session = ?", [session])
        }
        return max(0, cap - min(spent, cap))
    }

    private static func refusal(_ claim: ReservationClaim, left: Int64, cap: Int64, daily: Bool) -> BudgetRefusal? {
        guard let needed = claim.picos else { return BudgetRefusal(needed: nil, left: left, cap: cap, daily: daily) }
        return needed > left ? BudgetRefusal(needed: needed, left: left, cap: cap, daily: daily) : nil
    }

    private static func refusedEntry(_ claim: ReservationClaim, at now: Date) -> LedgerEntry {
        LedgerEntry(timestamp: now, session: claim.session, persona: claim.persona, provider: claim.provider, model: claim.model,
                    inputTokens: 0, outputTokens: 0, costPicos: 0, estimated: false, durationMs: 0, status: .budget,
                    errorKind: "budget", client: claim.client, requestID: claim.requestID)
    }
}
