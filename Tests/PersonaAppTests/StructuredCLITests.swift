import Foundation
import MockProvider
import PersonaKit
import XCTest

/// Personas that answer in a schema, through `persona ask` and `persona debate` against the
/// loopback mock in each provider's wire format.
final class StructuredCLITests: XCTestCase {
    static let schemaYAML = """
        schema:
          title: Stance
          type: object
          properties:
            message: { type: string }
            confidence: { type: number, minimum: 0, maximum: 1 }
            emotions: { type: array, items: { type: string } }
          required: [message, confidence]
        """
    static let validAnswer = #"{"message":"Doubtful.","confidence":0.82,"emotions":["wary","curious"]}"#

    var cli: CLI!
    var server: MockServer!
    var environment: [String: String] = [:]

    func start(_ script: @escaping @Sendable (MockRequest) -> MockBehavior, frontMatter: String = schemaYAML) throws {
        cli = try CLI()
        server = try MockServer(script: script)
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        try "---\nname: Critic\n\(frontMatter)\n---\nYou judge claims.\n"
            .write(to: personas.appendingPathComponent("critic.md"), atomically: true, encoding: .utf8)
        try "retry: { max_retries: 0 }\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        environment = CLI.providers(at: server)
    }

    override func tearDown() {
        server?.stop()
        cli?.remove()
    }

    func ask(_ model: String, _ extra: [String] = []) throws -> CLI.Result {
        try cli.run(["ask", "Is coffee healthy?", "--personas", "critic", "--model", model, "--json"] + extra, environment: environment)
    }

    func done(_ result: CLI.Result) throws -> JSON {
        try XCTUnwrap(result.events.first { $0["event"]?.string == "done" }, result.stdout + result.stderr)
    }

    func testEachProviderIsAskedForTheSchemaInItsOwnShapeAndTheAnswerIsParsed() throws {
        try start { _ in MockBehavior(text: Self.validAnswer, chunkSize: 7) }
        let schema = try JSON.parse(#"{"title":"Stance","type":"object","properties":{"message":{"type":"string"},"confidence":{"type":"number","minimum":0,"maximum":1},"emotions":{"type":"array","items":{"type":"string"}}},"required":["message","confidence"]}"#)
        let value = try JSON.parse(Self.validAnswer)

        for model in ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash", "ollama:llama3.2"] {
            server.clearLog()
            let result = try ask(model)
            XCTAssertEqual(result.status, 0, result.stderr)
            let event = try done(result)
            XCTAssertEqual(event["structured"], value, model)
            XCTAssertEqual(event["schema_valid"], .bool(true), model)
            XCTAssertEqual(event["schema_errors"], .array([]), model)
            XCTAssertEqual(event["finish_reason"]?.string, "stop", model)
            XCTAssertEqual(event["steps"]?.int, 1, model)
            let body = try JSON.parse(XCTUnwrap(server.requests.last).body)
            switch model.split(separator: ":")[0] {
            case "openai":
                XCTAssertEqual(body["response_format"]?["type"]?.string, "json_schema")
                let format = try XCTUnwrap(body["response_format"]?["json_schema"])
                XCTAssertEqual(format["name"]?.string, "Stance")
                XCTAssertEqual(format["strict"]?.bool, true)
                // Strict mode's rules on the schema sent: every property required, no others.
                XCTAssertEqual(format["schema"]?["required"], .array([.string("message"), .string("confidence"), .string("emotions")]))
                XCTAssertEqual(format["schema"]?["additionalProperties"], .bool(false))
            case "anthropic":
                XCTAssertEqual(body["tools"]?[0]?["name"]?.string, "Stance")
                XCTAssertEqual(body["tools"]?[0]?["input_schema"], schema)
                XCTAssertEqual(body["tool_choice"], .object(["type": .string("tool"), "name": .string("Stance")]))
            case "gemini":
                XCTAssertEqual(body["generationConfig"]?["responseMimeType"]?.string, "application/json")
                XCTAssertEqual(body["generationConfig"]?["responseJsonSchema"], schema)
            default:
                XCTAssertEqual(body["format"], schema)
            }
        }

        let plain = try cli.run(["ask", "Is coffee healthy?", "--personas", "critic", "--model", "anthropic:claude-haiku-4-5"],
                                environment: environment)
        XCTAssertTrue(plain.stdout.contains("message: Doubtful.\nconfidence: 0.82\nemotions:\n  • wary\n  • curious\n"), plain.stdout)

        let shown = try cli.run(["personas", "show", "critic"], environment: environment).stdout
        XCTAssertTrue(shown.contains("schema:         Stance: message, confidence, emotions? (from \(cli.home.path)/personas/critic.md:3)"),
                      shown)
        XCTAssertTrue(shown.contains("schema_repair:  1 (the config's)"), shown)
    }

