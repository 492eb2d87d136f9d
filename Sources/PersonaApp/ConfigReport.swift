import Foundation
import PersonaKit

/// `persona config show` and `persona config validate`.
public enum ConfigReport {
    public static func show(_ workspace: Workspace, defaultModel: ModelInForce) -> String {
        let config = workspace.config
        var lines = ["# \(workspace.paths.configFile)" + (FileManager.default.fileExists(atPath: workspace.paths.configFile) ? "" : " (not written yet)"),
                     "# " + PersonaListing.rosterLine(workspace),
                     "# " + defaultModel.sentence,
                     "home: \(workspace.paths.home)",
                     "default_model: " + (config.defaultModel?.description ?? "(not set)"),
                     "default_personas: [\(config.defaultPersonas.joined(separator: ", "))]",
                     "personas_dirs: [\(workspace.personaDirectories.joined(separator: ", "))]",
                     "providers:"]
        let directory = workspace.providers
        for name in directory.names {
            let preset = ProviderPreset.named(name)
            let settings = config.providers[name]
            let variables = settings?.apiKeyEnv.map { [$0] } ?? preset?.keyEnvironment ?? [ProviderPreset.keyVariable(for: name)]
            let set = variables.first { !(workspace.environment[$0] ?? "").isEmpty }
            let key = set.map { "\($0) set" } ?? "\(variables[0]) unset"
            let endpoint = try? directory.endpoint(for: name)
            let base = endpoint?.baseURL ?? settings?.baseURL ?? preset?.baseURL ?? "?"
            var line = "  \(name): { type: \((settings?.type ?? preset?.type ?? .openai).rawValue), base_url: \(base), key: \(key)"
            if let rpm = settings?.requestsPerMinute { line += ", rpm: \(rpm)" }
            if let tpm = settings?.tokensPerMinute { line += ", tpm: \(tpm)" }
            lines.append(line + " }")
        }
        if !config.failoverChains.isEmpty {
            lines.append("failover_chains:")
            for (name, chain) in config.failoverChains.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(name): [\(chain.map(\.description).joined(separator: ", "))]")
            }
        }
        lines.append("retry: { max_retries: \(config.retry.maxRetries), base_delay: \(config.retry.baseDelay), max_delay: \(config.retry.maxDelay) }")
        lines.append("circuit_breaker: { failure_threshold: \(config.circuitBreaker.failureThreshold), cooldown: \(config.circuitBreaker.cooldown) }")
        lines.append("timeouts: { connect: \(config.timeouts.connect), stream_idle: \(config.timeouts.streamIdle) }")
        func usd(_ value: Decimal?) -> String { value.map { NSDecimalNumber(decimal: $0).stringValue } ?? "none" }
        lines.append("budget: { session_usd: \(usd(config.budget.sessionUSD)), daily_usd: \(usd(config.budget.dailyUSD)), "
            + "warn_at: \(usd(config.budget.warnAt)) }")
        lines.append("prompt_cache: \(config.promptCache.rawValue)")
        if !config.prices.isEmpty { lines.append("prices: \(config.prices.keys.sorted().joined(separator: ", "))") }
        if let file = config.pricesFile { lines.append("prices_file: \(file)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The config's and persona files' problems, then warnings for personas on retired models.
    public static func validate(_ workspace: Workspace) -> String {
        var lines = workspace.issues.map(\.description)
        let (catalog, _) = PriceCatalog.load(config: workspace.config, pricesFile: nil, home: workspace.paths.home)
        let uses = workspace.personas.compactMap { persona in (persona.model ?? workspace.config.defaultModel).map { (persona.id, $0) } }
        lines += RetiredModels.warnings(uses, catalog: catalog).map { "warning: " + $0 }
        let errors = workspace.issues.filter { $0.severity == .error }.count
        lines.append(errors == 0
            ? "OK: \(workspace.paths.configFile) and \(workspace.personas.count) personas" + (workspace.issues.isEmpty ? "" : " (warnings above)")
            : "\(errors) error\(errors == 1 ? "" : "s") to fix")
        return lines.joined(separator: "\n") + "\n"
    }
}
