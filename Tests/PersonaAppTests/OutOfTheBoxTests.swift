import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaApp

/// What a new user gets with nothing configured.
final class OutOfTheBoxTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws { cli = try CLI() }
    override func tearDown() { cli.remove() }

    /// Nothing listens on port 9, so Ollama is "not running".
    let noOllama = ["OLLAMA_HOST": "127.0.0.1:9"]

    func testAKeyPicksThatProvidersCheapestGoodModelWithoutAnyConfig() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 3) }
        defer { server.stop() }
        var environment = noOllama
        environment["OPENAI_API_KEY"] = "sk-test"
        environment["OPENAI_BASE_URL"] = server.baseURL + "/v1"
        let result = try cli.run(["ask", "Hello", "--json"], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let done = result.events.filter { $0["event"]?.string == "done" }
        XCTAssertEqual(Set(done.compactMap { $0["persona"]?.string }), ["skeptic", "optimist", "pragmatist"])
        XCTAssertTrue(done.allSatisfy { $0["model"]?.string == "gpt-6-luna" && $0["provider"]?.string == "openai" })
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("config.yaml").path))

        environment["ANTHROPIC_API_KEY"] = "sk-ant"
        environment["ANTHROPIC_BASE_URL"] = server.baseURL
        let anthropic = try cli.run(["ask", "Hello", "--json"], environment: environment)
        XCTAssertTrue(anthropic.events.filter { $0["event"]?.string == "done" }.allSatisfy { $0["model"]?.string == "claude-haiku-5-5" },
                      "Anthropic's key is checked first")
    }

    func testOllamaIsUsedWhenNoKeyIsSet() throws {
        let server = try MockServer { _ in MockBehavior(tokens: 3) }
        defer { server.stop() }
        let result = try cli.run(["ask", "Hello", "--json", "--personas", "skeptic"], environment: ["OLLAMA_HOST": server.baseURL])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.events.first { $0["event"]?.string == "done" }?["model"]?.string, "mock:latest")
        let doctor = try cli.run(["doctor", "--json"], environment: ["OLLAMA_HOST": server.baseURL])
        XCTAssertTrue(try JSON.parse(doctor.stdout)["default"]?["reason"]?.string?.contains("Ollama at") ?? false, doctor.stdout)
    }

    func testWithNothingAvailableItExplainsTheThreeWaysForward() throws {
        let result = try cli.run(["ask", "Hello"], environment: noOllama)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stdout.isEmpty, "the explanation is an error, so it goes to stderr")
        for hint in ["export ANTHROPIC_API_KEY", "ollama serve", "persona local setup"] {
            XCTAssertTrue(result.stderr.contains(hint), result.stderr)
        }
    }

    /// A stand-in for llama.cpp's server: the mock, speaking the same format and sending no usage.
    func standIn() throws -> String {
        let script = cli.home.appendingPathComponent("fake-llama-server")
        try "#!/bin/sh\nexec \"\(CLI.executable.deletingLastPathComponent().path)/persona-mock\" --no-usage \"$@\"\n"
            .write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        return script.path
    }

    func testTheLocalServerStartsAnswersWithEstimatesAndStopsCleanly() throws {
        let environment = ["PERSONA_LOCAL_SERVER": try standIn()].merging(noOllama) { $1 }
        let started = try cli.run(["local", "start"], environment: environment)
        XCTAssertEqual(started.status, 0, started.stderr)
        XCTAssertTrue(started.stdout.contains("local server running at http://127.0.0.1:"), started.stdout)
        let local = LocalServer(home: cli.home.path)
        let running = try XCTUnwrap(local.running)
        XCTAssertTrue(try cli.run(["local", "status"], environment: environment).stdout.contains("running: yes"))

        let asked = try cli.run(["ask", "Hello", "--model", "local:gemma-3-270m", "--json"], environment: environment)
        XCTAssertEqual(asked.status, 0, asked.stderr)
        let done = try XCTUnwrap(asked.events.first { $0["event"]?.string == "done" })
        XCTAssertFalse(done["text"]?.string?.isEmpty ?? true)
        XCTAssertEqual(done["estimated"], .bool(true), "the server sends no usage, so the counts stay estimates")
        XCTAssertGreaterThan(done["usage"]?["output_tokens"]?.int ?? 0, 0)
        XCTAssertEqual(done["cost_usd"], .number("0"), "a local model costs nothing")

        XCTAssertEqual(try cli.run(["local", "stop"], environment: environment).stdout, "local server stopped\n")
        XCTAssertFalse(LocalServer.isAlive(running.pid), "no process is left behind")
        XCTAssertNil(local.running)
    }

    func testWithNoKeyAndNoOllamaTheLocalServerStartsOnDemand() throws {
        let environment = ["PERSONA_LOCAL_SERVER": try standIn()].merging(noOllama) { $1 }
        defer { LocalServer(home: cli.home.path).stop() }
        let result = try cli.run(["ask", "Hello", "--personas", "skeptic", "--json"], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let done = try XCTUnwrap(result.events.first { $0["event"]?.string == "done" })
        XCTAssertEqual(done["provider"]?.string, "local")
        XCTAssertEqual(done["estimated"], .bool(true))
        XCTAssertNotNil(LocalServer(home: cli.home.path).running)
    }

    func testTheStarterConfigIsWrittenOnceAndIsValid() throws {
        let paths = PersonaPaths.resolve(home: cli.home.path, config: nil)
        XCTAssertTrue(try FirstRun.writeStarterConfig(paths))
        try "default_personas: [skeptic]\n".write(toFile: paths.configFile, atomically: true, encoding: .utf8)
        XCTAssertFalse(try FirstRun.writeStarterConfig(paths), "an existing config is never overwritten")
        XCTAssertEqual(try String(contentsOfFile: paths.configFile, encoding: .utf8), "default_personas: [skeptic]\n")
        XCTAssertEqual(Config.parse(FirstRun.starterConfig, file: "starter", baseDirectory: "/").1, [])
        XCTAssertTrue(FirstRun.shouldWelcome(paths))
        XCTAssertFalse(FirstRun.shouldWelcome(paths), "the welcome shows once")
    }

    func testConfigPathShowAndValidate() throws {
        let environment = ["OPENAI_API_KEY": "sk-very-secret"]
        XCTAssertEqual(try cli.run(["config", "path"]).stdout, cli.home.appendingPathComponent("config.yaml").path + "\n")
        let shown = try cli.run(["config", "show"], environment: environment)
        XCTAssertTrue(shown.stdout.contains("key: OPENAI_API_KEY set"), shown.stdout)
        XCTAssertTrue(shown.stdout.contains("key: ANTHROPIC_API_KEY unset"))
        XCTAssertFalse(shown.stdout.contains("sk-very-secret"), "keys are only ever set or unset")

        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        try "---\nname: X\ntemperature: warm\n---\nYou are X.\n".write(to: personas.appendingPathComponent("x.md"), atomically: true, encoding: .utf8)
        let invalid = try cli.run(["config", "validate"])
        XCTAssertEqual(invalid.status, 2)
        XCTAssertTrue(invalid.stdout.contains("x.md:3: error: temperature: expected a number, got 'warm'"), invalid.stdout)
        try FileManager.default.removeItem(at: personas.appendingPathComponent("x.md"))
        let other = cli.home.appendingPathComponent("other.yaml")
        try "retry: { max_retries: lots }\n".write(to: other, atomically: true, encoding: .utf8)
        let file = try cli.run(["config", "validate", other.path])
        XCTAssertEqual(file.status, 2)
        XCTAssertTrue(file.stdout.contains("other.yaml:1: error: retry.max_retries"), file.stdout)
        XCTAssertEqual(try cli.run(["config", "validate"]).status, 0)
    }

    func testReloadAndWelcomeAreSlashCommands() {
        var state = AppState(session: "s", panes: [], width: 80, height: 24)
        for (command, effect) in [("/reload", AppEffect.reload), ("/welcome", .showWelcome)] {
            for character in command { _ = ChatReducer.reduce(&state, .key(.character(character)), at: 0) }
            XCTAssertEqual(ChatReducer.reduce(&state, .key(.enter), at: 0), [effect])
        }
    }
}
