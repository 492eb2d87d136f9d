import Foundation

/// A provider Persona knows without any config: its wire format, where it lives and how it
/// authenticates. OpenAI-compatible services are rows of this table, not code.
public struct ProviderPreset: Sendable, Equatable {
    public var name: String
    public var type: ProviderType
    public var baseURL: String
    /// Environment variables tried in order for the key; the first is the one named in errors.
    public var keyEnvironment: [String]
    public var keyRequired: Bool
    public var quirks: ServerQuirks

    public init(_ name: String, _ type: ProviderType, _ baseURL: String, keys: [String]? = nil, keyRequired: Bool = true,
                quirks: ServerQuirks = ServerQuirks()) {
        self.name = name
        self.type = type
        self.baseURL = baseURL
        self.keyEnvironment = keys ?? [ProviderPreset.keyVariable(for: name)]
        self.keyRequired = keyRequired
        self.quirks = quirks
    }

    public static let all: [ProviderPreset] = [
        ProviderPreset("openai", .openai, "https://api.openai.com/v1",
                       quirks: ServerQuirks(tokenLimitField: "max_completion_tokens", batchAPI: true)),
        ProviderPreset("anthropic", .anthropic, "https://api.anthropic.com"),
        ProviderPreset("gemini", .gemini, "https://generativelanguage.googleapis.com", keys: ["GEMINI_API_KEY", "GOOGLE_API_KEY"]),
        ProviderPreset("ollama", .ollama, "http://localhost:11434", keyRequired: false),
        ProviderPreset("groq", .openai, "https://api.groq.com/openai/v1", quirks: ServerQuirks(batchAPI: true)),
        ProviderPreset("openrouter", .openai, "https://openrouter.ai/api/v1"),
        ProviderPreset("litellm", .openai, "http://localhost:4000/v1", keyRequired: false),
        ProviderPreset("vllm", .openai, "http://localhost:8000/v1", keyRequired: false),
        ProviderPreset("llamacpp", .openai, "http://localhost:8080/v1", keyRequired: false),
        ProviderPreset("lmstudio", .openai, "http://localhost:1234/v1", keyRequired: false),
        ProviderPreset("vercel", .openai, "https://ai-gateway.vercel.sh/v1", keys: ["VERCEL_API_KEY", "AI_GATEWAY_API_KEY"]),
        // DeepSeek has JSON mode only.
        ProviderPreset("deepseek", .openai, "https://api.deepseek.com/v1", quirks: ServerQuirks(acceptsJSONSchema: false)),
        // Mistral reports usage on its last chunk unasked and rejects fields it does not know.
        ProviderPreset("mistral", .openai, "https://api.mistral.ai/v1", quirks: ServerQuirks(sendsStreamOptions: false)),
        ProviderPreset("together", .openai, "https://api.together.xyz/v1"),
        // llama.cpp's Gemma chat format drops `system` messages, which would silence the persona,
        // and llama-cpp-python generates one answer at a time, with JSON mode only.
        ProviderPreset("local", .openai, "http://127.0.0.1:8080/v1", keyRequired: false,
                       quirks: ServerQuirks(acceptsSystemRole: false, maxConcurrentRequests: 1, acceptsJSONSchema: false)),
    ]

    public static func named(_ name: String) -> ProviderPreset? {
        all.first { $0.name == name.lowercased() }
    }

    /// `OPENAI_API_KEY` for `openai`, `MY_PROXY_API_KEY` for `my-proxy`.
    public static func keyVariable(for provider: String) -> String {
        environmentStem(provider) + "_API_KEY"
    }

    public static func baseURLVariable(for provider: String) -> String {
        environmentStem(provider) + "_BASE_URL"
    }

