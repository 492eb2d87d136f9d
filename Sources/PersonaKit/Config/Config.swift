import Foundation
import Yams

/// Settings for one provider from `providers:` in `config.yaml`.
public struct ProviderSettings: Sendable, Equatable {
    public var type: ProviderType?
    public var baseURL: String?
    public var apiKeyEnv: String?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var keepAlive: String?
    public var headers: [String: String] = [:]

    public init() {}
}

public struct RetrySettings: Sendable, Equatable {
    public var maxRetries = 3
    public var baseDelay = 1.0
    public var maxDelay = 60.0
}

public struct CircuitBreakerSettings: Sendable, Equatable {
    public var failureThreshold = 5
    public var cooldown = 60.0
}

public struct TimeoutSettings: Sendable, Equatable {
    public var connect = 10.0
    /// The longest silence mid-stream: no complete event for this long ends the attempt.
    public var streamIdle = 30.0
    /// The longest one attempt at a turn may take in all.
    public var turn = 600.0

    public var transport: TransportTimeouts { TransportTimeouts(connect: connect, idle: streamIdle, total: turn) }
}

public struct BudgetSettings: Sendable, Equatable {
    public var sessionUSD: Decimal?
    public var dailyUSD: Decimal?
    public var warnAt: Decimal = Decimal(string: "0.8")!
}

/// A price entry from `prices:`. The file gives USD per million tokens; these are picodollars
/// per token, as `TokenPrices` keeps them.
public struct PriceSettings: Sendable, Equatable {
    public var input: Int64?
    public var cachedInput: Int64?
    public var cacheWrite: Int64?
    public var cacheWrite1h: Int64?
    public var output: Int64?
    public var batchInput: Int64?
    public var batchOutput: Int64?
    public var batchCachedInput: Int64?
    public var batchCacheWrite: Int64?
    public var contextWindow: Int?
    public var maxInput: Int?
    public var maxOutput: Int?

    public init() {}
}

/// Where Anthropic requests place `cache_control` breakpoints (`prompt_cache:`).
public enum PromptCacheSetting: String, Sendable, Equatable, CaseIterable {
    /// On the persona's pinned system prompt and on the last message of a growing conversation,
    /// cached for five minutes.
    case auto
    case off
    /// As `auto`, cached for an hour (writes cost more).
    case oneHour = "1h"
}

/// Everything `config.yaml` can say (DESIGN.md §7). Every key is known from the start, even where
/// the feature behind it arrives later; an unknown key is a warning, never an error.
public struct Config: Sendable, Equatable {
    public var defaultModel: ModelRef?
    public var defaultPersonas: [String] = []
    /// Absolute paths, resolved against the config file's folder.
    public var personasDirs: [String] = []
    public var providers: [String: ProviderSettings] = [:]
    public var failoverChains: [String: [ModelRef]] = [:]
    public var retry = RetrySettings()
    public var circuitBreaker = CircuitBreakerSettings()
    public var timeouts = TimeoutSettings()
    public var budget = BudgetSettings()
    public var prices: [String: PriceSettings] = [:]
    public var pricesFile: String?
    public var promptCache = PromptCacheSetting.auto
    /// The most MiB one streamed line or event may hold (`limits.event_mib`).
    public var eventMiB = 16
    /// How many times an answer that breaks its schema is sent back to be fixed, unless a
    /// persona's `schema_repair:` says otherwise.
    public var schemaRepair = 1
    /// The field of structured answers a debate reads consensus from (`consensus_field:`).
    public var consensusField: String?
    /// A council's chairman (`chairman:`), else its first member.
    public var chairman: String?
    /// How often each council reviewer judges: 2 adds a pass with the order reversed (`review_orders:`).
    public var reviewOrders = 1
    /// `serve:`: the gateway's client keys.
    public var serve = ServeSettings()
    /// Whether the chat screen opens in blind mode (`blind:`).
    public var blind = false
    /// Whether a council reviewer is shown its own answer (`self_review:`).
    public var selfReview = CouncilBallot.SelfReview.recuse
    /// `max_tool_steps`, `tool_timeout`.
    public var tools = ToolSettings()
    /// `mcp_servers`: the MCP servers personas' tools may come from.
    public var mcpServers: [String: MCPServerSettings] = [:]
    /// The line each top-level key stands on, for problems found once the personas are known.
    public var lines: [String: Int] = [:]

    public init() {}

