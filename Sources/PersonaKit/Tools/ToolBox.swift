import Foundation

/// How tool loops run (`max_tool_steps`, `tool_timeout` in config.yaml).
public struct ToolSettings: Sendable, Equatable {
    /// Requests a turn may take, the first one included.
    public var maxSteps: Int
    /// Seconds a tool may take before its call goes back to the model as an error.
    public var timeout: Double

    public init(maxSteps: Int = 8, timeout: Double = 30) {
        self.maxSteps = maxSteps
        self.timeout = timeout
    }
}

/// The tools personas may call: the built-ins, and the tools of the configured MCP servers, each
/// server started on its first use and shut down by `shutdown()`.
///
/// The model knows an MCP tool as `server_tool`, which every provider accepts as a name; people
/// read it as `server/tool`.
public actor ToolBox {
    public nonisolated let servers: [String: MCPServerSettings]
    nonisolated let logsDirectory: String
    nonisolated let knowledge: KnowledgeBase?
    private var clients: [String: MCPClient] = [:]
    private var started: [String: Result<[MCPTool], MCPError>] = [:]
    private var starting: [String: Task<[MCPTool], Error>] = [:]
    /// Model-facing names of MCP tools, to their server and tool.
    private var routes: [String: (server: String, tool: String)] = [:]

    public init(servers: [String: MCPServerSettings] = [:], logsDirectory: String, knowledge: KnowledgeBase? = nil) {
        self.servers = servers
        self.logsDirectory = logsDirectory
        self.knowledge = knowledge
    }

    // MARK: Names

    /// Why `name` names no tool, given the configured servers; nil when it does. A server's own
    /// tools are only known once it runs, so `server/tool` is checked for its server here.
    public static func problem(with name: String, servers: Set<String>) -> String? {
        if Builtins.all.contains(where: { $0.name == name }) || servers.contains(name) { return nil }
        if let slash = name.firstIndex(of: "/"), servers.contains(String(name[..<slash])), name.index(after: slash) < name.endIndex {
            return nil
        }
        let known = Builtins.all.map(\.name) + servers.sorted()
        return "unknown tool \(ConfigIssue.echo(name)): use a built-in or an MCP server from mcp_servers, or server/tool (known: "
            + known.joined(separator: ", ") + ")"
    }

    /// How a person reads a tool's name: `time/get_current_time` for an MCP tool.
    public func label(_ name: String) -> String {
        routes[name].map { "\($0.server)/\($0.tool)" } ?? name
    }

    // MARK: Definitions

    /// The definitions of the named tools (built-ins, whole servers, `server/tool`), starting the
    /// servers they need. A server that cannot start, or a tool it does not have, is an error
    /// that names the command and its log.
    public func definitions(for names: [String]) async throws -> [ToolDefinition] {
        var definitions: [ToolDefinition] = []
        for name in names {
            if let builtin = Builtins.all.first(where: { $0.name == name }) {
                definitions.append(builtin)
                continue
            }
            let (server, only) = name.firstIndex(of: "/").map { (String(name[..<$0]), String(name[name.index(after: $0)...])) } ?? (name, nil)
            let tools = try await tools(of: server)
            let chosen = only.map { wanted in tools.filter { $0.name == wanted } } ?? tools
            if let only, chosen.isEmpty {
                throw MCPError(description: "MCP server \(server) has no tool \(only) (it has: \(tools.map(\.name).joined(separator: ", ")))")
            }
            for tool in chosen {
                let exposed = Self.exposedName(server: server, tool: tool.name)
                routes[exposed] = (server, tool.name)
                definitions.append(ToolDefinition(name: exposed, description: tool.description, parameters: tool.inputSchema))
            }
        }
        var seen: Set<String> = []
        return definitions.filter { seen.insert($0.name).inserted }
    }

    static func exposedName(server: String, tool: String) -> String {
        String((server + "_" + tool).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" }.prefix(64))
    }

    /// A server's tools, starting it the first time. Turns that need it at once wait for the
    /// same start: one process per server.
    private func tools(of server: String) async throws -> [MCPTool] {
        if let known = started[server] { return try known.get() }
        if let pending = starting[server] { return try await pending.value }
        guard let settings = servers[server] else { throw MCPError(description: "no MCP server named \(server) in mcp_servers") }
        let client = MCPClient(name: server, settings: settings, logPath: logPath(server))
        clients[server] = client
        let log = logPath(server)
        let start = Task { () throws -> [MCPTool] in
            do {
                return try await client.start(timeout: 30)
            } catch {
                client.shutdown()
                throw MCPError(description: "MCP server \(server) did not start (\(settings.commandLine)): \(error); its log: \(log)")
            }
        }
        starting[server] = start
        defer { starting[server] = nil }
        do {
            let tools = try await start.value
            started[server] = .success(tools)
            return tools
        } catch let failure as MCPError {
            started[server] = .failure(failure)
            throw failure
        }
    }

    nonisolated func logPath(_ server: String) -> String {
        URL(fileURLWithPath: logsDirectory).appendingPathComponent("mcp-\(server).log").path
    }

    /// What `persona doctor` and F4 show of each configured server.
    public struct ServerStatus: Sendable, Equatable {
        public var name: String
        public var command: String
        /// `not started`, `running`, `exited`, or why it failed.
        public var state: String
        public var tools: [String]
        public var log: String
    }

    public func status() -> [ServerStatus] {
        servers.keys.sorted().map { name in
            let command = servers[name]?.commandLine ?? ""
            switch started[name] {
            case nil: return ServerStatus(name: name, command: command, state: "not started", tools: [], log: logPath(name))
            case .failure(let error)?: return ServerStatus(name: name, command: command, state: "failed: \(error)", tools: [], log: logPath(name))
            case .success(let tools)?:
                let running = clients[name]?.isRunning == true
                return ServerStatus(name: name, command: command, state: running ? "running" : "exited", tools: tools.map(\.name),
                                    log: logPath(name))
            }
        }
    }

    /// Starts every configured server, for `persona doctor`.
    public func startAll() async {
        for server in servers.keys.sorted() { _ = try? await tools(of: server) }
    }

    public func shutdown() {
        for client in clients.values { client.shutdown() }
    }

    // MARK: Calls

    /// Runs one call for `persona`. Whatever goes wrong (an unknown tool, arguments that are not
    /// a JSON object, a failure, a timeout) is an error result for the model, never a crash.
    public func run(_ call: ToolCall, for persona: Persona, timeout: Double) async -> ToolResult {
        func failure(_ text: String) -> ToolResult { ToolResult(callID: call.id, content: text, isError: true) }
        guard call.arguments.isObject else {
            return failure("the arguments are not a JSON object: \(call.arguments.string ?? call.arguments.serialized)")
        }
        if let route = routes[call.name], let client = clients[route.server] {
            do {
                let (content, isError) = try await client.call(route.tool, arguments: call.arguments, timeout: timeout)
                return ToolResult(callID: call.id, content: content, isError: isError)
            } catch is CancellationError {
                return failure("stopped by the user")
            } catch {
                return failure("\(error)")
            }
        }
        guard Builtins.all.contains(where: { $0.name == call.name }) else {
            return failure("there is no tool named \(call.name)")
        }
        do {
            return ToolResult(callID: call.id, content: try await Builtins.run(call, for: persona, knowledge: knowledge))
        } catch {
            return failure("\(error)")
        }
    }
}
