import Foundation
import MockProvider
import PersonaKit
import XCTest

/// `persona ask` end to end: the real binary, real libcurl, the loopback mock.
final class AskCLITests: XCTestCase {
    var server: MockServer!
    var cli: CLI!

    override func setUpWithError() throws {
        server = try MockServer()
        cli = try CLI()
        // These tests are about how failures are reported; retrying is covered on its own.
        try "retry: { max_retries: 0 }\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        server.stop()
        cli.remove()
    }

    /// Points a provider at the mock, with a recognisable key where the provider needs one.
    func environment(for provider: String) -> [String: String] {
        let preset = ProviderPreset.named(provider)!
        let suffix = preset.type == .openai ? "/v1" : ""
        var environment = [ProviderPreset.baseURLVariable(for: provider): server.baseURL + suffix]
        if preset.keyRequired { environment[ProviderPreset.keyVariable(for: provider)] = "sk-\(provider)-secret-key" }
        return environment
    }

    func testAskJSONStreamsFromEveryProviderAndPreset() throws {
        for preset in ProviderPreset.all {
            server.clearLog()
            let result = try cli.run(["ask", "Hello there", "--model", "\(preset.name):mock+tokens=9+input=21", "--json"],
                                     environment: environment(for: preset.name))
            XCTAssertEqual(result.status, 0, "\(preset.name): \(result.stderr)")
            let events = result.events
            XCTAssertEqual(events.first?["event"]?.string, "request", preset.name)
            let deltas = events.filter { $0["event"]?.string == "delta" }
            // Tokens that arrive together come as one delta; the text must be whole either way.
            XCTAssertFalse(deltas.isEmpty, preset.name)
            let done = try XCTUnwrap(events.first { $0["event"]?.string == "done" }, preset.name)
            XCTAssertEqual(done["text"]?.string, deltas.compactMap { $0["text"]?.string }.joined(), preset.name)
            XCTAssertEqual(done["text"]?.string, MockServer.generatedDeltas(9).joined(), preset.name)
            XCTAssertEqual(done["usage"]?["input_tokens"]?.int, 21, preset.name)
            XCTAssertEqual(done["usage"]?["output_tokens"]?.int, 9, preset.name)
            XCTAssertEqual(done["estimated"], .bool(false), preset.name)
            XCTAssertEqual(done["finish_reason"]?.string, "stop", preset.name)
            XCTAssertEqual(done["provider"]?.string, preset.name)
            XCTAssertNotNil(done["ttft_ms"]?.int)
            XCTAssertEqual(events.last?["event"]?.string, "summary")
            let lastDelta = events.lastIndex { $0["event"]?.string == "delta" }!
            XCTAssertLessThan(lastDelta, events.firstIndex { $0["event"]?.string == "done" }!)

            let request = try XCTUnwrap(server.requests.first, preset.name)
            let key = "sk-\(preset.name)-secret-key"
            switch preset.type {
            case .openai:
                XCTAssertEqual(request.header("Authorization"), preset.keyRequired ? "Bearer \(key)" : nil, preset.name)
            case .anthropic:
                XCTAssertEqual(request.header("x-api-key"), key)
                XCTAssertEqual(request.header("anthropic-version"), "2023-06-01")
            case .gemini:
                XCTAssertEqual(request.header("x-goog-api-key"), key)
                XCTAssertFalse(request.path.contains(key))
            case .ollama: XCTAssertNil(request.header("Authorization"))
            }
            XCTAssertFalse(result.stdout.contains(key), "the key must never be printed")
            XCTAssertFalse(result.stderr.contains(key), "the key must never be printed")
        }
    }

    func testHTTPErrorsBecomeErrorEventsAndExitOne() throws {
        let cases = [(401, "auth"), (404, "not_found"), (429, "rate_limit"), (500, "server")]
        for provider in ["openai", "anthropic", "gemini", "ollama"] {
            for (status, kind) in cases {
                let result = try cli.run(["ask", "hi", "--model", "\(provider):mock+status=\(status)", "--json"],
                                         environment: environment(for: provider))
                XCTAssertEqual(result.status, 1, "\(provider) \(status)")
                let error = try XCTUnwrap(result.events.first { $0["event"]?.string == "error" }, "\(provider) \(status)")
                XCTAssertEqual(error["kind"]?.string, kind, "\(provider) \(status)")
                XCTAssertEqual(error["status"]?.int, status)
                XCTAssertEqual(error["retryable"]?.bool, status >= 429)
                XCTAssertEqual(error["partial_text"]?.string, "")
            }
        }
    }

