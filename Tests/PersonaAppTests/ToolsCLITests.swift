import Foundation
import MockProvider
import PersonaKit
import XCTest

/// Tool loops through `persona ask`, against the loopback mock in each provider's wire format,
/// with the built-in tools and with MCP servers.
final class ToolsCLITests: XCTestCase {
    var cli: CLI!
    var server: MockServer!
    var environment: [String: String] = [:]

    func start(tools: String = "[calculator]", config: String = "", _ script: @escaping @Sendable (MockRequest) -> MockBehavior) throws {
        cli = try CLI()
        server = try MockServer(script: script)
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        try "---\nname: Accountant\ntools: \(tools)\n---\nYou check sums.\n"
            .write(to: personas.appendingPathComponent("accountant.md"), atomically: true, encoding: .utf8)
        try ("retry: { max_retries: 0 }\n" + config).write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        environment = CLI.providers(at: server)
    }

    override func tearDown() {
        server?.stop()
        cli?.remove()
    }

    func ask(_ model: String, _ extra: [String] = []) throws -> CLI.Result {
        try cli.run(["ask", "What do 35 boxes at 110 cost?", "--personas", "accountant", "--model", model, "--json"] + extra,
                    environment: environment)
    }

    static func events(_ result: CLI.Result, _ name: String) -> [JSON] { result.events.filter { $0["event"]?.string == name } }

