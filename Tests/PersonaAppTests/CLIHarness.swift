import Foundation
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

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try runTogether([arguments], environment: environment)[0]
    }

    /// Starts every command at once, as separate processes sharing the home, and waits for all.
    func runTogether(_ commands: [[String]], environment: [String: String] = [:]) throws -> [Result] {
        let started = try commands.map { try start($0, environment: environment) }
        return started.map { process, out, err in
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
        }
    }

    private func start(_ arguments: [String], environment: [String: String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments + ["--home", home.path]
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