    static let topLevelKeys: Set<String> = [
        "default_model", "default_personas", "personas_dirs", "providers", "failover_chains", "retry",
        "circuit_breaker", "timeouts", "budget", "prices", "prices_file", "prompt_cache", "limits",
        "schema_repair", "consensus_field", "max_tool_steps", "tool_timeout", "mcp_servers", "chairman", "review_orders",
        "self_review", "blind", "serve",
    ]
    static let providerKeys: Set<String> = ["type", "base_url", "api_key_env", "rpm", "tpm", "keep_alive", "headers"]

    /// Parses `text`; problems are returned with their lines, and what could be read is kept.
    public static func parse(_ text: String, file: String, baseDirectory: String) -> (Config, [ConfigIssue]) {
        var reader = YAMLFieldReader(file: file)
        var config = Config()
        var defaultModelNode: Node?
        guard let root = reader.compose(text) else { return (config, reader.issues) }
        if case .scalar(let scalar) = root, scalar.string.isEmpty { return (config, reader.issues) }
        for (key, keyNode, value) in reader.entries(root, field: nil, known: topLevelKeys) {
            config.lines[key] = reader.line(of: keyNode)
            switch key {
            case "default_model":
                config.defaultModel = reader.modelRef(value, key)
                defaultModelNode = value
            case "default_personas": config.defaultPersonas = reader.stringList(value, key) ?? []
            case "personas_dirs":
                config.personasDirs = (reader.stringList(value, key) ?? []).map { resolvePath($0, relativeTo: baseDirectory) }
            case "providers":
                for (name, _, settings) in reader.entries(value, field: key, known: nil) {
                    config.providers[name.lowercased()] = parseProvider(settings, field: "providers.\(name)", reader: &reader)
                }
            case "failover_chains":
                for (name, _, chain) in reader.entries(value, field: key, known: nil) {
                    guard case .sequence(let items) = chain else {
                        reader.error(chain, "failover_chains.\(name)", "expected a list of provider:model")
                        continue
                    }
                    config.failoverChains[name] = items.compactMap { reader.modelRef($0, "failover_chains.\(name)") }
                }
            case "retry":
                for (field, _, item) in reader.entries(value, field: key, known: ["max_retries", "base_delay", "max_delay"]) {
                    let path = "retry.\(field)"
                    switch field {
                    case "max_retries": config.retry.maxRetries = reader.int(item, path, range: 0...20) ?? config.retry.maxRetries
                    case "base_delay": config.retry.baseDelay = reader.double(item, path, range: 0...600) ?? config.retry.baseDelay
                    default: config.retry.maxDelay = reader.double(item, path, range: 0...3600) ?? config.retry.maxDelay
                    }
                }
            case "circuit_breaker":
                for (field, _, item) in reader.entries(value, field: key, known: ["failure_threshold", "cooldown"]) {
                    let path = "circuit_breaker.\(field)"
                    if field == "failure_threshold" {
                        config.circuitBreaker.failureThreshold = reader.int(item, path, range: 1...1000) ?? config.circuitBreaker.failureThreshold
                    } else {
                        config.circuitBreaker.cooldown = reader.double(item, path, range: 0...86_400) ?? config.circuitBreaker.cooldown
                    }
                }
            case "timeouts":
                for (field, _, item) in reader.entries(value, field: key, known: ["connect", "stream_idle", "turn"]) {
                    let path = "timeouts.\(field)"
                    switch field {
                    case "connect": config.timeouts.connect = reader.double(item, path, range: 0.1...600) ?? config.timeouts.connect
                    case "turn": config.timeouts.turn = reader.double(item, path, range: 1...86_400) ?? config.timeouts.turn
                    default: config.timeouts.streamIdle = reader.double(item, path, range: 0.1...3600) ?? config.timeouts.streamIdle
                    }
                }
            case "budget":
                for (field, _, item) in reader.entries(value, field: key, known: ["session_usd", "daily_usd", "warn_at"]) {
                    let path = "budget.\(field)"
                    switch field {
                    case "session_usd": config.budget.sessionUSD = reader.cap(item, path)
                    case "daily_usd": config.budget.dailyUSD = reader.cap(item, path)
                    default:
                        if let warnAt = reader.decimal(item, path) {
                            if warnAt > 1 { reader.error(item, path, "a fraction of the budget between 0 and 1, such as 0.8") }
                            else { config.budget.warnAt = warnAt }
                        }
                    }
                }
            case "prices":
                for (model, keyNode, entry) in reader.entries(value, field: key, known: nil) {
                    if (try? ModelRef(parsing: model)) == nil {
                        reader.error(keyNode, "prices", "\(ConfigIssue.echo(model)) is not provider:model")
                        continue
                    }
                    config.prices[model] = parsePrice(entry, field: "prices.\(model)", reader: &reader)
                }
            case "limits":
                for (field, _, item) in reader.entries(value, field: key, known: ["event_mib"]) {
                    config.eventMiB = reader.int(item, "limits.\(field)", range: 1...1024) ?? config.eventMiB
                }
            case "max_tool_steps": config.tools.maxSteps = reader.int(value, key, range: 1...100) ?? config.tools.maxSteps
            case "tool_timeout": config.tools.timeout = reader.double(value, key, range: 0.1...3600) ?? config.tools.timeout
            case "mcp_servers":
                for (name, nameNode, settings) in reader.entries(value, field: key, known: nil) {
                    if let problem = Self.serverNameProblem(name) { reader.error(nameNode, "mcp_servers", problem) }
                    else if let server = parseMCPServer(settings, field: "mcp_servers.\(name)", base: baseDirectory, reader: &reader) {
                        config.mcpServers[name] = server
                    }
                }
            case "consensus_field":
                config.consensusField = reader.string(value, key)?.trimmingCharacters(in: .whitespaces)
            case "chairman":
                config.chairman = reader.string(value, key)?.trimmingCharacters(in: .whitespaces)
            case "serve":
                for (field, _, item) in reader.entries(value, field: key, known: ["keys"]) where field == "keys" {
                    for (name, nameNode, settings) in reader.entries(item, field: "serve.keys", known: nil) {
                        let path = "serve.keys.\(name)"
                        var gatewayKey = GatewayKey(name: name, keyEnv: "")
                        for (setting, _, node) in reader.entries(settings, field: path, known: ["key_env", "role", "daily_usd"]) {
                            switch setting {
                            case "key_env": gatewayKey.keyEnv = reader.string(node, path + ".key_env") ?? ""
                            case "role":
                                guard let text = reader.string(node, path + ".role") else { continue }
                                if let role = GatewayKey.Role(rawValue: text.lowercased()) { gatewayKey.role = role }
                                else { reader.error(node, path + ".role", "use client or admin, got \(ConfigIssue.echo(text))") }
                            default: gatewayKey.dailyUSD = reader.cap(node, path + ".daily_usd")
                            }
                        }
                        if gatewayKey.keyEnv.isEmpty {
                            reader.error(nameNode, path, "needs key_env: the environment variable that holds the key")
                        } else {
                            config.serve.keys.append(gatewayKey)
                        }
                    }
                }
            case "blind":
                config.blind = reader.bool(value, key) ?? config.blind
            case "review_orders":
                config.reviewOrders = reader.int(value, key, range: 1...2) ?? config.reviewOrders
            case "self_review":
                guard let text = reader.string(value, key) else { continue }
                if let setting = CouncilBallot.SelfReview(rawValue: text.lowercased()) {
                    config.selfReview = setting
                } else {
                    reader.error(value, key, "use recuse or include, got \(ConfigIssue.echo(text))")
                }
            case "schema_repair":
                config.schemaRepair = reader.int(value, key, range: Persona.repairRange) ?? config.schemaRepair
            case "prompt_cache":
                guard let text = reader.string(value, key) else { continue }
                if let setting = PromptCacheSetting(rawValue: text.lowercased()) {
                    config.promptCache = setting
                } else {
                    reader.error(value, key, "use one of \(PromptCacheSetting.allCases.map(\.rawValue).joined(separator: ", ")), got \(ConfigIssue.echo(text))")
                }
            default:
                if let path = reader.string(value, key) { config.pricesFile = resolvePath(path, relativeTo: baseDirectory) }
            }
        }
        if let model = config.defaultModel, ProviderPreset.named(model.provider) == nil, config.providers[model.provider] == nil {
            reader.error(defaultModelNode, "default_model", "unknown provider \(ConfigIssue.echo(model.provider)); use one of "
                + ProviderPreset.all.map(\.name).joined(separator: ", ") + ", or add it under providers:")
        }
        return (config, reader.issues)
    }

