import Foundation
import PersonaKit

/// `persona doctor`: every provider Persona may use, checked.
public enum DoctorReport {
    /// Providers worth checking: those the config names, those with a key in the environment, and
    /// those a persona uses, by its own model, `default_model`, or the model Persona would choose
    /// (`chosen`). Returns each with the personas that use it.
    public static func providers(_ workspace: Workspace, chosen: ModelRef? = nil) -> [(name: String, usedBy: [String])] {
        var used: [String: [String]] = [:]
        for persona in workspace.personas {
            guard let model = persona.model ?? workspace.config.defaultModel ?? chosen else { continue }
            used[model.provider, default: []].append(persona.id)
            for fallback in persona.fallback { used[fallback.provider, default: []].append(persona.id) }
        }
        // A plain `persona ask` uses the chosen model even when no persona does.
        if let chosen { used[chosen.provider, default: []].append("the default model \(chosen)") }
        var names = Set(used.keys).union(workspace.config.providers.keys)
        for preset in ProviderPreset.all where preset.keyRequired {
            if preset.keyEnvironment.contains(where: { !(workspace.environment[$0] ?? "").isEmpty }) { names.insert(preset.name) }
        }
        return names.sorted().map { ($0, Array(Set(used[$0] ?? [])).sorted()) }
    }

    public static func run(_ workspace: Workspace, chosen: ModelRef? = nil) async -> [ProviderCheck] {
        let providers = providers(workspace, chosen: chosen)
        let directory = workspace.providers
        let timeouts = TransportTimeouts(connect: min(workspace.config.timeouts.connect, 10), idle: 10)
        return await withTaskGroup(of: ProviderCheck.self) { group in
            for (name, usedBy) in providers {
                group.addTask { await ProviderCheck.run(name, directory: directory, usedBy: usedBy, timeouts: timeouts) }
            }
            var checks: [ProviderCheck] = []
            for await check in group { checks.append(check) }
            return checks.sorted { $0.provider < $1.provider }
        }
    }

    /// Fails when a provider that a persona uses cannot be used.
    public static func healthy(_ checks: [ProviderCheck]) -> Bool {
        !checks.contains { !$0.usable && !$0.usedBy.isEmpty }
    }

    public static func json(_ checks: [ProviderCheck], choice: Result<DefaultChoice, Error>?, servers: [ToolBox.ServerStatus] = []) -> String {
        var fields: [JSONObject.Member] = [.init(key: "providers", value: .array(checks.map(json))), .init(key: "ok", value: .bool(healthy(checks))),
                                           .init(key: "mcp_servers", value: .array(servers.map(json)))]
        switch choice {
        case .success(let choice)?:
            fields.append(.init(key: "default", value: .object(["model": .string(choice.model.description), "reason": .string(choice.reason)])))
        case .failure?:
            fields.append(.init(key: "default", value: .null))
        case nil:
            break
        }
        return JSON.object(JSONObject(fields)).serialized + "\n"
    }

    /// Which model Persona would choose with nothing configured, and why; without starting anything.
    public static func defaultChoice(_ workspace: Workspace) async -> Result<DefaultChoice, Error>? {
        guard workspace.config.defaultModel == nil else { return nil }
        do {
            let (catalog, _) = PriceCatalog.load(config: workspace.config, pricesFile: nil, home: workspace.paths.home)
            return .success(try await DefaultModel.resolve(directory: workspace.providers, local: workspace.local, startLocal: false,
                                                           catalog: catalog))
        } catch {
            return .failure(error)
        }
    }

    static func json(_ check: ProviderCheck) -> JSON {
        func optional(_ text: String?) -> JSON { text.map { .string($0) } ?? .null }
        func optional(_ number: Int?) -> JSON { number.map { .int($0) } ?? .null }
        let key: JSON = .object(["variable": optional(check.keyVariable), "present": .bool(check.keyPresent),
                                 "required": .bool(check.keyRequired)])
        let latency = check.latency.map { Int(($0 * 1000).rounded()) }
        return .object([
            "name": .string(check.provider), "type": optional(check.type?.rawValue), "base_url": optional(check.baseURL),
            "key": key, "status": .string(check.outcome.rawValue), "usable": .bool(check.usable),
            "latency_ms": optional(latency), "http_status": optional(check.httpStatus), "models": optional(check.models),
            "problem": optional(check.problem), "used_by": .array(check.usedBy.map { .string($0) }),
        ])
    }

