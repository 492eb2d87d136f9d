import Foundation
import MockProvider
import PersonaKit
import XCTest

/// `persona batch` end to end: the real binary against the loopback mock speaking OpenAI's files
/// and batches, Anthropic's message batches and Gemini's batch mode, on a clock the test moves.
final class BatchCLITests: XCTestCase {
    var cli: CLI!
    var server: MockServer!

    override func setUpWithError() throws {
        cli = try CLI()
        server = try MockServer()
    }

    override func tearDown() {
        server.stop()
        cli.remove()
    }

    /// Personas on each provider, priced so that batch prices are exact halves.
    func writeHome(personas: [String: String], daily: String? = nil, extra: String = "") throws {
        let folder = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (id, model) in personas {
            try "---\nname: \(id.capitalized)\nmodel: \(model)\nmax_tokens: 100\n---\nYou are \(id).\n"
                .write(to: folder.appendingPathComponent("\(id).md"), atomically: true, encoding: .utf8)
        }
        var config = "default_personas: [\(personas.keys.sorted().joined(separator: ", "))]\nprices:\n"
        for model in Set(personas.values) {
            let family = model.split(separator: "+").first.map(String.init) ?? model
            config += "  \"\(model)\": { input: 2.5, cached_input: 1.25, output: 10 }\n"
            if family != model { config += "  \"\(family)\": { input: 2.5, cached_input: 1.25, output: 10 }\n" }
        }
        if let daily { config += "budget: { daily_usd: \(daily) }\n" }
        try (config + extra).write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    }

    func writePrompts(_ lines: [String], name: String = "prompts.jsonl") throws -> String {
        let path = cli.home.appendingPathComponent(name).path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var env: [String: String] { CLI.providers(at: server) }

    func submit(_ extra: [String]) throws -> CLI.Result {
        try cli.run(["batch", "submit", "--yes", "--json"] + extra, environment: env)
    }

    func jobID(_ result: CLI.Result) throws -> String {
        let event = try XCTUnwrap(result.events.first { $0["event"]?.string == "job" }, result.stderr)
        return try XCTUnwrap(event["id"]?.string)
    }

    func results(_ job: String) throws -> [JSON] {
        let result = try cli.run(["batch", "results", job, "--format", "json"], environment: env)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSON.parse(result.stdout).array)
    }

    /// `batch wait`, given 30 s: a job that cannot end on the mock's clock fails the test, not hangs it.
    func wait(_ job: String, file: StaticString = #filePath, line: UInt = #line) throws -> CLI.Result {
        let running = try cli.launch(["batch", "wait", job, "--interval", "0.05"], environment: env)
        let deadline = Date().addingTimeInterval(30)
        while running.process.isRunning, Date() < deadline { usleep(20_000) }
        if running.process.isRunning {
            running.signal(SIGKILL)
            XCTFail("batch wait did not end", file: file, line: line)
        }
        return running.finish()
    }

    func database() throws -> PersonaDatabase { try PersonaDatabase(path: cli.home.appendingPathComponent("persona.db").path) }

