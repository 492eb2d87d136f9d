import ArgumentParser
import Foundation
import PersonaApp
import PersonaGateway
import PersonaKit

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The provider gateway over HTTP: OpenAI-compatible endpoints on the same engine, budget and ledger.",
        discussion: """
            GET /v1/models lists the catalog's models and the personas (persona/<id>); POST /v1/chat/completions \
            answers, streaming or not. Bound to loopback it needs no key unless serve.keys is set in the config; \
            bound to any other address it refuses to start without keys. SIGTERM or SIGINT stops accepting and gives \
            the streams in flight 10 s to finish.
            """)

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port; 0 picks a free one.")
    var port = 8000

    @Flag(help: "Print a `listening` JSON event instead of the URL.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        ProcessRole.set("serve")
        let workspace = global.workspace()
        guard (0...65535).contains(port) else { throw failure("--port must be from 0 to 65535", .usageOrConfig) }
        let server = try await exitingOnFailure { () throws -> GatewayServer in
            if let problem = workspace.configIssues.first(where: { $0.severity == .error }) {
                throw UsageError("the config has errors; fix them first:\n  \(problem)")
            }
            let accounting = try AccountingSetup.make(workspace: workspace, budget: nil, pricesFile: nil, warn: { Output.error($0) })
            let (health, toolBox) = (ProviderHealth(config: workspace.config), EngineSetup.toolBox(workspace))
            let host = self.host
            let (paths, environment, ledger) = (workspace.paths, workspace.environment, accounting.ledger)
            let runtime = try GatewayRuntime(workspace: workspace, catalog: accounting.catalog, health: health, ledger: ledger,
                                             load: { Workspace.load(paths: paths, environment: environment) },
                                             makeClients: { try Serve.clients(for: $0, host: host, accounting: accounting, health: health,
                                                                              toolBox: toolBox) },
                                             costs: { kind, query in try Serve.costs(kind, query: query, ledger: ledger) })
            return GatewayServer(runtime: runtime)
        }
        let json = self.json
        do {
            try await server.run(host: host, port: port) { url in
                Output.write(json ? JSON.object(["event": .string("listening"), "url": .string(url)]).serialized + "\n" : url + "\n")
            }
        } catch {
            throw failure("cannot serve on \(host):\(port): \(error)", .turnFailed)
        }
    }

    /// The clients `workspace`'s config admits: one per key in `serve.keys`, or, on loopback
    /// without keys, anyone. Each has an engine of its own with the config's daily cap, its key's
    /// own cap, timeouts and retries, sharing the process's transport, provider health, tools
    /// and ledger; a config reloaded later builds them again.
    static func clients(for workspace: Workspace, host: String, accounting: Accounting, health: ProviderHealth,
                        toolBox: ToolBox) throws -> GatewayClients {
        let config = workspace.config
        let daily = try AccountingSetup.caps(config.budget).daily
        func engine(dailyUSD: Decimal?, name: String) throws -> ConversationEngine {
            var caps = BudgetCaps(daily: daily)
            if let dailyUSD {
                guard case .success(let picos) = Money.cap(dollars: dailyUSD) else { throw UsageError("serve.keys.\(name).daily_usd: \(dailyUSD) is no amount") }
                caps.session = picos
            }
            let clientAccounting = Accounting(catalog: accounting.catalog, budget: BudgetGuard(caps: caps), ledger: accounting.ledger,
                                              onLedgerFailure: { Output.error($0) })
            return EngineSetup.make(workspace: workspace, accounting: clientAccounting, health: health, toolBox: toolBox)
        }
        var keys: [(secret: String, client: GatewayClient)] = []
        for key in config.serve.keys {
            guard let secret = workspace.environment[key.keyEnv], !secret.isEmpty else {
                throw UsageError("serve.keys.\(key.name): $\(key.keyEnv) is not set; export the key there, or remove the entry")
            }
            keys.append((secret, GatewayClient(name: key.name, role: key.role, engine: try engine(dailyUSD: key.dailyUSD, name: key.name))))
        }
        Secrets.register(keys.map(\.secret))
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
        guard loopback || !keys.isEmpty else {
            throw UsageError("--host \(host) is reachable from other machines, and serve.keys is empty: add keys (key_env, role) "
                + "under serve: in \(workspace.paths.configFile), or bind to 127.0.0.1")
        }
        let open = keys.isEmpty ? GatewayClient(name: "local", role: .admin, engine: try engine(dailyUSD: nil, name: "local")) : nil
        return GatewayClients(keys: keys, open: open)
    }

    /// `/api/v1/costs/{kind}`: the JSON `persona costs KIND --json` prints, from the same queries.
    static func costs(_ kind: String, query: [String: String], ledger: Ledger?) throws -> String? {
        guard let kind = CostsReport.Kind(rawValue: kind) else { return nil }
        guard let ledger else { throw UsageError("no cost ledger is open") }
        let period = Ledger.Period(start: try query["since"].map { try CostsReport.date($0, option: "since") },
                                   end: try query["until"].map { try CostsReport.date($0, option: "until") })
        func count(_ name: String, _ fallback: Int) throws -> Int {
            guard let text = query[name] else { return fallback }
            guard let value = Int(text), (1...10_000).contains(value) else { throw UsageError("\(name): a whole number from 1 to 10000") }
            return value
        }
        return try CostsReport.render(kind, ledger: ledger, options: CostsReport.Options(period: period, days: try count("days", 7),
                                                                                        limit: try count("limit", 100), json: true))
    }
}
