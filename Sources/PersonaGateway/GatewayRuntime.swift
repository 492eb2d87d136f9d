import Foundation
import PersonaKit
import Synchronization

/// What the gateway may change while it runs: the config and personas, with the clients' keys,
/// budgets and engines built from them (`POST /config/reload`), and the providers switched off
/// (`PATCH /providers/{id}`).
public final class GatewayRuntime: Sendable {
    private struct State {
        var workspace: Workspace
        var clients: GatewayClients
        var disabled: Set<String> = []
        var loaded = Date()
    }

    private let state: Mutex<State>
    public let catalog: PriceCatalog
    /// Reads the config and persona files again, as at start.
    private let load: @Sendable () -> Workspace
    /// The clients a config admits, each with its engine and caps; throws what keeps it from serving.
    private let makeClients: @Sendable (Workspace) throws -> GatewayClients
    /// The reports `persona costs` prints as JSON, by kind (`summary`, `daily`, …), for `/costs`.
    let costs: @Sendable (_ kind: String, _ query: [String: String]) throws -> String?
    /// Provider health, shared by every client's engine.
    let health: ProviderHealth?
    let ledger: Ledger?

    public init(workspace: Workspace, catalog: PriceCatalog, health: ProviderHealth?, ledger: Ledger?,
                load: @escaping @Sendable () -> Workspace, makeClients: @escaping @Sendable (Workspace) throws -> GatewayClients,
                costs: @escaping @Sendable (_ kind: String, _ query: [String: String]) throws -> String?) throws {
        state = Mutex(State(workspace: workspace, clients: try makeClients(workspace)))
        self.catalog = catalog
        self.health = health
        self.ledger = ledger
        self.load = load
        self.makeClients = makeClients
        self.costs = costs
    }

    var workspace: Workspace { state.withLock { $0.workspace } }
    var clients: GatewayClients { state.withLock { $0.clients } }
    /// Plans a request with the config, personas and providers as they are now.
    var completions: ChatCompletions {
        state.withLock { ChatCompletions(workspace: $0.workspace, catalog: catalog, disabled: $0.disabled) }
    }
    var loaded: Date { state.withLock { $0.loaded } }
    var disabled: Set<String> { state.withLock { $0.disabled } }

    func setEnabled(_ enabled: Bool, provider: String) {
        state.withLock { state in
            if enabled { state.disabled.remove(provider) } else { state.disabled.insert(provider) }
        }
    }

    /// The config as the files say now, and its problems; applied, with the clients it admits,
    /// unless `validateOnly`, it has errors, or its clients cannot be built (`problem` says why).
    /// Requests in flight finish on the engines they started on.
    func reload(validateOnly: Bool) -> (workspace: Workspace, applied: Bool, problem: String?) {
        let fresh = load()
        guard !validateOnly, !fresh.configHasErrors else { return (fresh, false, nil) }
        let clients: GatewayClients
        do { clients = try makeClients(fresh) } catch { return (fresh, false, "\(error)") }
        state.withLock { state in
            state.workspace = fresh
            state.clients = clients
            state.loaded = Date()
        }
        return (fresh, true, nil)
    }
}
