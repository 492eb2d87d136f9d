import Foundation
import MockProvider
import PersonaKit
import XCTest

/// The canary test: a key that every provider echoes back, in its error bodies, in stream errors
/// and in the model's own text, never appears in any output, file or database row.
final class RedactionTests: XCTestCase {
    /// One canary per provider, so that each wire format's echo is its own evidence.
    static func canary(_ provider: String) -> String {
        "sk-canary-\(provider)-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// The key the request carried, in whichever header its provider uses.
    static func key(of request: MockRequest) -> String {
        for name in ["x-api-key", "x-goog-api-key"] { if let key = request.header(name) { return key } }
        return (request.header("authorization") ?? "").replacingOccurrences(of: "Bearer ", with: "")
    }

    /// Echoes the key the way each prompt asks: in the answer, in a 401 body, or in a stream error.
    static func echo(_ request: MockRequest) -> MockBehavior {
        let key = key(of: request)
        if request.method == "GET" { return MockBehavior(status: 401, errorMessage: "Incorrect API key provided: \(key)") }
        if request.bodyText.contains("ECHO-ANSWER") { return MockBehavior(text: "Your key is \(key), as you asked.") }
        if request.bodyText.contains("ECHO-STREAM") {
            return MockBehavior(text: "Starting the answer now.", errorMessage: "key \(key) is over quota", errorAfter: 2)
        }
        return MockBehavior(status: 401, errorMessage: "Incorrect API key provided: \(key). You can find your key at …")
    }

    func testACanaryKeyNeverLeavesInAnyOutputFileOrRow() throws {
        let server = try MockServer { Self.echo($0) }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        // A stream error is not retried here: one echo per request is evidence enough.
        try "retry:\n  max_retries: 0\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let canaries = ["OPENAI_API_KEY": Self.canary("openai"), "ANTHROPIC_API_KEY": Self.canary("anthropic"),
                        "GEMINI_API_KEY": Self.canary("gemini"), "OLLAMA_API_KEY": Self.canary("ollama")]
        var environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "ANTHROPIC_BASE_URL": server.baseURL,
                           "GEMINI_BASE_URL": server.baseURL, "OLLAMA_HOST": server.baseURL]
        environment.merge(canaries) { $1 }

        var outputs: [(String, String)] = []
        func run(_ arguments: [String]) throws -> CLI.Result {
            let result = try cli.run(arguments, environment: environment)
            outputs.append((arguments.joined(separator: " "), result.stdout + result.stderr))
            return result
        }
        let models = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash", "ollama:llama3.2"]
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        for name in ["a", "b"] {
            try "---\nname: \(name)\n---\nYou are \(name).\n".write(to: personas.appendingPathComponent("\(name).md"), atomically: true, encoding: .utf8)
        }
        for model in models {
            for prompt in ["ECHO-ANSWER please", "ECHO-REFUSAL please", "ECHO-STREAM please"] {
                _ = try run(["ask", prompt, "--model", model])
                _ = try run(["ask", prompt, "--model", model, "--json"])
                _ = try run(["debate", prompt, "--personas", "a,b", "--model", model, "--rounds", "1"])
            }
        }
        _ = try run(["doctor"])
        _ = try run(["doctor", "--json"])
        let listing = try run(["sessions", "list", "--limit", "100"]).stdout
        let ids = listing.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map(String.init).flatMap { $0.range(of: #"^\d{8}-\d{6}-"#, options: .regularExpression) != nil ? $0 : nil }
        }
        XCTAssertEqual(ids.count, models.count * 3, listing)
        for id in ids {
            _ = try run(["sessions", "show", id])
            _ = try run(["sessions", "export", id])
            _ = try run(["sessions", "export", id, "--format", "json"])
        }
        for report in ["summary", "entries", "by-model"] {
            _ = try run(["costs", report])
            _ = try run(["costs", report, "--json"])
        }

        // The echoes happened, and what they said is there with the key masked.
        let everything = outputs.map(\.1).joined(separator: "\n")
        for (variable, canary) in canaries {
            XCTAssertTrue(everything.contains(Secrets.masked(canary)), "\(variable)'s echo is shown masked")
        }
        XCTAssertEqual(server.requests.filter { Self.key(of: $0).isEmpty }.count, 0, "every request carried its key")

        for (command, output) in outputs {
            for (variable, canary) in canaries {
                XCTAssertFalse(output.contains(canary), "`persona \(command)` printed \(variable)")
            }
        }
        for (variable, canary) in canaries {
            XCTAssertFalse(try Self.databaseDump(cli.home).contains(canary), "the database dump holds \(variable)")
            for file in try Self.files(under: cli.home) {
                let bytes = try Data(contentsOf: file)
                XCTAssertNil(bytes.range(of: Data(canary.utf8)), "\(file.lastPathComponent) holds \(variable)")
            }
        }
    }

    /// Every row of every table, dumped by Python's sqlite3 rather than by Persona's own code.
    static func databaseDump(_ home: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3, sys\nfor line in sqlite3.connect(sys.argv[1]).iterdump(): print(line)",
                             home.appendingPathComponent("persona.db").path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let dump = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let text = String(decoding: dump, as: UTF8.self)
        XCTAssertTrue(text.contains("INSERT INTO \"messages\""), "the dump has the transcripts")
        return text
    }

    static func files(under directory: URL) throws -> [URL] {
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])
        return (enumerator?.allObjects as? [URL] ?? []).filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
    }
}
