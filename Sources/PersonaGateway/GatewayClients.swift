import Foundation
import PersonaKit

/// Someone allowed to use the gateway, with the engine that runs their requests: its accounting
/// holds the config's daily cap and the client's own.
public struct GatewayClient: Sendable {
    public var name: String
    public var role: GatewayKey.Role
    public var engine: ConversationEngine

    public init(name: String, role: GatewayKey.Role, engine: ConversationEngine) {
        self.name = name
        self.role = role
        self.engine = engine
    }

    /// The ledger session of the client's requests today: a client's daily cap is its session's cap.
    func session(on date: Date = Date(), calendar: Calendar = .current) -> String {
        let day = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "gateway-%@-%04d%02d%02d", name, day.year ?? 0, day.month ?? 0, day.day ?? 0)
    }
}

/// Who may use the gateway: the clients with keys, or, bound to loopback without keys, anyone
/// on this machine (as the client `local`).
public struct GatewayClients: Sendable {
    private let keyed: [(secret: [UInt8], client: GatewayClient)]
    private let open: GatewayClient?

    /// `keys` pairs each client with its key's value, read from the environment.
    public init(keys: [(secret: String, client: GatewayClient)], open: GatewayClient?) {
        keyed = keys.map { (Array($0.secret.utf8), $0.client) }
        self.open = open
    }

    /// The client a request's `X-API-Key` or `Authorization: Bearer` names.
    func authenticate(apiKey: String?, authorization: String?) throws(GatewayError) -> GatewayClient {
        let bearer = authorization.flatMap { value -> String? in
            let parts = value.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "bearer" ? String(parts[1]) : nil
        }
        guard let given = apiKey ?? bearer, !given.isEmpty else {
            if let open { return open }
            throw GatewayError(401, "a key is needed: send it as X-API-Key or Authorization: Bearer", type: "authentication_error")
        }
        // Every key is compared whole, so that the time taken tells nothing of which matched.
        let bytes = Array(given.utf8)
        var found: GatewayClient?
        for (secret, client) in keyed where Self.equal(bytes, secret) { found = client }
        if let found { return found }
        if let open, keyed.isEmpty { return open }
        throw GatewayError(401, "the key is not one of serve.keys", type: "authentication_error")
    }

    /// Compares in time that depends on the lengths only, not on where the bytes differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
