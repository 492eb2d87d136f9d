import Foundation
import PersonaKit
import Synchronization

/// What the gateway may change while it runs: the config and personas (`POST /config/reload`)
/// and the providers switched off (`PATCH /providers/{id}`).
public final class GatewayRuntime: Sendable {
    private struct State {
        var workspace: Workspace
        var disabled: Set<String> = []
        var loaded = Date()
    }

    private let state: Mutex<State>
    public let catalog: PriceCatalog
    /// Reads the config and persona files again, as at start.
    private let load: @Sendable () -> Workspace
    /// The reports `persona costs` prints as JSON, by kind (`summary`, `daily`, …), for `/costs`.
    let costs: @Sendable (_ kind: String, _ query: [String: String]) throws -> String?
    /// Provider health, shared by every client's engine.
    let health: ProviderHealth?
    let ledger: Ledger?

    public init(workspace: Workspace, catalog: PriceCatalog, health: ProviderHealth?, ledger: Ledger?,
                load: @escaping @Sendable () -> Workspace,
                costs: @escaping @Sendable (_ kind: String, _ query: [String: String]) throws -> String?) {
        state = Mutex(State(workspace: workspace))
        self.catalog = catalog
        self.health = health
        self.ledger = ledger
        self.load = load
        self.costs = costs
    }

    var workspace: Workspace { state.withLock { $0.workspace } }
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

    /// The config as the files say now, and its problems; applied unless `validateOnly` or it has errors.
    func reload(validateOnly: Bool) -> (workspace: Workspace, applied: Bool) {
        let fresh = load()
        let applied = !validateOnly && !fresh.configHasErrors
        if applied {
            state.withLock { state in
                state.workspace = fresh
                state.loaded = Date()
            }
        }
        return (fresh, applied)
    }
}
