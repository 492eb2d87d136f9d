import Foundation
import Synchronization

/// The session and daily caps in force. `/reload` may change them while requests run; the
/// ledger checks each reservation against them (`Ledger.reserve`).
public final class BudgetGuard: Sendable {
    private let current: Mutex<BudgetCaps>

    public init(caps: BudgetCaps = BudgetCaps()) {
        current = Mutex(caps)
    }

    public var caps: BudgetCaps {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }

    /// The output cap sent when a budget applies and neither persona nor command set one.
    public static let defaultMaxTokens = 4096

    /// The most a request can cost and still have its usage believed (`UsageCheck`): the largest
    /// prompt it could be, at the dearest of its input and cache-write prices, and the most
    /// output it allows. A reservation of this much keeps a cap exact.
    public static func worstCasePicos(_ request: ChatRequest, price: ModelPrice, type: ProviderType) -> Int64? {
        let prompt = UsageCheck.promptLimit(request, price: price)
        guard let output = UsageCheck.outputLimit(request, price: price, type: type) else { return nil }
        let band = price.band(forPrompt: prompt)
        let inputPrice = max(band.input, band.resolvedCacheWrite, band.resolvedCacheWrite1h)
        let (input, inputOverflow) = Int64(prompt).multipliedReportingOverflow(by: inputPrice)
        let (answer, answerOverflow) = Int64(output).multipliedReportingOverflow(by: band.output)
        guard !inputOverflow, !answerOverflow else { return nil }
        return Money.sum(input, answer)
    }
}

/// What the engine needs to price, cap and record every request: the catalog, the caps, and
/// the ledger that holds reservations and rows. Without a ledger nothing is capped or recorded.
public final class Accounting: Sendable {
    public let catalog: PriceCatalog
    public let budget: BudgetGuard
    public let ledger: Ledger?
    /// Told, once, when the ledger cannot be written, so that the failure is never silent.
    private let onLedgerFailure: @Sendable (String) -> Void
    private let broken = LockedMessage()

    public init(catalog: PriceCatalog, budget: BudgetGuard = BudgetGuard(), ledger: Ledger? = nil,
                onLedgerFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        self.catalog = catalog
        self.budget = budget
        self.ledger = ledger
        self.onLedgerFailure = onLedgerFailure
    }

    /// Why the ledger stopped taking rows; once set, no further request is sent.
    public var ledgerFailure: String? { broken.value }

    /// A failing ledger write is tried again, with growing waits, until this many seconds have
    /// passed; then Persona stops sending. A try waits up to 5 s for another process's lock.
    static let retrySeconds = 1.5

    /// Reserves a request's worst case before it is sent. Throws `BudgetRefusal` when it does not
    /// fit, and `LedgerError` when the ledger cannot record it; either way nothing may be sent.
    public func reserve(_ claim: ReservationClaim) async throws -> Reservation? {
        guard let ledger else { return nil }
        let caps = budget.caps
        return try await writing { try await ledger.reserve(claim, caps: caps) }
    }

    /// Replaces a reservation with the request's row.
    public func settle(_ reservation: Reservation?, as entry: LedgerEntry) async throws {
        guard let ledger else { return }
        try await writing {
            if let reservation { try await ledger.settle(reservation, as: entry) } else { try ledger.record(entry) }
        }
    }

    private func writing<T>(_ body: () async throws -> T) async throws -> T {
        if let failure = broken.value { throw LedgerError(path: ledger?.path ?? "", reason: failure) }
        let start = Date()
        var wait = 0.05
        while true {
            do {
                return try await body()
            } catch let refusal as BudgetRefusal {
                throw refusal
            } catch let error as LedgerError {
                guard Date().timeIntervalSince(start) + wait < Self.retrySeconds else {
                    if broken.setIfEmpty(error.reason) { onLedgerFailure(error.description + "; Persona sends no further request") }
                    throw error
                }
                try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                wait *= 2
            }
        }
    }
}

/// A message set at most once, read from any thread.
private final class LockedMessage: Sendable {
    private let stored = Mutex<String?>(nil)

    var value: String? { stored.withLock { $0 } }

    /// Sets the message unless one is set; true when this call set it.
    func setIfEmpty(_ message: String) -> Bool {
        stored.withLock { stored in
            guard stored == nil else { return false }
            stored = message
            return true
        }
    }
}
