import Foundation
import GRDB
import XCTest

@testable import PersonaKit

/// Batch prices in the catalog, and batch result files read by `custom_id` whatever their order.
final class BatchPriceTests: XCTestCase {
    func usd(_ text: String) -> Int64 { TokenPrices.picosPerToken(usdPerMillion: Decimal(string: text)!)! }

    func testBatchPricesDefaultToHalfForTheThreeBatchProvidersOnly() throws {
        let live = TokenPrices(input: usd("2.5"), cachedInput: usd("0.25"), cacheWrite: usd("3.125"), output: 10_000_001)
        let openai = ModelPrice(key: ModelRef(provider: "openai", model: "m"), prices: live).batchPrices()
        XCTAssertEqual(openai?.prices.input, usd("1.25"))
        XCTAssertEqual(openai?.prices.output, 5_000_001, "an odd picodollar price is halved rounding up")
        XCTAssertEqual(openai?.prices.cachedInput, usd("0.25"), "cache reads keep their live price")
        XCTAssertEqual(openai?.prices.cacheWrite, usd("3.125"))
        XCTAssertNil(ModelPrice(key: ModelRef(provider: "groq", model: "m"), prices: live).batchPrices(),
                     "no discount is assumed where the catalog gives none")
        let explicit = ModelPrice(key: ModelRef(provider: "groq", model: "m"), prices: live,
                                  batch: ModelPrice.BatchPrices(input: usd("1"), output: usd("4")))
        XCTAssertEqual(explicit.batchPrices()?.prices.input, usd("1"))
        XCTAssertEqual(explicit.batchPrices()?.prices.output, usd("4"))
    }