    /// A server's name is part of its tools' names, which providers limit to letters, digits, `_` and `-`.
    static func serverNameProblem(_ name: String) -> String? {
        let fine = !name.isEmpty && name.count <= 32 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        return fine ? nil : "\(ConfigIssue.echo(name)) is not a server name: use up to 32 letters, digits, _ and -"
    }

    private static func parseMCPServer(_ node: Node, field: String, base: String, reader: inout YAMLFieldReader) -> MCPServerSettings? {
        var command: String?
        var settings = MCPServerSettings(command: "")
        for (key, _, value) in reader.entries(node, field: field, known: ["command", "args", "env", "cwd"]) {
            let path = "\(field).\(key)"
            switch key {
            case "command": command = reader.string(value, path)
            case "args": settings.args = reader.stringList(value, path) ?? []
            case "env":
                for (variable, _, text) in reader.entries(value, field: path, known: nil) {
                    if let text = reader.string(text, "\(path).\(variable)") { settings.env[variable] = text }
                }
            default: settings.cwd = reader.string(value, path).map { resolvePath($0, relativeTo: base) }
            }
        }
        guard let command, !command.trimmingCharacters(in: .whitespaces).isEmpty else {
            reader.error(node, field, "a server needs a command, such as { command: mcp-server-time, args: [--local-timezone, UTC] }")
            return nil
        }
        settings.command = command
        return settings
    }