    private static func environmentStem(_ provider: String) -> String {
        String(provider.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}

/// Why a provider cannot be used as configured.
public enum ProviderSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownProvider(String)
    case missingKey(provider: String, variable: String)

    public var description: String {
        switch self {
        case .unknownProvider(let name):
            let known = ProviderPreset.all.map(\.name).joined(separator: ", ")
            return "unknown provider \(ConfigIssue.echo(name)). Known providers: \(known). To add another OpenAI-compatible server, "
                + "add it to config.yaml under providers: with type: openai and base_url:"
        case .missingKey(let provider, let variable):
            return "no API key for \(provider): set the environment variable \(variable) (export \(variable)=…), "
                + "or name another variable with providers.\(provider).api_key_env in config.yaml"
        }
    }
}

/// Resolves a provider name to an endpoint from presets, the config and the environment.
public struct ProviderDirectory: Sendable {
    public var config: Config
    public var environment: [String: String]
    /// The local model server whose port the `local` provider follows.
    public var local: LocalServer?

    public init(config: Config, environment: [String: String] = ProcessInfo.processInfo.environment, local: LocalServer? = nil) {
        self.config = config
        self.environment = environment
        self.local = local
    }

    /// Every provider name known: presets, then the config's own.
    public var names: [String] {
        let presets = ProviderPreset.all.map(\.name)
        return presets + config.providers.keys.filter { !presets.contains($0) }.sorted()
    }

    /// The endpoint for `name`. Base URL: `<NAME>_BASE_URL` (or `OLLAMA_HOST`), then the config,
    /// then the preset. Key: the config's `api_key_env`, then the preset's variables.
    public func endpoint(for name: String) throws -> ProviderEndpoint {
        let name = name.lowercased()
        let preset = ProviderPreset.named(name)
        let settings = config.providers[name]
        guard let type = settings?.type ?? preset?.type else {
            if settings != nil, settings?.baseURL != nil {
                return try makeEndpoint(name: name, type: .openai, preset: nil, settings: settings)
            }
            throw ProviderSetupError.unknownProvider(name)
        }
        return try makeEndpoint(name: name, type: type, preset: preset, settings: settings)
    }

    private func makeEndpoint(name: String, type: ProviderType, preset: ProviderPreset?, settings: ProviderSettings?) throws -> ProviderEndpoint {
        guard let baseURL = baseURL(for: name, preset: preset, settings: settings) else {
            throw ProviderSetupError.unknownProvider(name)
        }
        let variables = settings?.apiKeyEnv.map { [$0] } ?? preset?.keyEnvironment ?? [ProviderPreset.keyVariable(for: name)]
        let key = variables.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        let required = settings?.apiKeyEnv != nil || (preset?.keyRequired ?? false)
        if required, key == nil {
            throw ProviderSetupError.missingKey(provider: name, variable: variables[0])
        }
        var headers = HTTPHeaders()
        for (field, value) in (settings?.headers ?? [:]).sorted(by: { $0.key < $1.key }) { headers.add(field, value) }
        return ProviderEndpoint(
            name: name, type: type, baseURL: baseURL, apiKey: key, apiKeyEnv: variables[0], keyRequired: required,
            quirks: preset?.quirks ?? ServerQuirks(),
            keepAlive: settings?.keepAlive, extraHeaders: headers)
    }

    private func baseURL(for name: String, preset: ProviderPreset?, settings: ProviderSettings?) -> String? {
        if let fromEnvironment = environment[ProviderPreset.baseURLVariable(for: name)], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        if name == "ollama", let host = environment["OLLAMA_HOST"], !host.isEmpty {
            return Self.ollamaURL(fromHost: host)
        }
        if name == "local", settings?.baseURL == nil, let running = local?.running { return running.baseURL }
        return settings?.baseURL ?? preset?.baseURL
    }

    /// `OLLAMA_HOST` may be `host`, `host:port`, `:port` or a full URL.
    static func ollamaURL(fromHost host: String) -> String {
        if host.hasPrefix("http://") || host.hasPrefix("https://") { return host }
        var address = host
        if address.hasPrefix(":") { address = "127.0.0.1" + address }
        if !address.contains(":") { address += ":11434" }
        if address.hasPrefix("0.0.0.0") { address = "127.0.0.1" + address.dropFirst("0.0.0.0".count) }
        return "http://" + address
    }
}
