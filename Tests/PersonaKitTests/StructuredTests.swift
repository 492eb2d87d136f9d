import Foundation
import XCTest

@testable import PersonaKit

/// The schema checker, the checks on schemas themselves, and the request shapes a schema gives.
final class StructuredTests: XCTestCase {
    func problems(_ value: String, _ schema: String) throws -> [String] {
        try SchemaCheck.problems(JSON.parse(value), against: JSON.parse(schema)).map(\.description)
    }

    func testTheCheckerCoversEveryKeywordAndNamesThePath() throws {
        let schema = """
            {"type":"object","additionalProperties":false,"required":["mood","score","tags"],"properties":{
              "mood":{"enum":["calm","angry"]},
              "score":{"type":"integer","minimum":1,"maximum":10},
              "ratio":{"type":"number","minimum":0,"maximum":1},
              "name":{"type":"string","minLength":2,"maxLength":5},
              "tags":{"type":"array","items":{"type":"object","properties":{"label":{"type":"string"}},"required":["label"]}},
              "either":{"anyOf":[{"type":"string"},{"type":"null"}]},
              "odd key":{"type":"boolean"}}}
            """
        XCTAssertEqual(try problems(#"{"mood":"calm","score":3,"tags":[{"label":"x"}],"either":null,"name":"abc"}"#, schema), [])
        XCTAssertEqual(try problems(#"{"mood":"sad","score":3.5,"ratio":2,"name":"a","tags":[{"label":1},{}],"either":7,"odd key":"no","extra":1}"#,
                                    schema), [
            "$.mood: expected one of \"calm\", \"angry\", got \"sad\"",
            "$.score: expected an integer, got a number",
            "$.ratio: 2 is above the maximum 1",
            "$.name: 1 characters, fewer than minLength 2",
            "$.tags[0].label: expected a string, got a number",
            "$.tags[1].label: required, but missing",
            "$.either: matches none of the 2 schemas of anyOf",
            "$[\"odd key\"]: expected a boolean, got the text 'no'",
            "$.extra: not allowed: no such property",
        ])
        XCTAssertEqual(try problems(#"{"name":"toolong"}"#, schema), [
            "$.mood: required, but missing", "$.score: required, but missing", "$.tags: required, but missing",
            "$.name: 7 characters, more than maxLength 5",
        ])
        XCTAssertEqual(try problems(#"{"score":0,"mood":"calm","tags":[]}"#, schema), ["$.score: 0 is below the minimum 1"])
        XCTAssertEqual(try problems("[1]", schema), ["$: expected an object, got a list"])
        XCTAssertEqual(try problems("2.0", #"{"type":"integer"}"#), [], "2.0 is a whole number")
        XCTAssertEqual(try problems(#"{"a":"x"}"#, #"{"type":"object","additionalProperties":{"type":"number"}}"#),
                       ["$.a: expected a number, got the text 'x'"])
    }

    func testAnAnswerIsReadAsJSONEvenInACodeFence() throws {
        let schema = try JSON.parse(#"{"type":"object","properties":{"a":{"type":"number"}},"required":["a"]}"#)
        XCTAssertTrue(StructuredAnswer(checking: "```json\n{\"a\": 1}\n```", against: schema).isValid)
        XCTAssertTrue(StructuredAnswer(checking: "  {\"a\": 1}\n", against: schema).isValid)
        let prose = StructuredAnswer(checking: "Sure! Here it is.", against: schema)
        XCTAssertNil(prose.value)
        XCTAssertEqual(prose.problems.first?.path, "$")
        XCTAssertTrue(prose.problems.first?.problem.hasPrefix("the answer is not valid JSON") == true)
        XCTAssertEqual(StructuredAnswer(checking: "", against: schema).problems.first?.problem, "the answer is empty, not JSON")
        XCTAssertTrue(StructuredAnswer(checking: "{}", against: schema).repairRequest.contains("- $.a: required, but missing"))
    }

    func testSchemasThatCannotBeCheckedOrSentAreRefused() throws {
        func messages(_ schema: String) throws -> [String] {
            SchemaLint.problems(in: try JSON.parse(schema)).map { SchemaLint.field("schema", $0.path) + ": " + $0.message }
        }
        XCTAssertEqual(try messages(#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#), [])
        XCTAssertEqual(try messages(#"{"type":"array"}"#),
                       ["schema: the root must be an object schema (type: object); OpenAI, Anthropic and Gemini answer in a JSON object"])
        XCTAssertEqual(try messages(##"{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}}}"##).first,
                       "schema.properties.a.$ref: $ref is not supported; Persona checks additionalProperties, anyOf, const, enum, items, "
                       + "maxItems, maxLength, maximum, minItems, minLength, minimum, pattern, properties, required, type")
        XCTAssertEqual(try messages(#"{"type":"object","properties":{"a":{"type":"number","minimum":5,"maximum":1}}}"#),
                       ["schema.properties.a.minimum: minimum 5 is above maximum 1, so no value fits"])
        XCTAssertEqual(try messages(#"{"type":"object","required":["b"],"properties":{}}"#),
                       ["schema.required: 'b' is required but not among the properties"])
        XCTAssertEqual(try messages(#"{"type":"object","properties":{"a":{"maxLength":-1,"anyOf":[]}}}"#), [
            "schema.properties.a.maxLength: expected a whole number of at least 0, got '-1'",
            "schema.properties.a.anyOf: expected a list of schemas",
        ])
    }

    func testStrictModeRequiresEveryPropertyAndDropsLengthLimits() throws {
        let schema = try JSON.parse("""
            {"type":"object","properties":{"a":{"type":"string","maxLength":3},
             "list":{"type":"array","items":{"type":"object","properties":{"x":{"type":"number"}}}}},"required":["a"]}
            """)
        let strict = OpenAIAdapter.strict(schema)
        XCTAssertEqual(strict["required"], .array([.string("a"), .string("list")]))
        XCTAssertEqual(strict["additionalProperties"], .bool(false))
        XCTAssertNil(strict["properties"]?["a"]?["maxLength"])
        XCTAssertEqual(strict["properties"]?["list"]?["items"]?["required"], .array([.string("x")]))
        XCTAssertEqual(strict["properties"]?["list"]?["items"]?["additionalProperties"], .bool(false))
    }

    func testAServerInJSONModeGetsTheSchemaInTheSystemPrompt() throws {
        let endpoint = ProviderEndpoint(name: "deepseek", type: .openai, baseURL: "http://x", apiKeyEnv: "K", keyRequired: false,
                                        quirks: ServerQuirks(acceptsJSONSchema: false))
        let format = ResponseFormat(name: "answer", schema: .object(["type": .string("object")]))
        let request = ChatRequest(model: "m", system: "Be brief.", messages: [ChatMessage(role: .user, content: "hi")], responseFormat: format)
        let body = try JSON.parse(OpenAIAdapter().makeRequest(request, endpoint: endpoint).body)
        XCTAssertEqual(body["response_format"], .object(["type": .string("json_object")]))
        XCTAssertEqual(body["messages"]?[0]?["content"]?.string,
                       "Be brief.\n\nAnswer with one JSON object and nothing else. It must match this JSON Schema:\n{\"type\":\"object\"}")
        XCTAssertEqual(ProviderPreset.named("deepseek")?.quirks.acceptsJSONSchema, false)
    }

    func testAnthropicStreamsTheAnswerAsTheInputOfItsTool() throws {
        let events = [
            #"{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}"#,
            #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"Stance","input":{}}}"#,
            #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"mood\": \"ca"}}"#,
            #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"lm\"}"}}"#,
            #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_2","name":"lookup","input":{}}}"#,
            #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\":\"x\"}"}}"#,
            #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}"#,
        ]
        let body = Array(events.map { "data: \($0)\n\n" }.joined().utf8)
        let answered = TurnRunner.replay(body, chunkSizes: [5], type: .anthropic, answerTool: "Stance")
        XCTAssertEqual(answered.text, #"{"mood": "calm"}"#)
        XCTAssertEqual(answered.finish?.kind, .stop, "the answer's tool ends the answer")
        XCTAssertEqual(answered.toolCalls, [ToolCall(id: "toolu_2", name: "lookup", arguments: .object(["q": .string("x")]))])
        let called = TurnRunner.replay(body, chunkSizes: [5], type: .anthropic)
        XCTAssertEqual(called.text, "")
        XCTAssertEqual(called.toolCalls.map(\.name), ["Stance", "lookup"])
        XCTAssertEqual(called.toolCalls[0].arguments, .object(["mood": .string("calm")]))
        XCTAssertEqual(called.finish?.kind, .toolCalls)
    }

    func testAPersonaTakesItsSchemaInlineOrFromAFileBesideIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try #"{"title": "A verdict!", "type": "object", "properties": {"ok": {"type": "boolean"}}}"#
            .write(to: folder.appendingPathComponent("verdict.json"), atomically: true, encoding: .utf8)
        let file = folder.appendingPathComponent("judge.md").path
        let (persona, issues) = Persona.parse("---\nname: Judge\nschema_file: verdict.json\nschema_repair: 2\n---\nJudge.\n", file: file)
        XCTAssertEqual(issues, [])
        XCTAssertEqual(persona?.schema?.name, "A_verdict", "a provider-safe name from the title")
        XCTAssertEqual(persona?.schema?.schema["properties"]?["ok"]?["type"]?.string, "boolean")
        XCTAssertEqual(persona?.schemaRepair, 2)

        let inline = Persona.parse("---\nname: J\nschema:\n  type: object\n  properties:\n    n: { type: integer, maximum: 3 }\n    s: { enum: ['1', yes] }\n---\nJ.\n",
                                   file: file).0
        XCTAssertEqual(inline?.schema?.schema, try JSON.parse(#"{"type":"object","properties":{"n":{"type":"integer","maximum":3},"s":{"enum":["1","yes"]}}}"#))
        XCTAssertEqual(inline?.schema?.name, "answer")

        let both = Persona.parse("---\nname: J\nschema: { type: object }\nschema_file: verdict.json\n---\nJ.\n", file: file)
        XCTAssertNil(both.0)
        XCTAssertEqual(both.1.first?.description, "\(file):4: error: schema_file: give schema: or schema_file:, not both")
        let missing = Persona.parse("---\nname: J\nschema_file: nowhere.json\n---\nJ.\n", file: file)
        XCTAssertTrue(missing.1.first?.description.hasPrefix("\(file):3: error: schema_file: \(folder.path)/nowhere.json: cannot be read") == true,
                      "\(missing.1)")
        XCTAssertEqual(Persona.parse("---\nname: J\nschema_repair: 5\n---\nJ.\n", file: file).1.first?.message, "5 is out of range (0…2)")

        // The knowledge folder and the tool that reads it come together.
        let searcher = Persona.parse("---\nname: J\ntools: [search_knowledge]\nknowledge: .\n---\nJ.\n", file: file)
        XCTAssertEqual(searcher.1, [])
        XCTAssertEqual(searcher.0?.knowledge, folder.path)
        XCTAssertEqual(Persona.parse("---\nname: J\ntools: [search_knowledge]\n---\nJ.\n", file: file).1.first?.description,
                       "\(file):3: error: tools: search_knowledge searches the persona's knowledge: folder; add knowledge: ./folder")
        let unread = Persona.parse("---\nname: J\nknowledge: .\n---\nJ.\n", file: file)
        XCTAssertNotNil(unread.0)
        XCTAssertEqual(unread.1.first?.description, "\(file):3: warning: knowledge: only the search_knowledge tool reads this folder; add it to tools:")
    }
}
