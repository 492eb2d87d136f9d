import Foundation

/// `serve:` in the config: who may use `persona serve`.
public struct ServeSettings: Sendable, Equatable {
    public var keys: [GatewayKey] = []

    public init(keys: [GatewayKey] = []) {
        self.keys = keys
    }
}

/// A client's key of the gateway. The key itself stays in the environment, named by `key_env`.
public struct GatewayKey: Sendable, Equatable {
    public enum Role: String, Sendable {
        case client
        /// May also reload the config, enable and disable providers, and reset rate limits.
        case admin
    }

    public var name: String
    public var keyEnv: String
    public var role: Role
    /// The client's own daily cap, under the config's daily cap.
    public var dailyUSD: Decimal?

    public init(name: String, keyEnv: String, role: Role = .client, dailyUSD: Decimal? = nil) {
        self.name = name
        self.keyEnv = keyEnv
        self.role = role
        self.dailyUSD = dailyUSD
    }
}
