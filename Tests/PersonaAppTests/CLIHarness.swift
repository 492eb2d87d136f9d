import Foundation
import MockProvider
import PersonaKit
import XCTest

/// Runs the built `persona` binary as a user would, with a controlled environment.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The JSON-lines events printed on stdout.
        var events: [JSON] {
            stdout.split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
        }
    }

    /// The binary sits beside the test bundle in the build folder.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("persona")
    }

    let home: URL

    init() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("persona-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: home) }

    /// OpenAI, Anthropic, Gemini and Ollama, all at the loopback mock, with keys where they need one.
    static func providers(at server: MockServer) -> [String: String] {
        ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k", "ANTHROPIC_BASE_URL": server.baseURL, "ANTHROPIC_API_KEY": "k",
         "GEMINI_BASE_URL": server.baseURL, "GEMINI_API_KEY": "k", "OLLAMA_HOST": server.baseURL]
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try runTogether([arguments], environment: environment)[0]
    }

    /// Runs a command that takes no `--home`, such as `completions`.
    func runWithoutHome(_ arguments: [String]) throws -> Result {
        try collect(start(arguments, environment: [:], home: false))
    }

    /// Starts every command at once, as separate processes sharing the home, and waits for all.
    func runTogether(_ commands: [[String]], environment: [String: String] = [:]) throws -> [Result] {
        let started = try commands.map { try start($0, environment: environment) }
        return started.map(collect)
    }

    private func collect(_ started: (Process, Pipe, Pipe)) -> Result {
        let (process, out, err) = started
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Starts a command and returns at once, for tests that signal it while it runs.
    func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        let (process, out, err) = try start(arguments, environment: environment)
        return Running(process: process, stdout: out, stderr: err)
    }

    private func start(_ arguments: [String], environment: [String: String], home withHome: Bool = true) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments + (withHome ? ["--home", home.path] : [])
        var base = ["PATH": "/usr/bin:/bin", "HOME": home.path, "NO_COLOR": "1"]
        base.merge(environment) { _, new in new }
        process.environment = base
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }
}

/// A `persona` process still running, with its output collected as it comes.
final class Running: @unchecked Sendable {
    let process: Process
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private let done = DispatchGroup()

    init(process: Process, stdout: Pipe, stderr: Pipe) {
        self.process = process
        collect(stdout) { data in self.lock.withLock { self.out.append(data) } }
        collect(stderr) { data in self.lock.withLock { self.err.append(data) } }
    }

    private func collect(_ pipe: Pipe, into append: @escaping @Sendable (Data) -> Void) {
        done.enter()
        Thread {
            while true {
                let data = pipe.fileHandleForReading.availableData
                if data.isEmpty { break }
                append(data)
            }
            self.done.leave()
        }.start()
    }

    var stdoutSoFar: String { lock.withLock { String(decoding: out, as: UTF8.self) } }

    /// Waits until stdout holds `text`; false if the process ended or `seconds` passed first.
    func waitFor(_ text: String, upTo seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stdoutSoFar.contains(text) { return true }
            if !process.isRunning { return stdoutSoFar.contains(text) }
            usleep(20_000)
        }
        return false
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    func finish() -> CLI.Result {
        process.waitUntilExit()
        done.wait()
        return lock.withLock {
            CLI.Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                       stderr: String(decoding: err, as: UTF8.self))
        }
    }
}
