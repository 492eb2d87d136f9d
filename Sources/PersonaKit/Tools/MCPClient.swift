import Foundation
import Synchronization

/// How to start one MCP server (`mcp_servers:` in config.yaml): stdio transport.
public struct MCPServerSettings: Sendable, Equatable {
    public var command: String
    public var args: [String]
    public var env: [String: String]
    public var cwd: String?

    public init(command: String, args: [String] = [], env: [String: String] = [:], cwd: String? = nil) {
        self.command = command
        self.args = args
        self.env = env
        self.cwd = cwd
    }

    public var commandLine: String { ([command] + args).joined(separator: " ") }
}

/// A tool an MCP server offers.
public struct MCPTool: Sendable, Equatable {
    public var name: String
    public var description: String
    public var inputSchema: JSON
}

/// A failure to talk to an MCP server, with what to look at.
public struct MCPError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// A client of one MCP server over stdio: newline-delimited JSON-RPC 2.0 on the server's stdin
/// and stdout, its stderr to a log file. It initialises the server, lists its tools and calls
/// them; requests may be in flight at once, and each waits for the response with its id.
public final class MCPClient: Sendable {
    public static let protocolVersion = "2025-06-18"

    public let name: String
    public let settings: MCPServerSettings
    public let logPath: String

    private struct State {
        var process: Process?
        var input: FileHandle?
        var nextID = 1
        var pending: [Int: CheckedContinuation<JSON, Error>] = [:]
        /// Why the server cannot be used any more, once it cannot.
        var ended: String?
    }

    private let state = Mutex(State())

    public init(name: String, settings: MCPServerSettings, logPath: String) {
        self.name = name
        self.settings = settings
        self.logPath = logPath
    }

    public var isRunning: Bool { state.withLock { $0.process?.isRunning == true && $0.ended == nil } }

    /// Starts the server, initialises it and returns its tools.
    public func start(timeout: Double) async throws -> [MCPTool] {
        try launch()
        let initialize = JSON.object([
            "protocolVersion": .string(Self.protocolVersion), "capabilities": .object([:]),
            "clientInfo": .object(["name": .string("persona"), "version": .string(PersonaVersion.number)]),
        ])
        _ = try await request("initialize", initialize, timeout: timeout)
        try send(.object(["jsonrpc": .string("2.0"), "method": .string("notifications/initialized")]))
        var tools: [MCPTool] = []
        var cursor: String?
        repeat {
            let result = try await request("tools/list", cursor.map { .object(["cursor": .string($0)]) } ?? .object([:]), timeout: timeout)
            for tool in result["tools"]?.array ?? [] {
                guard let toolName = tool["name"]?.string else { continue }
                tools.append(MCPTool(name: toolName, description: tool["description"]?.string ?? "",
                                     inputSchema: tool["inputSchema"] ?? .object(["type": .string("object")])))
            }
            cursor = result["nextCursor"]?.string
        } while cursor != nil && tools.count < 1000
        return tools
    }

    /// Calls a tool; its text content is the result, marked an error when the server says so.
    public func call(_ tool: String, arguments: JSON, timeout: Double) async throws -> (content: String, isError: Bool) {
        let result = try await request("tools/call", .object(["name": .string(tool), "arguments": arguments]), timeout: timeout)
        let parts = (result["content"]?.array ?? []).map { part -> String in
            part["type"]?.string == "text" ? part["text"]?.string ?? "" : part.serialized
        }
        let structured = parts.isEmpty ? result["structuredContent"]?.serialized : nil
        return (structured ?? parts.joined(separator: "\n"), result["isError"]?.bool ?? false)
    }

    /// Closes the server's stdin, which asks it to exit; then SIGTERM, then SIGKILL.
    public func shutdown() {
        let (process, input) = state.withLock { state -> (Process?, FileHandle?) in
            if state.ended == nil { state.ended = "the server was shut down" }
            defer { state.input = nil }
            return (state.process, state.input)
        }
        try? input?.close()
        guard let process else { return }
        for signal in [Int32(0), SIGTERM, SIGKILL] {
            if signal != 0, process.isRunning { kill(process.processIdentifier, signal) }
            for _ in 0..<20 where process.isRunning { usleep(50_000) }
            if !process.isRunning { break }
        }
    }

    // MARK: The process

