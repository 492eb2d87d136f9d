import Foundation

/// Keeps spending under the session and daily caps, even with many turns in flight.
///
/// Before a request is sent it must reserve its worst-case cost; a reservation that does not fit
/// in what is left is refused and the request is never sent. When the turn ends the reservation
/// is settled to the actual cost. Reservations are upper bounds, so the caps hold exactly.
public actor BudgetGuard {
    public struct Reservation: Sendable, Equatable {
        public let micros: Int64
        fileprivate let id: Int
    }

    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let needed: Int64
        public let left: Int64
        public let cap: Int64
        public let daily: Bool

        public var description: String {
            let which = daily ? "daily budget (budget.daily_usd)" : "session budget (--budget or budget.session_usd)"
            return "this request could cost up to \(Money.format(Money.dollars(needed))) and \(Money.format(Money.dollars(left))) "
                + "of the \(Money.format(Money.dollars(cap))) \(which) is left; it was not sent"
        }
    }

    public let sessionCap: Int64?
    public let dailyCap: Int64?
    /// Spent today before this session started, from the ledger.
    public let spentTodayBefore: Int64
    public private(set) var settled: Int64 = 0
    private var open: [Int: Int64] = [:]
    private var nextID = 0

    public init(sessionCapUSD: Decimal?, dailyCapUSD: Decimal?, spentTodayBefore: Int64 = 0) {
        sessionCap = sessionCapUSD.map(Money.micros)
        dailyCap = dailyCapUSD.map(Money.micros)
        self.spentTodayBefore = spentTodayBefore
    }

    public var reserved: Int64 { open.values.reduce(0, +) }

    public func reserve(_ micros: Int64) throws(Refusal) -> Reservation {
        let committed = settled + reserved
        if let cap = sessionCap, committed + micros > cap {
            throw Refusal(needed: micros, left: max(0, cap - committed), cap: cap, daily: false)
        }
        if let cap = dailyCap, spentTodayBefore + committed + micros > cap {
            throw Refusal(needed: micros, left: max(0, cap - spentTodayBefore - committed), cap: cap, daily: true)
        }
        nextID += 1
        open[nextID] = micros
        return Reservation(micros: micros, id: nextID)
    }

    /// Replaces a reservation with what the turn actually cost.
    public func settle(_ reservation: Reservation, actualMicros: Int64) {
        guard open.removeValue(forKey: reservation.id) != nil else { return }
        settled += actualMicros
    }

    /// The worst case of a request: every input byte a token (no tokenizer makes more) plus
    /// framing, at the dearer of the input and cache-write prices, and `max_tokens` of output.
    public static func worstCaseMicros(_ request: ChatRequest, maxTokens: Int, price: ModelPrice) -> Int64 {
        let inputBound = request.system.utf8.count + request.messages.reduce(0) { $0 + $1.content.utf8.count + 8 } + 16
        let band = price.band(forPrompt: inputBound)
        let inputPrice = max(band.input, band.cacheWrite ?? band.input)
        // Tokens times dollars per million tokens is micro-dollars.
        var exact = Decimal(inputBound) * inputPrice + Decimal(maxTokens) * band.output
        var rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 0, .up)
        return NSDecimalNumber(decimal: rounded).int64Value
    }
}

/// What the engine needs to price, cap and record every request.
public struct Accounting: Sendable {
    public var catalog: PriceCatalog
    public var budget: BudgetGuard?
    public var ledger: Ledger?
    public var session: String
    /// Told when the ledger cannot write, so that a missing row is never silent.
    public var onLedgerFailure: @Sendable (String) -> Void

    public init(catalog: PriceCatalog, budget: BudgetGuard? = nil, ledger: Ledger? = nil, session: String,
                onLedgerFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        self.catalog = catalog
        self.budget = budget
        self.ledger = ledger
        self.session = session
        self.onLedgerFailure = onLedgerFailure
    }

    /// The output cap sent when a budget applies and neither persona nor command set one.
    public static let defaultBudgetedMaxTokens = 4096
}