    func testErrorsInsideTheStreamKeepThePartialText() throws {
        for provider in ["openai", "anthropic", "gemini", "ollama"] {
            let result = try cli.run(["ask", "hi", "--model", "\(provider):mock+tokens=20+error=6", "--json"],
                                     environment: environment(for: provider))
            XCTAssertEqual(result.status, 1, provider)
            let deltas = result.events.filter { $0["event"]?.string == "delta" }.compactMap { $0["text"]?.string }
            let error = try XCTUnwrap(result.events.first { $0["event"]?.string == "error" }, provider)
            XCTAssertEqual(error["partial_text"]?.string, MockServer.generatedDeltas(6).joined(), provider)
            XCTAssertEqual(error["partial_text"]?.string, deltas.joined())
            XCTAssertEqual(error["kind"]?.string, provider == "anthropic" ? "overloaded" : "server", provider)
        }
        let dropped = try cli.run(["ask", "hi", "--model", "openai:mock+tokens=20+drop=4", "--json"], environment: environment(for: "openai"))
        let error = try XCTUnwrap(dropped.events.first { $0["event"]?.string == "error" })
        XCTAssertEqual(error["kind"]?.string, "network")
        XCTAssertEqual(error["partial_text"]?.string, MockServer.generatedDeltas(4).joined())
    }

    func testPlainOutputLabelsEveryPersonaAndNeutralisesControlCharacters() throws {
        var environment = environment(for: "openai")
        environment["PERSONA_BUNDLED_PERSONAS"] = ""
        try FileManager.default.createDirectory(at: cli.home.appendingPathComponent("personas"), withIntermediateDirectories: true)
        for (id, name) in [("alpha", "Alpha"), ("beta", "Beta")] {
            try "---\nname: \(name)\nmodel: openai:mock+tokens=5\n---\nYou are \(name).\n"
                .write(to: cli.home.appendingPathComponent("personas/\(id).md"), atomically: true, encoding: .utf8)
        }
        let result = try cli.run(["ask", "hi", "--personas", "alpha,beta"], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("── Alpha · openai:mock+tokens=5 ──"))
        XCTAssertTrue(result.stdout.contains("── Beta · openai:mock+tokens=5 ──"))
        XCTAssertEqual(result.stdout.components(separatedBy: MockServer.generatedDeltas(5).joined()).count, 3)

        let hostile = try MockServer { _ in MockBehavior(text: "clear\u{1B}[2J bell\u{07} csi\u{9B}1m\u{202E}\u{2066} done\u{2069}") }
        defer { hostile.stop() }
        let attack = try cli.run(["ask", "hi", "--model", "openai:x"],
                                 environment: ["OPENAI_BASE_URL": hostile.baseURL, "OPENAI_API_KEY": "k"])
        XCTAssertFalse(attack.stdout.contains("\u{1B}"))
        XCTAssertFalse(attack.stdout.contains("\u{07}"))
        XCTAssertFalse(attack.stdout.contains("\u{9B}"))
        XCTAssertFalse(attack.stdout.unicodeScalars.contains { [0x202E, 0x2066, 0x2069].contains($0.value) }, "bidi controls are dropped")
        XCTAssertTrue(attack.stdout.contains("clear␛[2J bell␇ csi\u{2426}1m done"), attack.stdout)
        let json = try cli.run(["ask", "hi", "--model", "openai:x", "--json"],
                               environment: ["OPENAI_BASE_URL": hostile.baseURL, "OPENAI_API_KEY": "k"])
        XCTAssertFalse(json.stdout.contains("\u{1B}"))
        XCTAssertTrue(json.stdout.contains(#"clear\u001b[2J"#))
    }

    func testConfigurationProblemsExitTwoWithClearMessages() throws {
        let noKey = try cli.run(["ask", "hi", "--model", "anthropic:claude-haiku-4-5"], environment: [:])
        XCTAssertEqual(noKey.status, 2)
        XCTAssertTrue(noKey.stderr.contains("ANTHROPIC_API_KEY"), noKey.stderr)
        XCTAssertTrue(server.requests.isEmpty, "nothing is sent when a key is missing")

        let unknown = try cli.run(["ask", "hi", "--personas", "nobody"], environment: ["PERSONA_BUNDLED_PERSONAS": ""])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("no persona named 'nobody'"), unknown.stderr)

        let badModel = try cli.run(["ask", "hi", "--model", "gpt-4o"])
        XCTAssertEqual(badModel.status, 2)
        XCTAssertTrue(badModel.stderr.contains("provider:model"))

        let noRoster = try cli.run(["ask", "hi"], environment: ["PERSONA_BUNDLED_PERSONAS": ""])
        XCTAssertEqual(noRoster.status, 2)
        XCTAssertTrue(noRoster.stderr.contains("--personas"))
    }

    func testABrokenPersonaFileIsReportedAndTheOthersStillWork() throws {
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        try "---\nname: Good\nmodel: openai:mock+tokens=3\n---\nYou are good.\n"
            .write(to: personas.appendingPathComponent("good.md"), atomically: true, encoding: .utf8)
        try "---\nname: Bad\nmax_tokens: many\n---\nYou are bad.\n"
            .write(to: personas.appendingPathComponent("bad.md"), atomically: true, encoding: .utf8)
        var environment = environment(for: "openai")
        environment["PERSONA_BUNDLED_PERSONAS"] = ""

        let result = try cli.run(["ask", "hi", "--personas", "good", "--json"], environment: environment)
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("bad.md:3: error: max_tokens: expected a whole number, got 'many'"), result.stderr)

        let asked = try cli.run(["ask", "hi", "--personas", "bad"], environment: environment)
        XCTAssertEqual(asked.status, 2)
        XCTAssertTrue(asked.stderr.contains("persona 'bad' did not load"), asked.stderr)

        let listed = try cli.run(["personas", "list"], environment: environment)
        XCTAssertEqual(listed.status, 0)
        XCTAssertTrue(listed.stdout.contains("good"))
        XCTAssertTrue(listed.stdout.contains("openai:mock+tokens=3"))
        XCTAssertTrue(listed.stdout.contains(personas.appendingPathComponent("good.md").path))

        let shown = try cli.run(["personas", "show", "Good"], environment: environment)
        XCTAssertTrue(shown.stdout.contains("You are good."))
    }