    func testCatalogYAMLConfigAndLiteLLMCarryBatchPrices() throws {
        let catalog = try PriceCatalog.parseYAML("""
            openai:
              m: { input: 2, output: 8, batch_input: 0.9, batch_output: 3.9 }
            """, source: "test")
        XCTAssertEqual(catalog.price(for: ModelRef(provider: "openai", model: "m"))?.batchPrices()?.prices.input, usd("0.9"))
        XCTAssertThrowsError(try PriceCatalog.parseYAML("openai:\n  m: { input: 2, output: 8, batch_input: 1 }\n", source: "test"))

        var imported = PriceCatalog()
        try imported.importLiteLLM(Array(#"""
            {"gpt-x": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06,
                       "input_cost_per_token_batches": 1e-06, "output_cost_per_token_batches": 4e-06}}
            """#.utf8), source: .file("prices.json"))
        let batch = imported.price(for: ModelRef(provider: "openai", model: "gpt-x"))?.batchPrices()
        XCTAssertEqual(batch?.prices.input, usd("1"))
        XCTAssertEqual(batch?.prices.output, usd("4"))

        let (config, issues) = Config.parse("""
            prices:
              "openai:gpt-x": { batch_input: 0.5, batch_output: 2 }
            """, file: "config.yaml", baseDirectory: "/tmp")
        XCTAssertEqual(issues, [])
        imported.apply(config.prices)
        XCTAssertEqual(imported.price(for: ModelRef(provider: "openai", model: "gpt-x"))?.batchPrices()?.prices.output, usd("2"))
    }

    func testResultFilesAreReadByCustomIDAndBadLinesAreSkipped() {
        let openAI = Array("""
            {"custom_id":"r1-2-1","response":{"status_code":200,"body":{"choices":[{"message":{"content":"two"}}],"usage":{"prompt_tokens":10,"completion_tokens":3}}},"error":null}
            not json
            {"response":{"status_code":200,"body":{}}}
            {"custom_id":"r1-1-1","response":{"status_code":200,"body":{"choices":[{"message":{"content":"one"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}},"error":null}
            {"custom_id":"r1-3-1","response":null,"error":{"code":"batch_expired","message":"expired"}}
            {"custom_id":"r1-4-1","response":{"status_code":500,"body":{"error":{"message":"boom"}}},"error":null}
            {"custom_id":"r1-5-1"}

            """.utf8)
        let reading = BatchResults.read(.openai, files: [openAI])
        XCTAssertEqual(reading.results.map(\.customID), ["r1-2-1", "r1-1-1", "r1-3-1", "r1-4-1"])
        XCTAssertEqual(reading.results[1].outcome, .succeeded(text: "one", reasoning: "", usage: Usage(inputTokens: 9, outputTokens: 2)))
        XCTAssertEqual(reading.results[2].outcome, .expired)
        XCTAssertEqual(reading.results[3].outcome, .errored("HTTP 500: boom"))
        XCTAssertEqual(reading.problems.count, 3)
        XCTAssertTrue(reading.problems[0].hasPrefix("result line 2: malformed JSON"), reading.problems[0])

        let anthropic = Array("""
            {"custom_id":"a","result":{"type":"succeeded","message":{"content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":5,"cache_read_input_tokens":2,"output_tokens":1}}}}
            {"custom_id":"b","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}}}
            {"custom_id":"c","result":{"type":"canceled"}}

            """.utf8)
        let read = BatchResults.read(.anthropic, files: [anthropic])
        XCTAssertEqual(read.results.map(\.outcome), [
            .succeeded(text: "hi", reasoning: "", usage: Usage(inputTokens: 5, cachedInputTokens: 2, outputTokens: 1)), .errored("bad"), .canceled,
        ])

        let gemini = Array(#"""
            {"name":"batches/1","done":true,"metadata":{"state":"BATCH_STATE_SUCCEEDED"},"response":{"inlinedResponses":{"inlinedResponses":[
              {"metadata":{"key":"k2"},"response":{"candidates":[{"content":{"parts":[{"text":"hm","thought":true},{"text":"two"}]}}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"thoughtsTokenCount":3}}},
              {"response":{}},
              {"metadata":{"key":"k1"},"error":{"code":400,"message":"nope"}}]}}}
            """#.utf8)
        let inline = BatchResults.read(.gemini, files: [gemini])
        XCTAssertEqual(inline.results.map(\.customID), ["k2", "k1"])
        XCTAssertEqual(inline.results[0].outcome, .succeeded(text: "two", reasoning: "hm", usage: Usage(inputTokens: 4, outputTokens: 5, reasoningTokens: 3)))
        XCTAssertEqual(inline.problems.count, 1)
    }

    func testGeminiStatesAndCountsAsStrings() {
        let status = BatchClient.geminiStatus(try! JSON.parse(#"""
            {"name":"batches/1","metadata":{"state":"JOB_STATE_SUCCEEDED","batchStats":{"requestCount":"3","successfulRequestCount":"2","failedRequestCount":"1"}}}
            """#))
        XCTAssertEqual(status.phase, .ended)
        XCTAssertEqual(status.done, 2)
        XCTAssertEqual(status.failed, 1)
        XCTAssertEqual(BatchClient.geminiStatus(try! JSON.parse(#"{"metadata":{"state":"BATCH_STATE_EXPIRED"}}"#)).phase, .expired)
    }

    /// Hostile usage in a result file is treated as in a stream: not believed, priced from estimates, marked.
    func testHostileUsageInAResultIsNotBelieved() {
        let request = BatchRequestRecord(job: "j", customID: "c", promptID: "1", promptIndex: 0, prompt: "Hi", persona: "p", personaName: "P",
                                         personaIndex: 0, round: 1, provider: "openai", model: "m", session: "s",
                                         bounds: UsageCheck.Bounds(prompt: 1000, output: 164, estimatedInput: 7))
        let price = ModelPrice(key: ModelRef(provider: "openai", model: "m"), prices: TokenPrices(input: 2_000_000, output: 8_000_000))
        let raw = RawBatchResult(customID: "c", outcome: .succeeded(text: "hello there", reasoning: "",
                                                                     usage: Usage(inputTokens: -5, outputTokens: 9_000_000_000)))
        let result = BatchRunner.priced(raw, request: request, batchPrice: price.batchPrices(), livePrice: price, type: .openai)
        XCTAssertTrue(result.estimated)
        XCTAssertEqual(result.usage.inputTokens, 7)
        XCTAssertEqual(result.usage.outputTokens, 3)
        XCTAssertEqual(result.costPicos, 7 * 1_000_000 + 3 * 4_000_000)
        XCTAssertTrue(result.usageNote?.contains("usage not believed") == true)
    }
}

/// Settling a result file into a job: each request once, whatever the order, and lines for
/// requests the batch did not send, or sent once and answered twice, reported and skipped.
final class BatchSettleTests: XCTestCase {
    /// A home with one Anthropic persona, and a job of `prompts` prompts recorded in it.
    struct Setup {
        var home: URL
        var database: PersonaDatabase
        var runner: BatchRunner
        var plan: BatchPlan
        var job: BatchJob
        var notices: Shared<[String]>
    }

    func setUp(prompts count: Int) throws -> Setup {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("batch-settle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home.appendingPathComponent("personas"), withIntermediateDirectories: true)
        try "---\nname: Cloud\nmodel: anthropic:claude-sonnet-4-6\nmax_tokens: 100\n---\nYou are terse.\n"
            .write(to: home.appendingPathComponent("personas/cloud.md"), atomically: true, encoding: .utf8)
        let environment = ["ANTHROPIC_API_KEY": "k"]
        let workspace = Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil, environment: environment),
                                       environment: environment, bundledPersonas: nil)
        let database = try PersonaDatabase(path: workspace.paths.database)
        let catalog = try PriceCatalog.bundled()
        let planner = TurnPlanner(workspace: workspace)
        let notices = Shared<[String]>([])
        let runner = BatchRunner(store: BatchStore(database: database), providers: workspace.providers, catalog: catalog, planner: planner,
                                 engine: ConversationEngine(), notice: { text in notices.withLock { $0.append(text) } })
        let prompts = (1...count).map { BatchPrompt(id: "\($0)", text: "Question \($0)?", line: $0) }
        let plan = try BatchPlanner(planner: planner, catalog: catalog).plan(prompts, participants: try planner.participants(named: ["cloud"]),
                                                                             options: BatchOptions())
        let job = try runner.store.create(plan.job, parts: plan.parts, requests: plan.requests, sessions: plan.sessions, claim: plan.claim,
                                          caps: BudgetCaps())
        return Setup(home: home, database: database, runner: runner, plan: plan, job: job, notices: notices)
    }

    func testUnknownAndRepeatedResultsAreSkippedAndTheRestSettledOnce() throws {
        let setup = try setUp(prompts: 12)
        defer { try? FileManager.default.removeItem(at: setup.home) }
        let (database, runner, plan, job, notices) = (setup.database, setup.runner, setup.plan, setup.job, setup.notices)
        func line(_ id: String, _ text: String) -> String {
            #"{"custom_id":"\#(id)","result":{"type":"succeeded","message":{"content":[{"type":"text","text":"\#(text)"}],"usage":{"input_tokens":20,"output_tokens":3}}}}"#
        }
        let ids = plan.requests.map(\.customID).shuffled()
        let file = (ids.map { line($0, "answer \($0)") } + [line(ids[0], "again"), line("r9-9-9", "stranger"), line("a", "first")])
            .shuffled().joined(separator: "\n")
        let first = try runner.settle(files: [Array(file.utf8)], part: plan.parts[0], job: job)
        XCTAssertEqual(first.settled, 12)
        XCTAssertEqual(first.problems, 3)
        XCTAssertTrue(notices.value.contains { $0.contains("a second result for \(ids[0])") }, "\(notices.value)")
        XCTAssertTrue(notices.value.contains { $0.contains("a result for r9-9-9, which this batch did not send") })
        let settled = try runner.store.requests(job: job.id)
        XCTAssertTrue(settled.allSatisfy { $0.state == .succeeded && ($0.text == "answer \($0.customID)" || $0.text == "again") })
        XCTAssertEqual(try Ledger(database: database).entries(limit: 100).count, 12)
        // The same file again, as a second reader would have it: nothing more is settled or billed.
        XCTAssertEqual(try runner.settle(files: [Array(file.utf8)], part: plan.parts[0], job: job).settled, 0)
        XCTAssertEqual(try Ledger(database: database).entries(limit: 100).count, 12)
    }

    /// A live request's estimate leaves the job's reservation once: when it is marked running,
    /// not again when its result (whose row the engine wrote) is settled.
    func testALiveRequestReleasesItsEstimateOnce() async throws {
        let setup = try setUp(prompts: 2)
        defer { try? FileManager.default.removeItem(at: setup.home) }
        let store = setup.runner.store
        func held() throws -> Int64? { try store.ledger.openReservations().first { $0.id == setup.job.reservationID }?.picos }
        let first = setup.plan.requests[0]
        let estimates = setup.plan.requests.map { $0.estimatePicos! }
        XCTAssertEqual(try held(), setup.job.estimatePicos)
        let marked = try await store.markRunning(first, of: setup.job)
        XCTAssertTrue(marked)
        XCTAssertEqual(try held(), setup.job.estimatePicos! - estimates[0])
        var running = first
        running.state = .running
        let settled = try await store.settleLive(running, result: BatchResult(customID: first.customID, state: .succeeded, text: "done"),
                                                 part: setup.plan.parts[0], job: setup.job)
        XCTAssertEqual(settled, 1)
        XCTAssertEqual(try held(), setup.job.estimatePicos! - estimates[0], "the other request's estimate is still held")
        // Its answer went into the prompt's session, indexed for search as the shared transaction ended.
        let queued = try await DatabaseQueue(path: store.database.path).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages_unindexed") }
        XCTAssertEqual(queued, 0)
        XCTAssertEqual(try SessionStore(database: store.database).search("done").map(\.session), [first.session])
    }
}

final class BatchPartsTests: XCTestCase {
    func testPartsSplitAtTheCountAndByteLimits() {
        let job = BatchJob(id: "job-test", created: Date(), personas: ["p"])
        func requests(_ count: Int, provider: String, body: String) -> [BatchRequestRecord] {
            (0..<count).map { index in
                BatchRequestRecord(job: job.id, customID: "r1-\(index + 1)-1", promptID: "\(index)", promptIndex: index, prompt: "?",
                                   persona: "p", personaName: "P", personaIndex: 0, round: 1, provider: provider, model: "m", session: "s",
                                   body: body, bounds: UsageCheck.Bounds(prompt: 1, output: 1, estimatedInput: 1))
            }
        }
        // Gemini takes 20 MB inline: 25 requests of 1 MB make two parts.
        var big = requests(25, provider: "gemini", body: String(repeating: "x", count: 1 << 20))
        let gemini = BatchPlanner.parts(for: &big, apis: ["gemini": .gemini], job: job, round: 1, firstNumber: 1, now: Date())
        XCTAssertEqual(gemini.count, 2)
        XCTAssertEqual(big.filter { $0.part == gemini[0].id }.count, 18)
        // OpenAI takes 50,000 requests a file.
        var many = requests(50_001, provider: "openai", body: "{}")
        let openai = BatchPlanner.parts(for: &many, apis: ["openai": .openai], job: job, round: 1, firstNumber: 3, now: Date())
        XCTAssertEqual(openai.map(\.id), ["job-test-3", "job-test-4"])
        XCTAssertEqual(many.filter { $0.part == "job-test-4" }.count, 1)
    }
}
