import Foundation

/// When to try again, and how long to wait first.
public struct RetryPolicy: Sendable, Equatable {
    public var maxRetries: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxRetries: Int = 3, baseDelay: Double = 1, maxDelay: Double = 60) {
        self.maxRetries = maxRetries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public init(_ settings: RetrySettings) {
        self.init(maxRetries: settings.maxRetries, baseDelay: settings.baseDelay, maxDelay: settings.maxDelay)
    }

    /// The wait before retry number `retry` (1-based): the provider's `Retry-After` when it gave
    /// one (the engine does not retry when that is longer than `maxDelay`), else exponential
    /// backoff (base, ×2 each time, capped) with jitter between half and the whole, so that
    /// parallel turns do not retry in lockstep.
    public func delay(beforeRetry retry: Int, after error: ProviderError, random: Double = Double.random(in: 0...1)) -> Double {
        if let wait = error.retryAfter, wait.isFinite { return min(max(0, wait), maxDelay) }
        let exponential = min(maxDelay, baseDelay * pow(2, Double(retry - 1)))
        return exponential * (0.5 + 0.5 * random)
    }
}

/// Where a provider's circuit breaker stands.
public enum BreakerState: String, Sendable, Equatable {
    case closed
    /// Failing fast until the cool-down ends.
    case open
    /// The cool-down ended; one trial request decides.
    case halfOpen = "half-open"
}

/// A limit of `requests` (and optionally `tokens`) in any `window` seconds.
public struct RateLimit: Sendable, Equatable {
    public var requests: Int?
    public var tokens: Int?
    public var window: Double

    public init(requests: Int?, tokens: Int? = nil, window: Double = 60) {
        self.requests = requests
        self.tokens = tokens
        self.window = window
    }
}

/// What is known about one provider's health, for the F4 overlay and `persona doctor`.
public struct ProviderStatus: Sendable, Equatable {
    public var provider: String
    public var breaker: BreakerState
    public var consecutiveFailures: Int
    public var requestsInWindow: Int
    /// The tokens those requests were counted at.
    public var tokensInWindow = 0
    public var limit: RateLimit?
    public var blockedUntil: Date?
    public var lastRateHeaders: [String: String]
    public var ttftP50: Double?
    public var ttftP95: Double?
    public var lastError: String?
    public var successes: Int
    public var failures: Int

    public init(provider: String, breaker: BreakerState, consecutiveFailures: Int, requestsInWindow: Int, limit: RateLimit?,
                blockedUntil: Date?, lastRateHeaders: [String: String], ttftP50: Double?, ttftP95: Double?, lastError: String?,
                successes: Int, failures: Int) {
        self.provider = provider
        self.breaker = breaker
        self.consecutiveFailures = consecutiveFailures
        self.requestsInWindow = requestsInWindow
        self.limit = limit
        self.blockedUntil = blockedUntil
        self.lastRateHeaders = lastRateHeaders
        self.ttftP50 = ttftP50
        self.ttftP95 = ttftP95
        self.lastError = lastError
        self.successes = successes
        self.failures = failures
    }
}