    func testConfigDefaultsSelectPersonasAndModel() throws {
        try """
            default_model: anthropic:mock+tokens=4
            default_personas: [skeptic, optimist]
            retry: { max_retries: 0 }
            """.write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let result = try cli.run(["ask", "Should we?", "--json"], environment: environment(for: "anthropic"))
        XCTAssertEqual(result.status, 0, result.stderr)
        let done = result.events.filter { $0["event"]?.string == "done" }
        XCTAssertEqual(Set(done.compactMap { $0["persona"]?.string }), ["skeptic", "optimist"])
        // The system prompt is a block marked for Anthropic's prompt cache.
        let systems = server.requests.compactMap { try? JSON.parse($0.body)["system"]?[0]?["text"]?.string }
        XCTAssertTrue(systems.contains { $0.contains("You are The Skeptic") })
        XCTAssertTrue(systems.contains { $0.contains("You are The Optimist") })
    }
}

/// Retries as `persona ask` shows them.
final class RetryCLITests: XCTestCase {
    /// Answers the first request with `first`, the others with `then`.
    final class Once: @unchecked Sendable {
        private let lock = NSLock()
        private var isFirst = true
        private let first: MockBehavior
        private let then: MockBehavior

        init(_ first: MockBehavior, then: MockBehavior) {
            self.first = first
            self.then = then
        }

        func next() -> MockBehavior {
            lock.withLock {
                defer { isFirst = false }
                return isFirst ? first : then
            }
        }
    }

