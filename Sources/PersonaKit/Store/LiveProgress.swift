import Foundation
import GRDB
import Synchronization

/// How far one request in flight has got: what it has streamed so far, kept as the stream
/// delivers it, and read by `LiveProgress` when it publishes.
public final class RequestProgress: Sendable {
    struct Counts {
        /// Quarter-tokens of the text streamed so far (`TokenEstimator.quarters`).
        var quarters = 0
        /// The provider's own counts, once it has sent some.
        var reported = Usage()
        var changed = false
    }

    let reservation: Int64
    let price: ModelPrice?
    let type: ProviderType
    let inputEstimate: Int
    let counts = Mutex(Counts())

    init(reservation: Int64, price: ModelPrice?, type: ProviderType, inputEstimate: Int) {
        self.reservation = reservation
        self.price = price
        self.type = type
        self.inputEstimate = inputEstimate
    }

    public func streamed(_ text: String) {
        let quarters = TokenEstimator.quarters(text)
        counts.withLock {
            $0.quarters += quarters
            $0.changed = true
        }
    }

    public func reported(_ usage: Usage) {
        counts.withLock {
            $0.reported = $0.reported.merged(with: usage)
            $0.changed = true
        }
    }

    /// The output so far, whether it is the provider's count, and what it has cost so far: the
    /// input and that output at the model's prices. Nil when nothing changed since last asked.
    func takeChange() -> (output: Int, exact: Bool, picos: Int64?)? {
        guard let counts = counts.withLock({ counts -> Counts? in
            guard counts.changed else { return nil }
            counts.changed = false
            return counts
        }) else { return nil }
        // A count sent as a stream starts (Anthropic's first event says 1) is not yet the output's.
        let estimate = TokenEstimator.tokens(fromQuarters: counts.quarters)
        let reported = counts.reported.outputTokens.flatMap { $0 >= estimate ? $0 : nil }
        let (output, exact) = (reported ?? estimate, reported != nil)
        let usage = counts.reported.merged(with: Usage(inputTokens: counts.reported.inputTokens ?? inputEstimate, outputTokens: output))
        return (output, exact, price.flatMap { CostCalculator.picos(usage, price: $0, type: type) })
    }
}

/// Publishes this process's requests in flight and its providers' health into `persona.db`,
/// where `persona monitor` reads them: twice a second while requests are in flight, in one
/// grouped write, and once more when the last has ended. Progress is not money: a write that
/// fails is left for the next one, and nothing waits for it.
public final class LiveProgress: Sendable {
    static let interval: TimeInterval = 0.5

    private struct State {
        var requests: [Int64: RequestProgress] = [:]
        var publishing = false
        var health: ProviderHealth?
    }

    private let database: PersonaDatabase
    private let state = Mutex(State())

    init(database: PersonaDatabase) {
        self.database = database
    }

    /// The provider health whose breakers and limits are published beside the requests.
    public func watch(_ health: ProviderHealth) {
        state.withLock { $0.health = health }
    }

    /// Starts following the request that holds `reservation`.
    public func begin(_ reservation: Reservation, price: ModelPrice?, type: ProviderType, inputEstimate: Int) -> RequestProgress {
        let progress = RequestProgress(reservation: reservation.id, price: price, type: type, inputEstimate: inputEstimate)
        let start = state.withLock { state in
            state.requests[reservation.id] = progress
            defer { state.publishing = true }
            return !state.publishing
        }
        if start { Task.detached { await self.publish() } }
        return progress
    }

    public func end(_ progress: RequestProgress) {
        _ = state.withLock { $0.requests.removeValue(forKey: progress.reservation) }
    }

    private func publish() async {
        while true {
            try? await Task.sleep(nanoseconds: UInt64(Self.interval * 1e9))
            let (requests, health) = state.withLock { ($0.requests.values.map { $0 }, $0.health) }
            let changes = requests.compactMap { progress in progress.takeChange().map { (progress.reservation, $0) } }
            let providers = await health?.status() ?? []
            let now = Ledger.milliseconds(Date())
            _ = try? await database.writes.write { db in
                for (id, change) in changes {
                    try db.cachedStatement(sql: "UPDATE reservations SET output_so_far = ?, output_exact = ?, picos_so_far = ? WHERE id = ?")
                        .execute(arguments: [change.output, change.exact, change.picos, id])
                }
                for status in providers { try Self.record(status, at: now, in: db) }
                // What ended processes published a day ago is of no use to anyone.
                try db.cachedStatement(sql: "DELETE FROM provider_status WHERE updated_ms < ?").execute(arguments: [now - 86_400_000])
            }
            let done = state.withLock { state in
                if state.requests.isEmpty { state.publishing = false }
                return !state.publishing
            }
            if done { return }
        }
    }

    private static func record(_ status: ProviderStatus, at now: Int64, in db: Database) throws {
        let headers = status.lastRateHeaders
        func header(_ names: String...) -> Int? { names.lazy.compactMap { headers[$0].flatMap { Int($0) } }.first }
        let configuredRequests = status.limit?.requests.map { max(0, $0 - status.requestsInWindow) }
        let configuredTokens = status.limit?.tokens.map { max(0, $0 - status.tokensInWindow) }
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO provider_status (provider, owner_pid, owner_start, updated_ms, breaker, consecutive_failures,
                blocked_until_ms, remaining_requests, remaining_tokens, limit_requests, limit_tokens)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                status.provider, ProcessIdentity.current.pid, ProcessIdentity.current.start, now, status.breaker.rawValue,
                status.consecutiveFailures, status.blockedUntil.map(Ledger.milliseconds),
                header("x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining") ?? configuredRequests,
                header("x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining") ?? configuredTokens,
                header("x-ratelimit-limit-requests", "anthropic-ratelimit-requests-limit") ?? status.limit?.requests,
                header("x-ratelimit-limit-tokens", "anthropic-ratelimit-tokens-limit") ?? status.limit?.tokens,
            ])
    }
}
