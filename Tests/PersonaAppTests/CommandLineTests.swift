import Foundation
import PersonaKit
import XCTest

/// The command line's own surface: the version, completion scripts, and files or names that do
/// not exist.
final class CommandLineTests: XCTestCase {
    var cli: CLI!

    override func setUpWithError() throws { cli = try CLI() }
    override func tearDown() { cli.remove() }

    func testVersion() throws {
        let result = try cli.runWithoutHome(["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, PersonaVersion.number + "\n")
    }

    func testCompletionScriptsForEveryShell() throws {
        for (shell, marker) in [("bash", "complete -o filenames -F _persona persona"), ("zsh", "#compdef persona"),
                                ("fish", "complete -c 'persona'")] {
            let result = try cli.runWithoutHome(["completions", shell])
            XCTAssertEqual(result.status, 0, shell)
            XCTAssertTrue(result.stdout.contains(marker), shell)
            XCTAssertTrue(result.stdout.contains("sessions"), shell)
        }
        let unknown = try cli.runWithoutHome(["completions", "tcsh"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.stderr, "persona: completions: no shell 'tcsh'; use bash, zsh or fish\n")
    }

    func testAMissingOrUnreadableFileExitsTwoWithOneLine() throws {
        let folder = cli.home.path
        let cases: [([String], String)] = [
            (["sessions", "import", "/nonexistent/export.json"], "persona: /nonexistent/export.json: no such file (the export to import)\n"),
            (["sessions", "import", folder], "persona: \(folder): is a folder, not a file (the export to import)\n"),
            (["models", "--prices", "/nonexistent/prices.json"], "persona: /nonexistent/prices.json: no such file (--prices)\n"),
            (["ask", "hi", "--model", "openai:gpt-4o-mini", "--prices", "/nonexistent/p.json"],
             "persona: /nonexistent/p.json: no such file (--prices)\n"),
            (["prices", "update", "--from", "/nonexistent/list.json"], "persona: /nonexistent/list.json: no such file (--from)\n"),
        ]
        for (arguments, message) in cases {
            let result = try cli.run(arguments)
            XCTAssertEqual(result.status, 2, arguments.joined(separator: " "))
            XCTAssertEqual(result.stderr, message)
            XCTAssertEqual(result.stdout, "")
        }
        let binary = cli.home.appendingPathComponent("binary.json")
        try Data([0xFF, 0xFE, 0x00, 0xC3]).write(to: binary)
        let unreadable = try cli.run(["sessions", "import", binary.path])
        XCTAssertEqual(unreadable.status, 2)
        XCTAssertEqual(unreadable.stderr, "persona: \(binary.path): cannot be read as UTF-8 text (the export to import)\n")
    }

    func testAnUnknownProviderIsNamedWithTheKnownOnes() throws {
        let result = try cli.run(["models", "--provider", "nope"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix("persona: --provider: no provider 'nope'; known: anthropic, "), result.stderr)
        XCTAssertTrue(result.stderr.contains("openai"))
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(try cli.run(["models", "--provider", "OpenAI"]).status, 0)
    }

    func testPersonasListAndConfigShowTheModelAndRosterAStartWouldUse() throws {
        let environment = ["OPENAI_API_KEY": "sk-listing", "OLLAMA_HOST": "http://127.0.0.1:9"]
        let listed = try cli.run(["personas", "list"], environment: environment)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("`persona` opens with skeptic, optimist, pragmatist (the starter roster; "), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("Personas without a model of their own answer with openai:"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("(chosen at start: OPENAI_API_KEY is set, so openai:"), listed.stdout)
        XCTAssertFalse(listed.stdout.contains("set default_model"), "a key picks a model; nothing asks for one")
        XCTAssertTrue(listed.stdout.contains(" (default)"), listed.stdout)

        let shown = try cli.run(["config", "show"], environment: environment)
        XCTAssertTrue(shown.stdout.contains("# Personas without a model of their own answer with openai:"), shown.stdout)

        let nothing = try cli.run(["personas", "list"], environment: ["OLLAMA_HOST": "http://127.0.0.1:9"])
        XCTAssertTrue(nothing.stdout.contains("Personas without a model of their own have none yet: set an API key, start Ollama, "
                                              + "or run `persona local setup`."), nothing.stdout)
        try "default_personas: [skeptic]\ndefault_model: anthropic:claude-haiku-4-5\n"
            .write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let configured = try cli.run(["personas", "list"], environment: environment)
        XCTAssertTrue(configured.stdout.contains("`persona` opens with skeptic (default_personas in the config)."), configured.stdout)
        XCTAssertTrue(configured.stdout.contains("answer with anthropic:claude-haiku-4-5 (default_model in the config)."))
    }
}