    private func launch() throws {
        let directory = URL(fileURLWithPath: logPath).deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = FileHandle(forWritingAtPath: logPath)
        _ = try? log?.seekToEnd()
        log?.write(Data("--- \(ISO8601DateFormatter().string(from: Date())) starting: \(settings.commandLine)\n".utf8))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [settings.command] + settings.args
        process.environment = ProcessInfo.processInfo.environment.merging(settings.env) { _, configured in configured }
        if let cwd = settings.cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = log ?? FileHandle.nullDevice
        // A server that dies must fail the write, not the whole app.
        signal(SIGPIPE, SIG_IGN)
        do {
            try process.run()
        } catch {
            throw MCPError(description: "MCP server \(name) could not start (\(settings.commandLine)): \(error)")
        }
        state.withLock { state in
            state.process = process
            state.input = stdin.fileHandleForWriting
        }
        let reader = Thread { [self] in self.read(stdout.fileHandleForReading) }
        reader.name = "mcp-\(name)"
        reader.start()
    }

    /// Reads the server's stdout line by line, handing each response to its request. At the end
    /// of the stream every request still waiting fails.
    private func read(_ handle: FileHandle) {
        var buffer: [UInt8] = []
        while true {
            let data = handle.availableData
            if data.isEmpty { break }
            buffer.append(contentsOf: data)
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                receive(line)
            }
            if buffer.count > 64 << 20 { break }
        }
        let status = state.withLock { $0.process }.map { process -> String in
            process.waitUntilExit()
            return "exited with status \(process.terminationStatus)"
        } ?? "closed its output"
        finish("MCP server \(name) \(status); see \(logPath)")
    }

    private func receive(_ line: [UInt8]) {
        guard let message = try? JSON.parse(line), let id = message["id"]?.int,
              message["result"] != nil || message["error"] != nil else { return }
        let waiting = state.withLock { $0.pending.removeValue(forKey: id) }
        if let failure = message["error"] {
            let text = failure["message"]?.string ?? failure.serialized
            waiting?.resume(throwing: MCPError(description: "MCP server \(name): \(text)"))
        } else {
            waiting?.resume(returning: message["result"] ?? .null)
        }
    }

    private func finish(_ reason: String) {
        let waiting = state.withLock { state -> [CheckedContinuation<JSON, Error>] in
            if state.ended == nil { state.ended = reason }
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for continuation in waiting { continuation.resume(throwing: MCPError(description: reason)) }
    }

    private func send(_ message: JSON) throws {
        let input = try state.withLock { state -> FileHandle in
            if let ended = state.ended { throw MCPError(description: ended) }
            guard let input = state.input else { throw MCPError(description: "MCP server \(name) is not running") }
            return input
        }
        do {
            try input.write(contentsOf: message.serializedBytes + [0x0A])
        } catch {
            throw MCPError(description: "MCP server \(name) stopped reading its input; see \(logPath)")
        }
    }

    /// Sends a request and waits for its response, for at most `timeout` seconds; a request that
    /// times out or is cancelled is cancelled on the server too.
    private func request(_ method: String, _ params: JSON, timeout: Double) async throws -> JSON {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let message = JSON.object(["jsonrpc": .string("2.0"), "id": .int(id), "method": .string(method), "params": params])
        let timer = Task {
            try await Task.sleep(nanoseconds: UInt64(max(0.001, timeout) * 1e9))
            self.abandon(id, MCPError(description: "MCP server \(self.name) did not answer \(method) within "
                + "\(CurlTransport.formatSeconds(timeout)) s (tool_timeout)"))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let refused = state.withLock { state -> String? in
                    if let ended = state.ended { return ended }
                    state.pending[id] = continuation
                    return nil
                }
                if let refused { return continuation.resume(throwing: MCPError(description: refused)) }
                // Cancelled before it was waiting: the handler below found nothing to stop.
                if Task.isCancelled { return abandon(id, CancellationError()) }
                do { try send(message) } catch { abandon(id, error) }
            }
        } onCancel: {
            abandon(id, CancellationError())
        }
    }

    /// Gives up on request `id`: it fails with `error`, and the server is told to stop it.
    private func abandon(_ id: Int, _ error: Error) {
        guard let waiting = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
        waiting.resume(throwing: error)
        try? send(.object(["jsonrpc": .string("2.0"), "method": .string("notifications/cancelled"),
                           "params": .object(["requestId": .int(id), "reason": .string("\(error)")])]))
    }
}