/// Rate limits, circuit breakers and latency per provider, shared by every turn of the process.
public actor ProviderHealth {
    public enum Admission: Sendable, Equatable {
        case allowed
        /// Open: fail fast, with how long until a trial is allowed.
        case rejected(retryIn: Double)
    }

    private struct Provider {
        var breaker = BreakerState.closed
        var consecutiveFailures = 0
        var openedAt: Date?
        var trialInFlight = false
        var starts: [(date: Date, tokens: Int)] = []
        var blockedUntil: Date?
        var lastRateHeaders: [String: String] = [:]
        var ttfts: [Double] = []
        var lastError: String?
        var successes = 0
        var failures = 0
    }

    public let failureThreshold: Int
    public let cooldown: Double
    private var limits: [String: RateLimit]
    private var providers: [String: Provider] = [:]

    public init(failureThreshold: Int = 5, cooldown: Double = 60, limits: [String: RateLimit] = [:]) {
        self.failureThreshold = failureThreshold
        self.cooldown = cooldown
        self.limits = limits
    }

    /// Rate limits from the config's `rpm` and `tpm`, breaker settings from `circuit_breaker`.
    public init(config: Config) {
        var limits: [String: RateLimit] = [:]
        for (name, settings) in config.providers where settings.requestsPerMinute != nil || settings.tokensPerMinute != nil {
            limits[name] = RateLimit(requests: settings.requestsPerMinute, tokens: settings.tokensPerMinute)
        }
        self.init(failureThreshold: config.circuitBreaker.failureThreshold, cooldown: config.circuitBreaker.cooldown, limits: limits)
    }

    // MARK: Circuit breaker

    /// Whether a request to `provider` may go out now. After the cool-down one trial is let through.
    public func admit(_ provider: String, now: Date = Date()) -> Admission {
        var state = providers[provider] ?? Provider()
        defer { providers[provider] = state }
        switch state.breaker {
        case .closed:
            return .allowed
        case .open:
            let elapsed = now.timeIntervalSince(state.openedAt ?? now)
            guard elapsed >= cooldown else { return .rejected(retryIn: cooldown - elapsed) }
            state.breaker = .halfOpen
            state.trialInFlight = true
            return .allowed
        case .halfOpen:
            guard !state.trialInFlight else { return .rejected(retryIn: 1) }
            state.trialInFlight = true
            return .allowed
        }
    }

    public func recordSuccess(_ provider: String, timeToFirstToken: Double?) {
        var state = providers[provider] ?? Provider()
        state.breaker = .closed
        state.consecutiveFailures = 0
        state.trialInFlight = false
        state.successes += 1
        if let timeToFirstToken {
            state.ttfts.append(timeToFirstToken)
            if state.ttfts.count > 200 { state.ttfts.removeFirst(state.ttfts.count - 200) }
        }
        providers[provider] = state
    }

    /// Counts a failure; a cancelled turn, or one the budget or the ledger stopped, says nothing
    /// about the provider.
    public func recordFailure(_ provider: String, error: ProviderError, now: Date = Date()) {
        guard ![.cancelled, .budget, .ledger].contains(error.kind) else { return }
        var state = providers[provider] ?? Provider()
        state.failures += 1
        state.lastError = error.description
        state.trialInFlight = false
        state.consecutiveFailures += 1
        if state.breaker == .halfOpen || state.consecutiveFailures >= failureThreshold {
            state.breaker = .open
            state.openedAt = now
        }
        providers[provider] = state
    }

    // MARK: Rate limiter

    /// How long a request of about `tokens` tokens must wait before it may start; zero means go.
    /// A start is recorded only when the wait is zero.
    public func reserveStart(_ provider: String, tokens: Int, now: Date = Date()) -> Double {
        var state = providers[provider] ?? Provider()
        defer { providers[provider] = state }
        if let blocked = state.blockedUntil, blocked > now { return blocked.timeIntervalSince(now) }
        guard let limit = limits[provider] else { return 0 }
        state.starts.removeAll { now.timeIntervalSince($0.date) >= limit.window }
        if let requests = limit.requests, state.starts.count >= requests, let oldest = state.starts.first {
            return max(0.001, limit.window - now.timeIntervalSince(oldest.date))
        }
        if let budget = limit.tokens, !state.starts.isEmpty, state.starts.reduce(0, { $0 + $1.tokens }) + tokens > budget,
           let oldest = state.starts.first {
            return max(0.001, limit.window - now.timeIntervalSince(oldest.date))
        }
        state.starts.append((now, tokens))
        return 0
    }

    /// Tightens the limiter from a response's rate-limit headers: when the provider says nothing
    /// is left, requests wait until its reset.
    public func observe(_ provider: String, headers: HTTPHeaders, now: Date = Date()) {
        var state = providers[provider] ?? Provider()
        var seen: [String: String] = [:]
        for field in headers {
            let name = field.name.lowercased()
            if name.hasPrefix("x-ratelimit-") || name.hasPrefix("anthropic-ratelimit-") { seen[name] = field.value }
        }
        guard !seen.isEmpty else { return }
        state.lastRateHeaders = seen
        for kind in ["requests", "tokens"] {
            let remaining = seen["x-ratelimit-remaining-\(kind)"] ?? seen["anthropic-ratelimit-\(kind)-remaining"]
            guard let remaining, Int(remaining) == 0 else { continue }
            if let reset = seen["x-ratelimit-reset-\(kind)"].flatMap(Self.duration) {
                state.blockedUntil = max(state.blockedUntil ?? now, now.addingTimeInterval(reset))
            } else if let reset = seen["anthropic-ratelimit-\(kind)-reset"].flatMap({ ISO8601DateFormatter().date(from: $0) }) {
                state.blockedUntil = max(state.blockedUntil ?? now, reset)
            }
        }
        providers[provider] = state
    }

    /// OpenAI's reset durations: `1s`, `6m0s`, `12ms`, `1h2m3.5s`.
    static func duration(_ text: String) -> Double? {
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var matched = false
        while index < text.endIndex {
            let character = text[index]
            if character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            let rest = text[index...]
            let unit: (String, Double) = rest.hasPrefix("ms") ? ("ms", 0.001) : rest.hasPrefix("h") ? ("h", 3600)
                : rest.hasPrefix("m") ? ("m", 60) : rest.hasPrefix("s") ? ("s", 1) : ("", 0)
            guard !unit.0.isEmpty, let value = Double(number) else { return nil }
            total += value * unit.1
            number = ""
            matched = true
            index = text.index(index, offsetBy: unit.0.count)
        }
        if !number.isEmpty { return Double(number).map { total + $0 } }
        return matched ? total : nil
    }

    public func status() -> [ProviderStatus] {
        let now = Date()
        return providers.keys.sorted().map { name in
            let state = providers[name]!
            let sorted = state.ttfts.sorted()
            func percentile(_ p: Double) -> Double? {
                sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            }
            let window = limits[name]?.window ?? 60
            let recent = state.starts.filter { now.timeIntervalSince($0.date) < window }
            var status = ProviderStatus(provider: name, breaker: state.breaker, consecutiveFailures: state.consecutiveFailures,
                                  requestsInWindow: state.starts.filter { now.timeIntervalSince($0.date) < window }.count,
                                  limit: limits[name], blockedUntil: state.blockedUntil.flatMap { $0 > now ? $0 : nil },
                                  lastRateHeaders: state.lastRateHeaders, ttftP50: percentile(0.5), ttftP95: percentile(0.95),
                                  lastError: state.lastError, successes: state.successes, failures: state.failures)
            status.tokensInWindow = recent.reduce(0) { $0 + $1.tokens }
            return status
        }
    }

    /// Forgets what the rate limiter and the breaker hold of `provider`: its requests in the
    /// window, any wait it asked for, and its failures (an admin's reset through the gateway).
    public func reset(_ provider: String) {
        providers[provider] = nil
    }
}