    private static func parseProvider(_ node: Node, field: String, reader: inout YAMLFieldReader) -> ProviderSettings {
        var settings = ProviderSettings()
        for (key, _, value) in reader.entries(node, field: field, known: providerKeys) {
            let path = "\(field).\(key)"
            switch key {
            case "type":
                guard let text = reader.string(value, path) else { continue }
                if let type = ProviderType(rawValue: text.lowercased()) {
                    settings.type = type
                } else {
                    reader.error(value, path, "unknown type \(ConfigIssue.echo(text)); use one of \(ProviderType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            case "base_url":
                guard let url = reader.string(value, path) else { continue }
                if url.hasPrefix("http://") || url.hasPrefix("https://") {
                    settings.baseURL = url
                } else {
                    reader.error(value, path, "\(ConfigIssue.echo(url)) must start with http:// or https://")
                }
            case "api_key_env": settings.apiKeyEnv = reader.string(value, path)
            case "rpm": settings.requestsPerMinute = reader.int(value, path, range: 1...1_000_000)
            case "tpm": settings.tokensPerMinute = reader.int(value, path, range: 1...1_000_000_000)
            case "keep_alive": settings.keepAlive = reader.string(value, path)
            default:
                for (name, _, headerValue) in reader.entries(value, field: path, known: nil) {
                    settings.headers[name] = reader.string(headerValue, "\(path).\(name)")
                }
            }
        }
        return settings
    }

    static let priceKeys: Set<String> = ["input", "cached_input", "cache_write", "cache_write_1h", "output", "context_window",
                                         "max_input", "max_output", "batch_input", "batch_output", "batch_cached_input",
                                         "batch_cache_write"]

    private static func parsePrice(_ node: Node, field: String, reader: inout YAMLFieldReader) -> PriceSettings {
        var price = PriceSettings()
        for (key, _, value) in reader.entries(node, field: field, known: priceKeys) {
            let path = "\(field).\(key)"
            switch key {
            case "input": price.input = reader.tokenPrice(value, path)
            case "cached_input": price.cachedInput = reader.tokenPrice(value, path)
            case "cache_write": price.cacheWrite = reader.tokenPrice(value, path)
            case "cache_write_1h": price.cacheWrite1h = reader.tokenPrice(value, path)
            case "output": price.output = reader.tokenPrice(value, path)
            case "batch_input": price.batchInput = reader.tokenPrice(value, path)
            case "batch_output": price.batchOutput = reader.tokenPrice(value, path)
            case "batch_cached_input": price.batchCachedInput = reader.tokenPrice(value, path)
            case "batch_cache_write": price.batchCacheWrite = reader.tokenPrice(value, path)
            case "context_window": price.contextWindow = reader.int(value, path, range: 1...100_000_000)
            case "max_input": price.maxInput = reader.int(value, path, range: 1...100_000_000)
            default: price.maxOutput = reader.int(value, path, range: 1...100_000_000)
            }
        }
        return price
    }

    /// Expands `~` and makes a relative path absolute against `directory`.
    static func resolvePath(_ path: String, relativeTo directory: String) -> String {
        var expanded = path
        if expanded == "~" || expanded.hasPrefix("~/") {
            expanded = FileManager.default.homeDirectoryForCurrentUser.path + expanded.dropFirst()
        }
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded).standardizedFileURL.path }
        return URL(fileURLWithPath: directory).appendingPathComponent(expanded).standardizedFileURL.path
    }
}