    /// Each provider: submit, wait and results put every answer under its own prompt and persona
    /// although results come back shuffled, the requests have each API's shape, and each ledger
    /// row is the usage times the batch prices, exactly.
    func testEachProviderRunsAJobAtBatchPrices() throws {
        for (provider, model) in [("openai", "mock-a"), ("anthropic", "mock-b"), ("gemini", "mock-c")] {
            if provider != "openai" {
                tearDown()
                try setUpWithError()
            }
            try writeHome(personas: ["alpha": "\(provider):\(model)", "beta": "\(provider):\(model)-2"])
            let prompts = try writePrompts((1...5).map { #"{"id": "q\#($0)", "prompt": "Question number \#($0)?"}"# })
            let submitted = try submit(["--prompts", prompts, "--name", "survey"])
            XCTAssertEqual(submitted.status, 0, submitted.stderr)
            let job = try jobID(submitted)
            let event = try XCTUnwrap(submitted.events.first)
            XCTAssertEqual(event["requests"]?.int, 10)
            XCTAssertEqual(event["parts"]?.int, 2, "one part per model")
            XCTAssertNotNil(event["estimated_cost_usd"]?.decimal)
            XCTAssertEqual(server.batches.batchCount, 2, provider)

            server.batches.advance(by: 10)
            let waited = try wait(job)
            XCTAssertEqual(waited.status, 0, provider + waited.stderr)
            let answers = try results("survey")
            XCTAssertEqual(answers.count, 10)
            for answer in answers {
                let prompt = try XCTUnwrap(answer["prompt_id"]?.string)
                XCTAssertEqual(answer["status"]?.string, "succeeded", provider)
                XCTAssertEqual(answer["text"]?.string, "Answer to: Question number \(prompt.dropFirst())?", "matched by custom_id, \(provider)")
                XCTAssertNotNil(answer["cost_usd"]?.decimal)
            }
            XCTAssertEqual(Set(answers.map { $0["persona"]?.string ?? "" }), ["alpha", "beta"])
            try checkRequestShapes(provider)

            let entries = try Ledger(database: database()).entries(limit: 100)
            XCTAssertEqual(entries.count, 10)
            let entriesCost = entries.reduce(Int64(0)) { $0 + ($1.costPicos ?? 0) }
            let created = try XCTUnwrap(BatchStore(database: database()).job(job)?.created)
            for entry in entries {
                XCTAssertEqual(entry.batchJob, job)
                XCTAssertEqual(entry.timestamp.timeIntervalSince1970, created.timeIntervalSince1970, accuracy: 0.002, "dated by submit")
                // $1.25 and $5 per million tokens: half the live $2.50 and $10, in picodollars per token.
                let expected = Int64(entry.inputTokens - entry.cachedInputTokens) * 1_250_000 + Int64(entry.cachedInputTokens) * 1_250_000
                    + Int64(entry.outputTokens) * 5_000_000
                XCTAssertEqual(entry.costPicos, expected, provider)
                XCTAssertEqual(entry.liveCostPicos, expected * 2 - Int64(entry.cachedInputTokens) * 1_250_000)
                XCTAssertGreaterThan(entry.inputTokens, 0)
            }
            // Reading the results again, from another process, adds no row.
            let again = try cli.run(["batch", "wait", job, "--json"], environment: env)
            XCTAssertEqual(again.status, 0)
            let progress = try XCTUnwrap(again.events.last)
            XCTAssertEqual(progress["event"]?.string, "progress")
            XCTAssertEqual(progress["state"]?.string, "ended")
            XCTAssertEqual(progress["succeeded"]?.int, 10)
            XCTAssertEqual(progress["cost_usd"]?.decimal, Decimal(entriesCost) / Decimal(Money.picosPerDollar))
            // The job's cost is the same figure in every view: its list, the sessions' and `persona costs`.
            let listed = try JSON.parse(try cli.run(["batch", "list", "--json"], environment: env).stdout)["jobs"]?[0]?["cost_usd"]
            let costs = try JSON.parse(try cli.run(["costs", "summary", "--json"], environment: env).stdout)["total_cost"]
            let sessions = try JSON.parse(try cli.run(["sessions", "list", "--json"], environment: env).stdout)["sessions"]?.array ?? []
            XCTAssertEqual(listed?.decimal, costs?.decimal)
            XCTAssertEqual(sessions.reduce(Decimal(0)) { $0 + ($1["cost_usd"]?.decimal ?? 0) }, costs?.decimal)
            XCTAssertEqual(try cli.run(["costs", "summary", "--json"], environment: env).events.first?["batch"]?["total"]?.decimal, costs?.decimal)
            XCTAssertEqual(try Ledger(database: database()).entries(limit: 100).count, 10)
        }
    }

    func checkRequestShapes(_ provider: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let log = server.requests
        switch provider {
        case "openai":
            let upload = try XCTUnwrap(log.first { $0.path == "/v1/files" && $0.method == "POST" })
            XCTAssertTrue(upload.header("content-type")?.hasPrefix("multipart/form-data; boundary=") == true)
            XCTAssertTrue(upload.bodyText.contains("name=\"purpose\"\r\n\r\nbatch"))
            XCTAssertTrue(upload.bodyText.contains(#""method":"POST","url":"/v1/chat/completions","body":{"#))
            XCTAssertFalse(upload.bodyText.contains("\"stream\""), "a batch line does not stream")
            XCTAssertFalse(upload.bodyText.contains("Bearer"), "no key in the uploaded file")
            let create = try XCTUnwrap(log.first { $0.path == "/v1/batches" && $0.method == "POST" })
            let body = try JSON.parse(create.bodyText)
            XCTAssertEqual(body["completion_window"]?.string, "24h")
            XCTAssertEqual(body["endpoint"]?.string, "/v1/chat/completions")
            XCTAssertNotNil(body["metadata"]?["persona_part"]?.string)
            XCTAssertNotNil(log.first { $0.path.hasSuffix("-output/content") }, "the output file is downloaded")
            XCTAssertNotNil(log.first { $0.path.hasSuffix("-errors/content") }, "and the error file")
        case "anthropic":
            let create = try XCTUnwrap(log.first { $0.path == "/v1/messages/batches" && $0.method == "POST" })
            let body = try JSON.parse(create.bodyText)
            for request in body["requests"]?.array ?? [] {
                XCTAssertNotNil(request["custom_id"]?.string?.range(of: "^[a-zA-Z0-9_-]{1,64}$", options: .regularExpression))
                XCTAssertNil(request["params"]?["stream"])
                XCTAssertNotNil(request["params"]?["max_tokens"]?.int)
            }
            XCTAssertNotNil(log.first { $0.path.hasSuffix("/results") && $0.header("x-api-key") == "k" })
        default:
            let create = try XCTUnwrap(log.first { $0.path.contains(":batchGenerateContent") })
            let body = try JSON.parse(create.bodyText)
            XCTAssertNotNil(body["batch"]?["display_name"]?.string)
            let first = body["batch"]?["input_config"]?["requests"]?["requests"]?[0]
            XCTAssertNotNil(first?["metadata"]?["key"]?.string)
            XCTAssertNotNil(first?["request"]?["contents"])
            XCTAssertNil(create.path.range(of: "key="), "the key never goes in the URL")
        }
    }

    /// Some requests fail; `retry` sends only those again, as a new part, and the job ends whole.
    func testPartialFailureThenRetrySendsOnlyTheFailed() throws {
        try writeHome(personas: ["alpha": "openai:mock-a+batch_fail_once", "beta": "openai:mock-b"])
        let prompts = try writePrompts(["One?", "Two?", "Three?"], name: "prompts.txt")
        let job = try jobID(try submit(["--prompts", prompts]))
        server.batches.advance(by: 10)
        let waited = try wait(job)
        XCTAssertEqual(waited.status, 1, "a failed request fails the wait")
        var answers = try results(job)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "errored" }.count, 3)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "errored" }.compactMap { $0["persona"]?.string }, ["alpha", "alpha", "alpha"])
        XCTAssertEqual(answers.first { $0["status"]?.string == "errored" }?["cost_usd"]?.decimal, 0, "a failed request is not billed")

        let before = server.batches.submittedCustomIDs
        let retried = try cli.run(["batch", "retry", job], environment: env)
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertTrue(retried.stdout.contains("3 requests sent again"), retried.stdout)
        let resent = Array(server.batches.submittedCustomIDs.dropFirst(before.count))
        XCTAssertEqual(resent.sorted(), ["r1-1-1", "r1-2-1", "r1-3-1"], "only alpha's failed requests")
        server.batches.advance(by: 10)
        XCTAssertEqual(try wait(job).status, 0)
        answers = try results(job)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "succeeded" }.count, 6)
        XCTAssertTrue(try cli.run(["batch", "list"], environment: env).stdout.contains("ended"))
    }

    /// An expired batch keeps its finished results; the rest are `expired`, and can be retried.
    func testExpiredBatchKeepsWhatWasDone() throws {
        try writeHome(personas: ["alpha": "anthropic:mock-a+batch_expire"])
        let prompts = try writePrompts(["One?", "Two?", "Three?", "Four?"], name: "prompts.txt")
        let job = try jobID(try submit(["--prompts", prompts]))
        server.batches.advance(by: 10)
        XCTAssertEqual(try wait(job).status, 1)
        let answers = try results(job)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "succeeded" }.count, 2)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "expired" }.count, 2)
        XCTAssertEqual(try cli.run(["batch", "retry", job], environment: env).status, 0)
        XCTAssertEqual(server.batches.submittedCustomIDs.count, 6, "four, then the two that expired")
    }

    /// A cancel at the provider keeps the results already done and marks the rest canceled.
    func testCancelKeepsDoneResults() throws {
        try writeHome(personas: ["alpha": "gemini:mock-a"])
        let prompts = try writePrompts(["One?", "Two?", "Three?", "Four?"], name: "prompts.txt")
        let job = try jobID(try submit(["--prompts", prompts]))
        server.batches.advance(by: 2)
        let cancelled = try cli.run(["batch", "cancel", job], environment: env)
        XCTAssertEqual(cancelled.status, 0, cancelled.stderr)
        XCTAssertTrue(cancelled.stdout.contains("cancelled: 2 results kept, 2 canceled"), cancelled.stdout)
        XCTAssertNotNil(server.requests.first { $0.path.hasSuffix(":cancel") && $0.method == "POST" })
        let answers = try results(job)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "canceled" }.count, 2)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "succeeded" }.count, 2)
    }

    /// The only job, as `batch list` names it: for a submit killed before it printed its id.
    func onlyJob() throws -> String {
        let listed = try cli.run(["batch", "list", "--json"], environment: env)
        return try XCTUnwrap(JSON.parse(listed.stdout)["jobs"]?[0]?["id"]?.string, listed.stdout + listed.stderr)
    }

    func waitUntil(_ condition: () -> Bool, seconds: Double = 20) {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition(), Date() < deadline { usleep(10_000) }
        XCTAssertTrue(condition(), "timed out")
    }

    /// `kill -9` after the upload, before its file id was recorded: the next run finds the file
    /// by its name, uploads nothing again, and creates the batch once.
    func testKillAfterUploadSubmitsOnce() throws {
        try writeHome(personas: ["alpha": "openai:mock-a"])
        server.batches.hold("upload", seconds: 30)
        let running = try cli.launch(["batch", "submit", "--yes", "--prompt", "Hello?"], environment: env)
        waitUntil { server.batches.uploadCount == 1 }
        running.signal(SIGKILL)
        _ = running.finish()
        server.batches.hold("upload", seconds: 0)
        let job = try onlyJob()
        // The batch is created by the wait, on the mock's clock as it stands.
        let waiting = try cli.launch(["batch", "wait", job, "--interval", "0.05"], environment: env)
        waitUntil { server.batches.batchCount == 1 }
        server.batches.advance(by: 10)
        let waited = waiting.finish()
        XCTAssertEqual(waited.status, 0, waited.stderr)
        XCTAssertEqual(server.batches.uploadCount, 1, "the file was found, not uploaded again")
        XCTAssertEqual(server.batches.submittedCustomIDs, ["r1-1-1"], "each request submitted exactly once")
        XCTAssertEqual(try results(job).first?["status"]?.string, "succeeded")
    }

    /// `kill -9` after the provider created the batch, before the id was recorded: the next run
    /// finds the batch (by metadata on OpenAI, by listing on Anthropic, by name on Gemini).
    func testKillAfterCreateFindsTheBatch() throws {
        for (provider, model) in [("openai", "mock-a"), ("anthropic", "mock-b"), ("gemini", "mock-c")] {
            if provider != "openai" {
                tearDown()
                try setUpWithError()
            }
            try writeHome(personas: ["alpha": "\(provider):\(model)", "beta": "\(provider):\(model)"])
            server.batches.hold("create", seconds: 30)
            let running = try cli.launch(["batch", "submit", "--yes", "--prompt", "Hello?"], environment: env)
            waitUntil { server.batches.batchCount == 1 }
            running.signal(SIGKILL)
            _ = running.finish()
            server.batches.hold("create", seconds: 0)
            let job = try onlyJob()
            server.batches.advance(by: 10)
            let waited = try wait(job)
            XCTAssertEqual(waited.status, 0, provider + waited.stderr)
            XCTAssertEqual(server.batches.batchCount, 1, "\(provider): the batch was found, not created again")
            XCTAssertEqual(server.batches.submittedCustomIDs.sorted(), ["r1-1-1", "r1-1-2"], provider)
            XCTAssertEqual(try results(job).filter { $0["status"]?.string == "succeeded" }.count, 2, provider)
        }
    }

    /// `kill -9` in the middle of `wait`: another `wait` carries on, and nothing is sent twice.
    func testKillDuringWaitCarriesOn() throws {
        try writeHome(personas: ["alpha": "anthropic:mock-a"])
        let job = try jobID(try submit(["--prompt", "Hello?"]))
        let running = try cli.launch(["batch", "wait", job, "--interval", "0.05"], environment: env)
        waitUntil { server.requests.filter { $0.method == "GET" && $0.path.contains("/v1/messages/batches/") }.count >= 2 }
        running.signal(SIGKILL)
        _ = running.finish()
        server.batches.advance(by: 10)
        XCTAssertEqual(try wait(job).status, 0)
        XCTAssertEqual(server.batches.submittedCustomIDs, ["r1-1-1"])
        XCTAssertEqual(try Ledger(database: database()).entries(limit: 10).count, 1, "one ledger row")
    }

    /// A job over the daily cap sends nothing and exits 3; two jobs submitted at once under one
    /// cap stay within it together.
    func testBudgetHoldsForJobs() throws {
        try writeHome(personas: ["alpha": "openai:mock-a"], daily: "0.01")
        let prompts = try writePrompts((1...20).map { "Question \($0)?" }, name: "prompts.txt")
        let refused = try cli.run(["batch", "submit", "--yes", "--prompts", prompts], environment: env)
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("the job could cost up to"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("of the $0.0100 daily budget (budget.daily_usd) is left; nothing was sent"), refused.stderr)
        XCTAssertEqual(server.requests.count, 0, "nothing was sent")

        // A request reserves about $0.0034 at batch prices (its prompt at its longest, and 100
        // tokens of answer): one job of two fits under $0.01, two do not.
        let one = try writePrompts(["A?", "B?"], name: "two.txt")
        let results = try cli.runTogether([["batch", "submit", "--yes", "--prompts", one], ["batch", "submit", "--yes", "--prompts", one]],
                                          environment: env)
        XCTAssertEqual(results.map(\.status).sorted(), [0, 3], results.map(\.stderr).joined())
        XCTAssertEqual(server.batches.batchCount, 1)
    }

    /// A two-round debate as batches: round 2 is submitted by `wait`, and carries the other
    /// persona's round-1 answer; a persona whose round 1 failed sits round 2 out, marked.
    func testDebateRoundsAsBatches() throws {
        try writeHome(personas: ["alpha": "openai:mock-a", "beta": "openai:mock-b", "gamma": "openai:mock-c+status=500"])
        let job = try jobID(try submit(["--prompt", "Is tea better than coffee?", "--mode", "rounds", "--rounds", "2"]))
        server.batches.advance(by: 10)
        let waiting = try cli.launch(["batch", "wait", job, "--interval", "0.05"], environment: env)
        waitUntil { server.batches.batchCount == 5 }
        server.batches.advance(by: 10)
        XCTAssertEqual(waiting.finish().status, 1, "gamma failed")
        let uploads = server.requests.filter { $0.path == "/v1/files" && $0.method == "POST" }.map(\.bodyText)
        let alphaRound2 = try XCTUnwrap(uploads.first { $0.contains("r2-1-1") })
        XCTAssertTrue(alphaRound2.contains("[Beta]: Answer to: Is tea better than coffee?"), alphaRound2)
        XCTAssertFalse(alphaRound2.contains("[Gamma]"), "a failed answer is not shown")
        let answers = try results(job)
        XCTAssertEqual(answers.first { $0["persona"]?.string == "gamma" && $0["round"]?.int == 2 }?["status"]?.string, "skipped")
        XCTAssertEqual(answers.filter { $0["round"]?.int == 2 && $0["status"]?.string == "succeeded" }.count, 2)
        let session = try cli.run(["sessions", "show", "\(job)-q1"], environment: env)
        XCTAssertTrue(session.stdout.contains("Round 2"), session.stdout)
    }

    /// A provider without a batch API runs the job live through the engine, 50 at a time.
    func testLiveFallbackRunsConcurrently() throws {
        try writeHome(personas: ["alpha": "ollama:mock-a+delay=0.05"])
        let prompts = try writePrompts((1...60).map { "Question \($0)?" }, name: "prompts.txt")
        let job = try jobID(try submit(["--prompts", prompts, "--concurrency", "50"]))
        XCTAssertEqual(server.requests.count, 0, "submit sends no live request")
        let waited = try wait(job)
        XCTAssertEqual(waited.status, 0, waited.stderr)
        XCTAssertEqual(server.peakConcurrentStreams, 50)
        let answers = try results(job)
        XCTAssertEqual(answers.filter { $0["status"]?.string == "succeeded" }.count, 60)
        XCTAssertEqual(try Ledger(database: database()).entries(limit: 100).count, 60, "one row per request, from the engine")
    }

    /// Bad input: a clear error naming the file and line, exit 2, and nothing sent.
    func testBadInputSendsNothing() throws {
        try writeHome(personas: ["alpha": "openai:mock-a"])
        let cases: [([String], String)] = [
            (["--prompts", try writePrompts([""], name: "empty.txt")], "empty.txt: holds no prompts"),
            (["--prompts", try writePrompts([#"{"id": "a", "prompt": "x"}"#, "not json"], name: "bad.jsonl")], "bad.jsonl:2: not a JSON object"),
            (["--prompts", try writePrompts([#"{"id": "a", "prompt": "x"}"#, #"{"id": "a", "prompt": "y"}"#], name: "dup.jsonl")],
             "dup.jsonl:2: the id 'a' is used already, on line 1"),
            (["--prompt", "Hi", "--personas", "nobody"], "nobody"),
        ]
        for (arguments, message) in cases {
            let result = try cli.run(["batch", "submit", "--yes"] + arguments, environment: env)
            XCTAssertEqual(result.status, 2, message)
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
        }
        try writeHome(personas: ["alpha": "openai:mock-a"], extra: "  \"openai:mock-small\": { input: 1, output: 1, max_input: 10 }\n")
        let long = try cli.run(["batch", "submit", "--yes", "--model", "openai:mock-small", "--prompt", String(repeating: "word ", count: 200)],
                               environment: env)
        XCTAssertEqual(long.status, 2)
        XCTAssertTrue(long.stderr.contains("over the 10 that openai:mock-small takes"), long.stderr)
        XCTAssertEqual(server.requests.count, 0)
    }

    /// Two processes waiting on one job download each file once and write each row once.
    func testTwoWaitersDownloadOnce() throws {
        try writeHome(personas: ["alpha": "openai:mock-a", "beta": "openai:mock-b"])
        let prompts = try writePrompts((1...30).map { "Question \($0)?" }, name: "prompts.txt")
        let job = try jobID(try submit(["--prompts", prompts]))
        server.batches.advance(by: 10)
        let both = try cli.runTogether([["batch", "wait", job, "--interval", "0.05"], ["batch", "wait", job, "--interval", "0.05"]],
                                       environment: env)
        XCTAssertEqual(both.map(\.status), [0, 0], both.map(\.stderr).joined())
        let downloads = server.requests.filter { $0.path.hasSuffix("-output/content") }
        XCTAssertEqual(downloads.count, 2, "each part's output file once")
        XCTAssertEqual(try Ledger(database: database()).entries(limit: 100).count, 60)
    }

    /// A file the provider refuses at validation fails its part, with the provider's line errors.
    func testAFileRefusedAtValidationFailsItsPart() throws {
        try writeHome(personas: ["alpha": "openai:mock-a+batch_invalid", "beta": "openai:mock-b"])
        let job = try jobID(try submit(["--prompt", "Hello?"]))
        server.batches.advance(by: 10)
        let waited = try wait(job)
        XCTAssertEqual(waited.status, 1)
        XCTAssertTrue(waited.stderr.contains("line 1: the mock refuses this line"), waited.stderr)
        let answers = try results(job)
        XCTAssertEqual(answers.first { $0["persona"]?.string == "alpha" }?["status"]?.string, "errored")
        XCTAssertEqual(answers.first { $0["persona"]?.string == "beta" }?["status"]?.string, "succeeded")
    }

    /// A refused key gets a clear error naming its variable, and the key appears nowhere: not
    /// in the error (though the provider echoed it), the job's records, or the uploaded file.
    func testARefusedKeyIsNamedAndNeverShown() throws {
        let key = "sk-batch-secret-0123456789abcdef"
        server.stop()
        server = try MockServer { request in
            var behavior = MockBehavior.fromModelName(request.model)
            if request.path.contains("/batches") { (behavior.status, behavior.errorMessage) = (401, "Incorrect API key provided: \(key)") }
            return behavior
        }
        try writeHome(personas: ["alpha": "openai:mock-a"])
        var environment = env
        environment["OPENAI_API_KEY"] = key
        let result = try cli.run(["batch", "submit", "--yes", "--prompt", "Hello?"], environment: environment)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("refused the key in OPENAI_API_KEY"), result.stderr)
        XCTAssertFalse(result.stderr.contains(key))
        let upload = try XCTUnwrap(server.requests.first { $0.path == "/v1/files" })
        XCTAssertFalse(upload.bodyText.contains(key))
        let stored = try Data(contentsOf: cli.home.appendingPathComponent("persona.db"))
            + ((try? Data(contentsOf: cli.home.appendingPathComponent("persona.db-wal"))) ?? Data())
        XCTAssertNil(stored.range(of: Data(key.utf8)), "no key in persona.db")
    }
}