    /// The mock's model: a tool call first; once a result is in the request, an answer quoting it.
    static func calculatorModel(_ request: MockRequest) -> MockBehavior {
        if request.bodyText.contains("3850") { return MockBehavior(text: "35 boxes cost 3850.") }
        var behavior = MockBehavior()
        behavior.toolCalls = [MockToolCall(id: "call_a1", name: "calculator", arguments: #"{"expression": "35 * 110"}"#)]
        return behavior
    }

    func testEachProviderRunsAToolLoopAndSendsTheResultInItsOwnShape() throws {
        try start(Self.calculatorModel)
        for model in ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash", "ollama:llama3.2"] {
            server.clearLog()
            let result = try ask(model)
            XCTAssertEqual(result.status, 0, model + result.stderr)
            XCTAssertEqual(server.requests.count, 2, model)
            let first = try JSON.parse(server.requests[0].body)
            let second = try JSON.parse(server.requests[1].body)
            let provider = String(model.split(separator: ":")[0])
            switch provider {
            case "openai":
                XCTAssertEqual(first["tools"]?[0]?["function"]?["name"]?.string, "calculator")
                let messages = try XCTUnwrap(second["messages"]?.array)
                XCTAssertEqual(messages.dropLast().last?["tool_calls"]?[0]?["function"]?["name"]?.string, "calculator")
                XCTAssertEqual(messages.last, .object(["role": .string("tool"), "tool_call_id": .string("call_a1"), "content": .string("3850")]))
            case "anthropic":
                XCTAssertEqual(first["tools"]?[0]?["name"]?.string, "calculator")
                XCTAssertNotNil(first["tools"]?[0]?["input_schema"])
                let last = try XCTUnwrap(second["messages"]?.array?.last)
                XCTAssertEqual(last["role"]?.string, "user")
                XCTAssertEqual(last["content"]?[0]?["type"]?.string, "tool_result")
                XCTAssertEqual(last["content"]?[0]?["tool_use_id"]?.string, "call_a1")
                XCTAssertEqual(last["content"]?[0]?["content"]?.string, "3850")
            case "gemini":
                XCTAssertEqual(first["tools"]?[0]?["functionDeclarations"]?[0]?["name"]?.string, "calculator")
                let last = try XCTUnwrap(second["contents"]?.array?.last)
                XCTAssertEqual(last["parts"]?[0]?["functionResponse"]?["name"]?.string, "calculator")
                XCTAssertEqual(last["parts"]?[0]?["functionResponse"]?["response"], .object(["result": .string("3850")]))
            default:
                XCTAssertEqual(first["tools"]?[0]?["function"]?["name"]?.string, "calculator")
                XCTAssertEqual(second["messages"]?.array?.last,
                               .object(["role": .string("tool"), "content": .string("3850"), "tool_name": .string("calculator")]))
            }
            let call = try XCTUnwrap(Self.events(result, "tool_call").first, model)
            XCTAssertEqual(call["name"]?.string, "calculator")
            XCTAssertEqual(call["step"]?.int, 1)
            XCTAssertEqual(call["arguments"], .object(["expression": .string("35 * 110")]))
            let toolResult = try XCTUnwrap(Self.events(result, "tool_result").first, model)
            XCTAssertEqual(toolResult["content"]?.string, "3850")
            XCTAssertEqual(toolResult["is_error"]?.bool, false)
            XCTAssertNotNil(toolResult["duration_ms"]?.int)
            let done = try XCTUnwrap(Self.events(result, "done").first, model)
            XCTAssertEqual(done["text"]?.string, "35 boxes cost 3850.", model)
            XCTAssertEqual(done["steps"]?.int, 2)
            // The done event's usage is the sum over both steps: the mock counts a token per 4 bytes of each request.
            let inputs = server.requests.map { max(1, $0.body.count / 4) }
            XCTAssertEqual(done["usage"]?["input_tokens"]?.int, inputs.reduce(0, +), model)
        }
        // Every step is a ledger row of its own.
        let entries = try JSON.parse(cli.run(["costs", "entries", "--json"], environment: environment).stdout)
        XCTAssertEqual(entries["entries"]?.array?.count, 8)
        let summary = try JSON.parse(cli.run(["costs", "--json"], environment: environment).stdout)
        XCTAssertNotNil(summary["total_cost"]?.decimal)

        let plain = try cli.run(["ask", "What do 35 boxes at 110 cost?", "--personas", "accountant", "--model", "openai:gpt-4o-mini"],
                                environment: environment)
        XCTAssertTrue(plain.stderr.contains("Accountant: ⚙ calculator {\"expression\":\"35 * 110\"} → 3850"), plain.stderr)
        XCTAssertTrue(plain.stdout.contains("35 boxes cost 3850."), plain.stdout)
    }

    func testSessionsKeepTheToolsATurnCalled() throws {
        try start(Self.calculatorModel)
        let debate = try cli.run(["debate", "What do 35 boxes at 110 cost?", "--personas", "accountant", "--model", "openai:gpt-4o-mini",
                                  "--rounds", "1"], environment: environment)
        XCTAssertEqual(debate.status, 0, debate.stderr)
        XCTAssertTrue(debate.stderr.contains("Accountant: ⚙ calculator {\"expression\":\"35 * 110\"} → 3850"), debate.stderr)
        let shown = try cli.run(["sessions", "show", "last"], environment: environment).stdout
        XCTAssertTrue(shown.contains("Accountant (openai:gpt-4o-mini):\n  ⚙ calculator {\"expression\":\"35 * 110\"} → 3850\n35 boxes cost 3850."),
                      shown)
        let exported = try JSON.parse(cli.run(["sessions", "export", "last", "--format", "json"], environment: environment).stdout)
        let answer = try XCTUnwrap(exported["messages"]?.array?.first { $0["speaker"]?.string == "accountant" })
        XCTAssertEqual(answer["tools"]?[0]?["name"]?.string, "calculator")
        XCTAssertEqual(answer["tools"]?[0]?["arguments"], .object(["expression": .string("35 * 110")]))
        XCTAssertEqual(answer["tools"]?[0]?["content"]?.string, "3850")
        let markdown = try cli.run(["sessions", "export", "last", "--format", "markdown"], environment: environment).stdout
        XCTAssertTrue(markdown.contains("- `⚙ calculator {\"expression\":\"35 * 110\"} → 3850`"), markdown)

        // An export read back keeps them too.
        let file = cli.home.appendingPathComponent("export.json")
        try cli.run(["sessions", "export", "last", "--format", "json"], environment: environment).stdout
            .write(to: file, atomically: true, encoding: .utf8)
        let other = try CLI()
        defer { other.remove() }
        XCTAssertEqual(try other.run(["sessions", "import", file.path]).status, 0)
        XCTAssertTrue(try other.run(["sessions", "show", "last"]).stdout.contains("⚙ calculator"))
    }

    func testSearchKnowledgeFindsPassagesInThePersonasFolder() throws {
        try start(tools: "[search_knowledge]\nknowledge: notes") { request in
            if request.bodyText.contains("\"role\":\"tool\"") { return MockBehavior(text: "Thirty days.") }
            var behavior = MockBehavior()
            behavior.toolCalls = [MockToolCall(id: "k", name: "search_knowledge", arguments: #"{"query": "return goods"}"#)]
            return behavior
        }
        let notes = cli.home.appendingPathComponent("personas/notes")
        try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
        try "# Policy\n\nCustomers may return goods within 30 days.\n".write(to: notes.appendingPathComponent("policy.md"),
                                                                              atomically: true, encoding: .utf8)
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(result.status, 0, result.stderr)
        let content = Self.events(result, "tool_result").first?["content"]?.string ?? ""
        XCTAssertEqual(content, "\(notes.path)/policy.md:3\nCustomers may return goods within 30 days.")
    }

    func testBadArgumentsAndUnknownToolsGoBackAsErrorResults() throws {
        try start { request in
            if request.bodyText.contains("is_error") || request.bodyText.contains("\"role\":\"tool\"") {
                return MockBehavior(text: "I could not compute it.")
            }
            var behavior = MockBehavior()
            behavior.toolCalls = [MockToolCall(id: "c1", name: "calculator", arguments: "{not json"),
                                  MockToolCall(id: "c2", name: "delete_everything", arguments: "{}"),
                                  MockToolCall(id: "c3", name: "calculator", arguments: #"{"expression": "1 / 0"}"#)]
            return behavior
        }
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(result.status, 0, result.stderr)
        let results = Self.events(result, "tool_result")
        XCTAssertEqual(results.map { $0["id"]?.string ?? "" }, ["c1", "c2", "c3"], "all three, in the calls' order")
        XCTAssertTrue(results.allSatisfy { $0["is_error"]?.bool == true })
        XCTAssertEqual(results[0]["content"]?.string, "the arguments are not a JSON object: {not json")
        XCTAssertEqual(results[1]["content"]?.string, "there is no tool named delete_everything; the tools are: calculator")
        XCTAssertEqual(results[2]["content"]?.string, "division by zero")
        let second = try JSON.parse(server.requests[1].body)
        let toolMessages = (second["messages"]?.array ?? []).filter { $0["role"]?.string == "tool" }
        XCTAssertEqual(toolMessages.count, 3, "the errors go back together")
        XCTAssertEqual(Self.events(result, "done").first?["text"]?.string, "I could not compute it.")
    }

    func testAModelThatKeepsCallingStopsAtMaxToolSteps() throws {
        try start { _ in
            var behavior = MockBehavior()
            behavior.toolCalls = [MockToolCall(id: "again", name: "calculator", arguments: #"{"expression": "1 + 1"}"#)]
            return behavior
        }
        let result = try ask("anthropic:claude-haiku-4-5", ["--max-tool-steps", "3"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(server.requests.count, 3)
        let error = try XCTUnwrap(Self.events(result, "error").first)
        XCTAssertEqual(error["kind"]?.string, "tools")
        XCTAssertTrue(error["message"]?.string?.contains("after 3 steps, the most max_tool_steps allows") == true, error.serialized)
        XCTAssertEqual(Self.events(result, "tool_result").count, 2)
        let entries = try JSON.parse(cli.run(["costs", "entries", "--json"], environment: environment).stdout)
        XCTAssertEqual(entries["entries"]?.array?.count, 3, "each step that was sent is in the ledger")
    }

    func testACallWhenNoToolWasOfferedRunsNothing() throws {
        try start(tools: "[]") { _ in
            var behavior = MockBehavior(text: "Let me check.")
            behavior.toolCalls = [MockToolCall(id: "x", name: "calculator", arguments: #"{"expression": "2"}"#)]
            return behavior
        }
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertNil(try JSON.parse(server.requests[0].body)["tools"], "no tools were sent")
        XCTAssertEqual(Self.events(result, "tool_call").first?["name"]?.string, "calculator", "the call is reported")
        XCTAssertTrue(Self.events(result, "tool_result").isEmpty, "and not run")
        XCTAssertEqual(Self.events(result, "done").first?["finish_reason"]?.string, "tool_calls")
    }

    func testUnknownToolNamesStopBeforeAnythingIsSent() throws {
        try start(tools: "[calculator, weather]") { _ in MockBehavior(text: "hi") }
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(result.status, 2)
        let file = cli.home.appendingPathComponent("personas/accountant.md").path
        XCTAssertTrue(result.stderr.contains("\(file):3: error: tools: unknown tool 'weather'"), result.stderr)
        let flag = try cli.run(["ask", "hi", "--model", "openai:gpt-4o-mini", "--tools", "calculator,nope"], environment: environment)
        XCTAssertEqual(flag.status, 2)
        XCTAssertTrue(flag.stderr.contains("--tools: unknown tool 'nope'"), flag.stderr)
        XCTAssertTrue(server.requests.isEmpty)
    }

    // MARK: MCP servers

    /// `mcp-server-time` from PyPI: `scripts/test` installs it into `.build/mcp-venv`.
    static var timeServer: String? {
        if let path = ProcessInfo.processInfo.environment["PERSONA_MCP_TIME"], FileManager.default.isExecutableFile(atPath: path) { return path }
        let venv = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/mcp-venv/bin/mcp-server-time").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }

    func testARealMCPServerAnswersAToolCall() throws {
        guard let command = Self.timeServer else {
            if ProcessInfo.processInfo.environment["PERSONA_REQUIRE_MCP"] != nil { return XCTFail("mcp-server-time is not installed") }
            throw XCTSkip("mcp-server-time is not installed (scripts/test installs it)")
        }
        try start(tools: "[time]", config: "mcp_servers: { time: { command: \(command), args: [--local-timezone, UTC] } }\n") { request in
            if request.bodyText.contains("\"role\":\"tool\"") { return MockBehavior(text: "It is time.") }
            var behavior = MockBehavior()
            behavior.toolCalls = [MockToolCall(id: "t1", name: "time_get_current_time", arguments: #"{"timezone": "Europe/Paris"}"#)]
            return behavior
        }
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(result.status, 0, result.stderr)
        let first = try JSON.parse(server.requests[0].body)
        let names = first["tools"]?.array?.compactMap { $0["function"]?["name"]?.string } ?? []
        XCTAssertTrue(names.contains("time_get_current_time"), "\(names)")
        let toolResult = try XCTUnwrap(Self.events(result, "tool_result").first, result.stdout)
        XCTAssertEqual(toolResult["name"]?.string, "time/get_current_time")
        XCTAssertEqual(toolResult["is_error"]?.bool, false, toolResult.serialized)
        let content = toolResult["content"]?.string ?? ""
        XCTAssertTrue(content.contains("Europe/Paris"), content)
        // Its answer reaches the second request.
        let second = try JSON.parse(server.requests[1].body)
        XCTAssertEqual(second["messages"]?.array?.last?["content"]?.string, content)
        let log = try String(contentsOf: cli.home.appendingPathComponent("logs/mcp-time.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("starting: \(command) --local-timezone UTC"), log)

        // Two personas that need the server at once share one process.
        try "---\nname: Second\ntools: [time]\n---\nYou tell the time.\n"
            .write(to: cli.home.appendingPathComponent("personas/second.md"), atomically: true, encoding: .utf8)
        let both = try cli.run(["ask", "Time?", "--personas", "accountant,second", "--model", "openai:gpt-4o-mini", "--json"],
                               environment: environment)
        XCTAssertEqual(Self.events(both, "tool_result").count, 2, both.stdout)
        let starts = try String(contentsOf: cli.home.appendingPathComponent("logs/mcp-time.log"), encoding: .utf8)
            .components(separatedBy: "starting:").count - 1
        XCTAssertEqual(starts, 2, "one start for each run, not one for each persona")

        // persona doctor starts each server and lists its tools.
        let doctor = try JSON.parse(cli.run(["doctor", "--json"], environment: environment).stdout)
        let listed = try XCTUnwrap(doctor["mcp_servers"]?[0])
        XCTAssertEqual(listed["name"]?.string, "time")
        XCTAssertEqual(listed["state"]?.string, "running")
        XCTAssertTrue(listed["tools"]?.array?.contains(.string("get_current_time")) == true, listed.serialized)
    }

    /// A stand-in MCP server, in Python, that hangs on one tool and exits in the middle of another.
    static let faultyServer = #"""
        import json, os, sys, threading, time
        lock = threading.Lock()
        def answer(ident, result):
            with lock:
                sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}) + "\n")
                sys.stdout.flush()
        def call(message):
            if message["params"]["name"] == "echo":
                said = message["params"]["arguments"].get("text", "")
                answer(message["id"], {"content": [{"type": "text", "text": "you said " + said + "; I see " + os.environ.get("OPENAI_API_KEY", "")}]})
            elif message["params"]["name"] == "hang":
                time.sleep(60)
            else:
                time.sleep(0.2)
                sys.stderr.write("crashing now\n")
                sys.stderr.flush()
                os._exit(3)
        for line in sys.stdin:
            message = json.loads(line)
            method, ident = message.get("method"), message.get("id")
            if method == "initialize":
                answer(ident, {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "faulty", "version": "1"}})
            elif method == "tools/list":
                empty = {"type": "object", "properties": {}}
                answer(ident, {"tools": [{"name": "hang", "description": "never answers", "inputSchema": empty},
                                         {"name": "echo", "description": "says it back", "inputSchema": empty},
                                         {"name": "crash", "description": "exits mid-call", "inputSchema": empty}]})
            elif method == "tools/call":
                threading.Thread(target=call, args=(message,), daemon=True).start()
        """#

    func testAHangingToolTimesOutAndAServerThatExitsMidCallIsAnErrorResult() throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("faulty-mcp-\(UUID().uuidString).py")
        try Self.faultyServer.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        try start(tools: "[faulty]", config: "tool_timeout: 1\nmcp_servers: { faulty: { command: python3, args: [\(script.path)] } }\n") { request in
            if request.bodyText.contains("\"role\":\"tool\"") { return MockBehavior(text: "It failed.") }
            var behavior = MockBehavior()
            if request.bodyText.contains("Echo.") {
                let key = request.header("Authorization")?.replacingOccurrences(of: "Bearer ", with: "") ?? ""
                behavior.toolCalls = [MockToolCall(id: "e", name: "faulty_echo", arguments: #"{"text": "\#(key)"}"#)]
                return behavior
            }
            let tool = request.bodyText.contains("Wait forever") ? "faulty_hang" : "faulty_crash"
            behavior.toolCalls = [MockToolCall(id: "f", name: tool, arguments: "{}")]
            return behavior
        }
        for (prompt, expected) in [("Wait forever.", "within 1 s (tool_timeout)"),
                                   ("Crash.", "MCP server faulty exited with status 3")] {
            let result = try cli.run(["ask", prompt, "--personas", "accountant", "--model", "openai:gpt-4o-mini", "--json"],
                                     environment: environment)
            XCTAssertEqual(result.status, 0, result.stderr)
            let toolResult = try XCTUnwrap(Self.events(result, "tool_result").first, result.stdout)
            XCTAssertEqual(toolResult["is_error"]?.bool, true)
            XCTAssertTrue(toolResult["content"]?.string?.contains(expected) == true, toolResult.serialized)
            XCTAssertEqual(Self.events(result, "done").first?["text"]?.string, "It failed.", "the turn goes on")
            if prompt == "Wait forever." {
                XCTAssertGreaterThanOrEqual(Self.events(result, "done").first?["duration_ms"]?.int ?? 0, 1000, "the tool's wait is the turn's time")
            }
        }
        // A key that the model passes to a tool, and the tool prints, is shown nowhere.
        let key = "sk-proj-tooltest-0123456789abcdefghijklmnop"
        environment["OPENAI_API_KEY"] = key
        server.clearLog()
        let echoed = try cli.run(["ask", "Echo.", "--personas", "accountant", "--model", "openai:gpt-4o-mini", "--json", "--tools", "faulty/echo"],
                                 environment: environment)
        XCTAssertFalse(echoed.stdout.contains(key) || echoed.stderr.contains(key), echoed.stdout)
        XCTAssertTrue(Self.events(echoed, "tool_result").first?["content"]?.string?.hasPrefix("you said ") == true, echoed.stdout)
        // Nor is it sent on to the model: the tool's own sight of it is hidden in its result.
        let onward = try XCTUnwrap(server.requests.last).bodyText
        XCTAssertTrue(onward.contains("you said "), onward)
        XCTAssertFalse(onward.contains(key), onward)
        let log = try String(contentsOf: cli.home.appendingPathComponent("logs/mcp-faulty.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("crashing now"), log)
    }

    func testAServerThatCannotStartIsNamedWithItsCommandAndLog() throws {
        try start(tools: "[broken]", config: "mcp_servers: { broken: { command: /nonexistent/mcp-server } }\n") { _ in MockBehavior(text: "hi") }
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(result.status, 1)
        let error = try XCTUnwrap(Self.events(result, "error").first)
        XCTAssertEqual(error["kind"]?.string, "tools")
        let message = error["message"]?.string ?? ""
        XCTAssertTrue(message.contains("MCP server broken did not start (/nonexistent/mcp-server)"), message)
        XCTAssertTrue(message.contains(cli.home.appendingPathComponent("logs/mcp-broken.log").path), message)
        XCTAssertTrue(server.requests.isEmpty, "nothing was sent")

        let doctor = try cli.run(["doctor"], environment: environment)
        XCTAssertEqual(doctor.status, 1)
        XCTAssertTrue(doctor.stdout.contains("✗ broken  /nonexistent/mcp-server: failed: MCP server broken did not start"), doctor.stdout)
    }
}