    func testARetryEventThenDoneAfterA429() throws {
        let once = Once(MockBehavior(status: 429, headers: ["Retry-After": "1"]), then: MockBehavior(tokens: 5))
        let server = try MockServer { _ in once.next() }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        let result = try cli.run(["ask", "hi", "--model", "openai:gpt-4o-mini", "--json"],
                                 environment: ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let kinds = result.events.compactMap { $0["event"]?.string }.filter { $0 != "delta" }
        XCTAssertEqual(kinds, ["request", "retry", "done", "summary"])
        let retry = try XCTUnwrap(result.events.first { $0["event"]?.string == "retry" })
        XCTAssertEqual(retry["attempt"]?.int, 1)
        XCTAssertEqual(retry["delay_ms"]?.int, 1000)
        XCTAssertEqual(retry["reason"]?.string, "rate_limit")
        let entries = try JSON.parse(try cli.run(["costs", "entries", "--json"]).stdout)["entries"]?.array ?? []
        XCTAssertEqual(entries.compactMap { $0["status"]?.string }, ["ok", "failed"], "each attempt is a ledger row")
    }

    func testPlainOutputKeepsAFailedAttemptsTextOnceMarkedAndTellsTheRetryOnStderr() throws {
        let once = Once(MockBehavior(tokens: 20, dropAfter: 4), then: MockBehavior(tokens: 5))
        let server = try MockServer { _ in once.next() }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        try "retry: { max_retries: 1, base_delay: 0.1 }\n".write(to: cli.home.appendingPathComponent("config.yaml"),
                                                                 atomically: true, encoding: .utf8)
        let result = try cli.run(["ask", "hi", "--model", "openai:gpt-4o-mini"],
                                 environment: ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let partial = MockServer.generatedDeltas(4).joined()
        let answer = MockServer.generatedDeltas(5).joined()
        XCTAssertTrue(result.stdout.contains(partial + "\n  [partial: this attempt failed here; the answer starts again below]\n"
                                             + answer), result.stdout)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(Array(lines.prefix(4)), ["── Assistant · openai:gpt-4o-mini ──", Substring(partial),
                                                 "  [partial: this attempt failed here; the answer starts again below]",
                                                 Substring(answer)], "the failed attempt's text appears once")
        XCTAssertFalse(result.stdout.contains("retry 1/1"), result.stdout)
        XCTAssertTrue(result.stderr.contains("retry 1/1"), result.stderr)
    }
}

/// Refusals, kept apart from the answer, as `persona ask` prints them.
final class RefusalCLITests: XCTestCase {
    func testARefusalIsItsOwnFieldWithItsOwnFinishReason() throws {
        let refusing: MockBehavior = {
            var behavior = MockBehavior(text: "I'm sorry, I can't assist with that request.")
            behavior.refusal = true
            return behavior
        }()
        let server = try MockServer { _ in refusing }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        let environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "k",
                           "ANTHROPIC_BASE_URL": server.baseURL, "ANTHROPIC_API_KEY": "k"]
        let openai = try cli.run(["ask", "How do I make anthrax?", "--model", "openai:gpt-4o-mini", "--json"], environment: environment)
        XCTAssertEqual(openai.status, 0, openai.stderr)
        let done = try XCTUnwrap(openai.events.first { $0["event"]?.string == "done" })
        XCTAssertEqual(done["text"]?.string, "", "the answer's content is empty")
        XCTAssertEqual(done["refusal"]?.string, "I'm sorry, I can't assist with that request.")
        XCTAssertEqual(done["finish_reason"]?.string, "refusal")
        XCTAssertTrue(openai.events.filter { $0["event"]?.string == "delta" }.isEmpty, "a refusal is not streamed as answer text")

        let anthropic = try cli.run(["ask", "How do I make anthrax?", "--model", "anthropic:claude-haiku-4-5", "--json"],
                                    environment: environment)
        let stopped = try XCTUnwrap(anthropic.events.first { $0["event"]?.string == "done" })
        XCTAssertEqual(stopped["finish_reason"]?.string, "refusal")
        XCTAssertEqual(stopped["refusal"]?.string, "The model declined to answer.")
        XCTAssertEqual(stopped["text"]?.string, "I'm sorry, I can't assist with that request.", "what it said before stopping")

        let plain = try cli.run(["ask", "How do I make anthrax?", "--model", "openai:gpt-4o-mini"], environment: environment)
        XCTAssertTrue(plain.stdout.contains("  ⊘ refused: I'm sorry, I can't assist with that request.\n"), plain.stdout)
    }
}
