import Foundation
import PersonaKit

/// What a new user meets: a commented starter config, and a one-screen welcome.
public enum FirstRun {
    public static let starterConfig = """
        # Persona's config. Every key is optional; `persona config show` prints what is in force and
        # `persona config validate` checks this file and every persona file.

        # The personas `persona` opens with (files in personas/ here, then the bundled ones).
        default_personas: [skeptic, optimist, pragmatist]

        # The model for personas that name none. Without it Persona picks one: the cheapest good
        # model of the first provider whose key is set (ANTHROPIC, OPENAI, GEMINI, GROQ, OPENROUTER),
        # else a model Ollama already has, else the local server (`persona local setup`).
        # default_model: anthropic:claude-sonnet-5-5

        # Keys come from the environment: ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY, …
        # Any OpenAI-compatible server can be added:
        # providers:
        #   openai: { rpm: 500, tpm: 30000 }
        #   corp:   { type: openai, base_url: https://llm.example.com/v1, api_key_env: CORP_TOKEN }

        # Spending caps in USD, held across every Persona process on this home; the bar in the
        # header turns yellow at warn_at and red at the cap. /reload applies a change at once.
        # budget: { session_usd: 1.00, daily_usd: 10.00, warn_at: 0.8 }

        # Anthropic prompt caching of each persona's prompt and conversation: auto, off or 1h.
        # prompt_cache: auto

        # retry: { max_retries: 3, base_delay: 1.0, max_delay: 60 }
        # circuit_breaker: { failure_threshold: 5, cooldown: 60 }
        # timeouts: { connect: 10, stream_idle: 30 }
        # failover_chains: { default: [anthropic:claude-sonnet-5-5, openai:gpt-6-sol] }
        # Prices in USD per million tokens, over the catalog (`persona models`, `persona prices update`):
        # prices: { "vllm:my-model": { input: 0.50, output: 1.50 } }

        """

    /// Writes the starter config unless one exists; true when it wrote it.
    @discardableResult
    public static func writeStarterConfig(_ paths: PersonaPaths) throws -> Bool {
        guard !FileManager.default.fileExists(atPath: paths.configFile) else { return false }
        try FileManager.default.createDirectory(atPath: paths.home, withIntermediateDirectories: true)
        try starterConfig.write(toFile: paths.configFile, atomically: true, encoding: .utf8)
        return true
    }

    static func marker(_ paths: PersonaPaths) -> String { paths.home + "/.welcomed" }

    /// True the first time only; the welcome is then marked as seen.
    public static func shouldWelcome(_ paths: PersonaPaths) -> Bool {
        guard !FileManager.default.fileExists(atPath: marker(paths)) else { return false }
        return FileManager.default.createFile(atPath: marker(paths), contents: Data())
    }

    /// The welcome: what Persona detected, who is on screen, and how to get more.
    public static func welcome(_ workspace: Workspace, roster: [String]) -> [String] {
        var lines = ["Welcome to Persona", "", "Type once; every persona answers side by side. Providers found:"]
        for (provider, _) in DefaultModel.byKey {
            guard let preset = ProviderPreset.named(provider) else { continue }
            let key = preset.keyEnvironment.first { !(workspace.environment[$0] ?? "").isEmpty }
            lines.append("  \(key == nil ? "·" : "✓") \(provider.padding(toLength: 11, withPad: " ", startingAt: 0))"
                + (key.map { "\($0) is set" } ?? "set \(preset.keyEnvironment[0]) to use it"))
        }
        let local = workspace.local
        lines.append("  \(local.running != nil ? "✓" : "·") local      " + (local.running.map { "running on port \($0.port)" }
            ?? (local.isInstalled ? "installed; starts when needed" : "`persona local setup` installs a small offline model")))
        lines += ["", "On screen: " + roster.joined(separator: ", ")]
        if let choice = workspace.defaultChoice { lines.append("Model: \(choice.model), because \(choice.reason).") }
        lines += ["", "Enter sends · F1 keys · /mode rounds starts debates · F3 costs · F4 providers",
                  "Settings: \(workspace.paths.configFile)", "/welcome shows this again."]
        return lines
    }
}