    public static func text(_ checks: [ProviderCheck], choice: Result<DefaultChoice, Error>?) -> String {
        var lines: [String] = []
        switch choice {
        case .success(let choice)?: lines.append("Default model: \(choice.model), because \(choice.reason).")
        case .failure?: lines.append("Default model: none available yet; see `persona` for the ways forward.")
        case nil: break
        }
        guard !checks.isEmpty else {
            lines.append("No providers to check: set a key such as OPENAI_API_KEY, name providers in config.yaml, or give personas a model.")
            return lines.joined(separator: "\n") + "\n"
        }
        for check in checks {
            let mark = check.usable ? "✓" : "✗"
            var line = "\(mark) \(check.provider)"
            if let base = check.baseURL { line += "  \(base)" }
            lines.append(line)
            if let variable = check.keyVariable {
                let key = check.keyPresent ? "set" : check.keyRequired ? "missing" : "not needed"
                lines.append("    key \(variable): \(key)")
            }
            if let latency = check.latency {
                lines.append(String(format: "    answered in %.0f ms", latency * 1000) + (check.models.map { ", \($0) models" } ?? ""))
            }
            if let problem = check.problem { lines.append("    problem: \(problem)") }
            if !check.usedBy.isEmpty { lines.append("    used by: \(check.usedBy.joined(separator: ", "))") }
        }
        lines.append(healthy(checks) ? "All providers your personas use are ready." : "A provider your personas use is not usable.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Each MCP server of the config, its state, tools and log: under the providers in
    /// `persona doctor`, and in the F4 overlay.
    public static func servers(_ statuses: [ToolBox.ServerStatus]) -> [String] {
        guard !statuses.isEmpty else { return [] }
        var lines = ["", "MCP servers"]
        for status in statuses {
            let mark = status.state == "running" ? "✓" : status.state == "not started" ? "·" : "✗"
            lines.append("\(mark) \(status.name)  \(status.command): \(status.state)")
            if !status.tools.isEmpty { lines.append("    tools: " + status.tools.joined(separator: ", ")) }
            lines.append("    log: \(status.log)")
        }
        return lines
    }

    public static func json(_ status: ToolBox.ServerStatus) -> JSON {
        .object(["name": .string(status.name), "command": .string(status.command), "state": .string(status.state),
                 "tools": .array(status.tools.map { .string($0) }), "log": .string(status.log)])
    }

    /// The F4 overlay: what this session has seen of each provider.
    public static func overlay(_ statuses: [ProviderStatus]) -> [String] {
        guard !statuses.isEmpty else { return ["Providers", "", "No requests yet this session."] }
        var lines = ["Providers (this session)"]
        for status in statuses {
            lines.append("")
            lines.append("\(status.provider): breaker \(status.breaker.rawValue), \(status.successes) ok, \(status.failures) failed"
                + (status.consecutiveFailures > 0 ? " (\(status.consecutiveFailures) in a row)" : ""))
            if let limit = status.limit {
                let requests = limit.requests.map { "\(status.requestsInWindow)/\($0) requests" } ?? "\(status.requestsInWindow) requests"
                lines.append("  rate limit: \(requests) per \(Int(limit.window)) s" + (limit.tokens.map { ", \($0) tokens" } ?? ""))
            }
            if let blocked = status.blockedUntil {
                lines.append(String(format: "  held by the provider's limit for %.1f s more", blocked.timeIntervalSinceNow))
            }
            if let p50 = status.ttftP50, let p95 = status.ttftP95 {
                lines.append(String(format: "  time to first token: p50 %.2f s, p95 %.2f s", p50, p95))
            }
            if !status.lastRateHeaders.isEmpty {
                let headers = status.lastRateHeaders.sorted { $0.key < $1.key }.prefix(4).map { "\($0.key)=\($0.value)" }
                lines.append("  last limits seen: " + headers.joined(separator: ", "))
            }
            if let error = status.lastError { lines.append("  last error: \(error)") }
        }
        return lines
    }
}