    func testABrokenAnswerIsRepairedOnceWithItsErrors() throws {
        let broken = #"{"message":"Doubtful.","confidence":"high"}"#
        try start { request in
            MockBehavior(text: request.bodyText.contains("does not match the required JSON Schema") ? Self.validAnswer : broken)
        }
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(server.requests.count, 2, "one repair request")
        let repair = try JSON.parse(server.requests[1].body)
        let messages = try XCTUnwrap(repair["messages"]?.array)
        XCTAssertEqual(messages.dropLast().last?["content"]?.string, broken, "the rejected answer goes back")
        XCTAssertTrue(messages.last?["content"]?.string?.contains("$.confidence: expected a number, got the text 'high'") == true,
                      messages.last?.serialized ?? "")
        let repairEvent = try XCTUnwrap(result.events.first { $0["event"]?.string == "repair" })
        XCTAssertEqual(repairEvent["schema_errors"]?[0]?["path"]?.string, "$.confidence")
        let event = try done(result)
        XCTAssertEqual(event["schema_valid"], .bool(true))
        XCTAssertEqual(event["structured"], try JSON.parse(Self.validAnswer))
        XCTAssertEqual(event["steps"]?.int, 2)

        // Each attempt is a ledger row of its own.
        let entries = try JSON.parse(cli.run(["costs", "entries", "--json"], environment: environment).stdout)
        XCTAssertEqual(entries["entries"]?.array?.count, 2)
    }

    func testAnAnswerThatStaysBrokenIsReportedWithItsErrors() throws {
        try start({ _ in MockBehavior(text: #"{"confidence":7}"#) }, frontMatter: Self.schemaYAML + "\nschema_repair: 2")
        let result = try ask("anthropic:claude-haiku-4-5")
        XCTAssertEqual(server.requests.count, 3, "the first answer and two repairs")
        let event = try done(result)
        XCTAssertEqual(event["schema_valid"], .bool(false))
        let errors = try XCTUnwrap(event["schema_errors"]?.array)
        XCTAssertEqual(errors.map { $0["path"]?.string ?? "" }, ["$.message", "$.confidence"])
        XCTAssertEqual(errors[0]["problem"]?.string, "required, but missing")
        XCTAssertEqual(errors[1]["problem"]?.string, "7 is above the maximum 1")
        XCTAssertEqual(event["steps"]?.int, 3)

        let plain = try cli.run(["ask", "Is coffee healthy?", "--personas", "critic", "--model", "anthropic:claude-haiku-4-5"],
                                environment: environment)
        XCTAssertTrue(plain.stdout.contains("{\"confidence\":7}\n  ✗ schema: $.message: required, but missing\n"), plain.stdout)
    }

    func testARefusalIsNeitherASchemaFailureNorRepaired() throws {
        try start { _ in
            var behavior = MockBehavior(text: "I can't help with that.")
            behavior.refusal = true
            return behavior
        }
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(server.requests.count, 1)
        let event = try done(result)
        XCTAssertEqual(event["refusal"]?.string, "I can't help with that.")
        XCTAssertEqual(event["schema_valid"], .null)
        XCTAssertEqual(event["structured"], .null)
    }

    func testASchemaFileAppliesToEveryPersonaAndAMalformedOneStopsBeforeSending() throws {
        try start({ _ in MockBehavior(text: #"{"verdict":"yes"}"#) }, frontMatter: "card: plain")
        let good = cli.home.appendingPathComponent("verdict.json")
        try #"{"type": "object", "properties": {"verdict": {"enum": ["yes", "no"]}}, "required": ["verdict"]}"#
            .write(to: good, atomically: true, encoding: .utf8)
        let result = try ask("ollama:llama3.2", ["--schema", good.path])
        XCTAssertEqual(try done(result)["structured"], .object(["verdict": .string("yes")]))

        server.clearLog()
        let bad = cli.home.appendingPathComponent("bad.json")
        try "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"verdict\": {\"type\": \"text\"}\n  }\n}\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let refused = try ask("ollama:llama3.2", ["--schema", bad.path])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("\(bad.path):4: schema.properties.verdict.type: unknown type 'text'"), refused.stderr)

        let broken = cli.home.appendingPathComponent("broken.json")
        try "{\n  \"type\": \"object\",\n  \"properties\": {\n}\n".write(to: broken, atomically: true, encoding: .utf8)
        let unparsable = try ask("ollama:llama3.2", ["--schema", broken.path])
        XCTAssertEqual(unparsable.status, 2)
        XCTAssertTrue(unparsable.stderr.contains("\(broken.path):5: not valid JSON"), unparsable.stderr)
        XCTAssertTrue(server.requests.isEmpty, "nothing is sent")
    }

    func testAMalformedInlineSchemaNamesThePersonaFileAndLine() throws {
        try start({ _ in MockBehavior(text: "{}") }, frontMatter: """
            schema:
              type: object
              properties:
                confidence: { type: number, minimum: high }
              required: [confidence, mood]
            """)
        let result = try ask("openai:gpt-4o-mini")
        XCTAssertEqual(result.status, 2)
        let file = cli.home.appendingPathComponent("personas/critic.md").path
        XCTAssertTrue(result.stderr.contains("\(file):6: error: schema.properties.confidence.minimum: expected a number"), result.stderr)
        XCTAssertTrue(result.stderr.contains("persona 'critic' did not load"), result.stderr)
        XCTAssertTrue(server.requests.isEmpty)
    }

    func testADebateReachesConsensusOnAStructuredField() throws {
        try start { _ in MockBehavior(text: #"{"message":"Agreed.","confidence":0.9,"answer":"42"}"#) }
        let personas = cli.home.appendingPathComponent("personas")
        let schema = "\nschema:\n  type: object\n  properties: { message: { type: string }, confidence: { type: number }, answer: { type: string } }\n  required: [message, answer]"
        for id in ["first", "second"] {
            try "---\nname: \(id.capitalized)\(schema)\n---\nYou answer.\n"
                .write(to: personas.appendingPathComponent("\(id).md"), atomically: true, encoding: .utf8)
        }
        let result = try cli.run(["debate", "What is six times seven?", "--personas", "first,second", "--model", "openai:gpt-4o-mini",
                                  "--rounds", "3", "--consensus-field", "answer", "--json"], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let consensus = try XCTUnwrap(result.events.first { $0["event"]?.string == "consensus" }, result.stdout)
        XCTAssertEqual(consensus["answer"]?.string, "42")
        XCTAssertEqual(consensus["round"]?.int, 1)

        let missing = try cli.run(["debate", "Why?", "--personas", "first,critic", "--model", "openai:gpt-4o-mini",
                                   "--consensus-field", "answer"], environment: environment)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("persona 'critic' has a schema without a property 'answer'"), missing.stderr)
    }

    func testSessionsExportKeepsTheValue() throws {
        try start { _ in MockBehavior(text: Self.validAnswer) }
        let result = try cli.run(["debate", "Coffee?", "--personas", "critic", "--model", "openai:gpt-4o-mini", "--rounds", "1", "--json"],
                                 environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let exported = try cli.run(["sessions", "export", "last", "--format", "json"], environment: environment)
        let json = try JSON.parse(exported.stdout)
        let answer = try XCTUnwrap(json["messages"]?.array?.first { $0["speaker"]?.string == "critic" })
        XCTAssertEqual(answer["structured"], try JSON.parse(Self.validAnswer))
    }
}
