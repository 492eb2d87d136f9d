import Foundation
import MockProvider
import PersonaKit
import XCTest

/// `persona serve` over real sockets: the built binary listens, libcurl asks, the loopback mock
/// answers in each provider's wire format, and the ledger in the home is read back.
final class GatewayTests: XCTestCase {
    var server: MockServer!
    var cli: CLI!
    var running: Running?
    var url = ""
    let transport = CurlTransport.shared
    let providerKey = "sk-upstream-secret-0123456789"

    override func setUpWithError() throws {
        server = try MockServer()
        cli = try CLI()
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        try "---\nname: The Skeptic\nmodel: anthropic:mock+tokens=8\n---\nYou doubt everything.\n"
            .write(to: personas.appendingPathComponent("skeptic.md"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        running?.signal(SIGKILL)
        _ = running?.finish()
        server.stop()
        cli.remove()
    }

    func config(_ extra: String = "") throws {
        let prices = ["openai:mock", "anthropic:mock+tokens=8", "gemini:mock", "openai:mock+tokens=400+delay=0.02"]
            .map { "  \"\($0)\": { input: 1.00, output: 2.00 }" }.joined(separator: "\n")
        try "prices:\n\(prices)\n\(extra)".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    }

    func serve(_ arguments: [String] = [], environment: [String: String] = [:]) throws {
        var env = CLI.providers(at: server)
        env["OPENAI_API_KEY"] = providerKey
        env.merge(environment) { _, new in new }
        let process = try cli.launch(["serve", "--port", "0"] + arguments, environment: env)
        running = process
        XCTAssertTrue(process.waitFor("http://", upTo: 30), process.stdoutSoFar)
        url = String(process.stdoutSoFar.split(separator: "\n")[0])
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await transport.exchange(HTTPRequest(method: "POST", url: url + path,
                                                 headers: HTTPHeaders([("Content-Type", "application/json")] + headers), body: Array(body.utf8)))
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await transport.exchange(HTTPRequest(method: "GET", url: url + path, headers: HTTPHeaders(headers)))
    }

    func ledger() throws -> [LedgerEntry] {
        try Ledger(path: cli.home.appendingPathComponent("persona.db").path).entries(limit: 1000).reversed()
    }

    func chat(_ model: String, stream: Bool = false, extra: String = "") -> String {
        #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Tea?"}]\#(extra)}"#
    }

    func testChatCompletionsAnswerStreamingAndNotAndEveryRequestIsInTheLedger() async throws {
        try config()
        try serve()
        let plain = try await post("/v1/chat/completions", chat("openai:mock"), headers: [("X-Request-ID", "req-plain")])
        XCTAssertEqual(plain.status, 200, String(decoding: plain.body, as: UTF8.self))
        XCTAssertEqual(plain.headers["x-provider-used"], "openai")
        XCTAssertEqual(plain.headers["x-model-used"], "mock")
        XCTAssertEqual(plain.headers["x-request-id"], "req-plain")
        let answer = try JSON.parse(plain.body)
        XCTAssertEqual(answer["object"]?.string, "chat.completion")
        XCTAssertFalse(answer["choices"]?[0]?["message"]?["content"]?.string?.isEmpty ?? true)
        XCTAssertEqual(answer["choices"]?[0]?["finish_reason"]?.string, "stop")
        let usage = try XCTUnwrap(answer["usage"])

        // Streams from the mock's Anthropic and Gemini formats, told back in OpenAI's.
        for model in ["anthropic:mock+tokens=8", "gemini:mock"] {
            let streamed = try await post("/v1/chat/completions",
                                          chat(model, stream: true, extra: #","stream_options":{"include_usage":true}"#))
            XCTAssertEqual(streamed.status, 200)
            XCTAssertEqual(streamed.headers["content-type"], "text/event-stream")
            let events = sseEvents(streamed)
            XCTAssertEqual(events.last, "data: [DONE]")
            let chunks = try events.dropLast().map { try JSON.parse(String($0.dropFirst("data: ".count))) }
            XCTAssertEqual(chunks.first?["choices"]?[0]?["delta"]?["role"]?.string, "assistant")
            let text = chunks.compactMap { $0["choices"]?[0]?["delta"]?["content"]?.string }.joined()
            XCTAssertFalse(text.isEmpty)
            XCTAssertEqual(chunks.dropLast().last?["choices"]?[0]?["finish_reason"]?.string, "stop")
            XCTAssertGreaterThan(chunks.last?["usage"]?["completion_tokens"]?.int ?? 0, 0, model)
        }

        let rows = try ledger()
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows.map(\.client), ["local", "local", "local"])
        XCTAssertEqual(rows[0].requestID, "req-plain")
        // Without X-Request-ID the gateway names the request, and each row goes to the client's session of the day.
        for row in rows.dropFirst() { XCTAssertNotNil(row.requestID?.wholeMatch(of: /req_[0-9a-f]{32}/), row.requestID ?? "no id") }
        let today = Calendar.current.dateComponents([.year, .month, .day], from: Date())
        XCTAssertEqual(Set(rows.map(\.session)), [String(format: "gateway-local-%04d%02d%02d", today.year!, today.month!, today.day!)])
        XCTAssertEqual(rows.map(\.provider), ["openai", "anthropic", "gemini"])
        XCTAssertEqual(rows[0].inputTokens, usage["prompt_tokens"]?.int)
        XCTAssertEqual(rows[0].outputTokens, usage["completion_tokens"]?.int)
        // The header's cost is the ledger's, exactly.
        XCTAssertEqual(plain.headers["x-request-cost"], "$" + Money.exactText(try XCTUnwrap(rows[0].costPicos)))
        // `persona costs` reads the same rows.
        let summary = try JSON.parse(try cli.run(["costs", "summary", "--json"]).stdout)
        XCTAssertEqual(summary["total_cost"]?.decimal, Money.dollars(rows.compactMap(\.costPicos).reduce(0, +)))
    }

    func testModelsListsTheCatalogAndThePersonasWhichBringTheirPrompt() async throws {
        try config()
        try serve()
        let models = try JSON.parse(try await get("/v1/models").body)
        let ids = models["data"]?.array?.compactMap { $0["id"]?.string } ?? []
        XCTAssertTrue(ids.contains("openai:mock"), "\(ids)")
        XCTAssertTrue(ids.contains("persona/skeptic"))
        XCTAssertFalse(ids.contains { $0.contains("*") }, "no wildcard entries")

        let reply = try await post("/v1/chat/completions", chat("persona/skeptic"))
        XCTAssertEqual(reply.status, 200, String(decoding: reply.body, as: UTF8.self))
        XCTAssertEqual(reply.headers["x-provider-used"], "anthropic")
        let sent = try XCTUnwrap(server.requests.last)
        let body = String(decoding: sent.body, as: UTF8.self)
        XCTAssertTrue(body.contains("You doubt everything.") && body.contains("Be brief."), body)
        XCTAssertEqual(try ledger().last?.persona, "skeptic")
    }

    func testBadRequestsGetTheirStatusAndNoProviderKeyLeaves() async throws {
        try config("budget: { daily_usd: 0.000001 }\n")
        try serve()
        let noMessages = try await post("/v1/chat/completions", #"{"model":"openai:mock"}"#)
        XCTAssertEqual(noMessages.status, 400)
        XCTAssertEqual(try JSON.parse(noMessages.body)["error"]?["param"]?.string, "messages")
        let notJSON = try await post("/v1/chat/completions", "{not json")
        XCTAssertEqual(notJSON.status, 400)
        let badTemperature = try await post("/v1/chat/completions", chat("openai:mock", extra: #","temperature":"hot""#))
        XCTAssertEqual(try JSON.parse(badTemperature.body)["error"]?["param"]?.string, "temperature")
        let unknown = try await post("/v1/chat/completions", chat("nobody-knows-this"))
        XCTAssertEqual(unknown.status, 400)
        let huge = try await post("/v1/chat/completions", String(repeating: " ", count: 5 * 1024 * 1024))
        XCTAssertEqual(huge.status, 413)

        // Over the daily cap: a 402 that says why, and nothing sent.
        let before = server.requests.count
        let refused = try await post("/v1/chat/completions", chat("openai:mock"))
        XCTAssertEqual(refused.status, 402, String(decoding: refused.body, as: UTF8.self))
        XCTAssertTrue(String(decoding: refused.body, as: UTF8.self).contains("budget"))
        XCTAssertEqual(server.requests.count, before)
        XCTAssertFalse(String(decoding: refused.body, as: UTF8.self).contains(providerKey))
    }

    func testAnUpstreamThatEchoesTheKeyDoesNotLeakIt() async throws {
        try config()
        try serve()
        let echo = "your key is \(providerKey), keep it safe".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        for stream in [false, true] {
            let reply = try await post("/v1/chat/completions", chat("openai:mock+text=\(echo)", stream: stream))
            let text = String(decoding: reply.body, as: UTF8.self)
            XCTAssertEqual(reply.status, 200)
            XCTAssertFalse(text.contains(providerKey), text)
            // A stream's first token goes out on its own: the answer is its chunks' text joined.
            let answer = stream
                ? try sseEvents(reply).filter { $0.hasPrefix("data: {") }
                    .compactMap { try JSON.parse(String($0.dropFirst("data: ".count)))["choices"]?[0]?["delta"]?["content"]?.string }.joined()
                : try JSON.parse(text)["choices"]?[0]?["message"]?["content"]?.string ?? ""
            XCTAssertTrue(answer.hasPrefix("your key is sk-…"), answer)
        }
        XCTAssertFalse(running?.stdoutSoFar.contains(providerKey) ?? true)
    }

    func testKeysDecideWhoMayAsk() async throws {
        try config("serve:\n  keys:\n    alice: { key_env: ALICE_KEY, role: client }\n    ops: { key_env: OPS_KEY, role: admin }\n")
        try serve(environment: ["ALICE_KEY": "alice-key-0123456789", "OPS_KEY": "ops-key-0123456789"])
        let anonymous = try await post("/v1/chat/completions", chat("openai:mock"))
        XCTAssertEqual(anonymous.status, 401)
        let wrong = try await post("/v1/chat/completions", chat("openai:mock"), headers: [("X-API-Key", "alice-key-01234567890")])
        XCTAssertEqual(wrong.status, 401)
        let models = try await get("/v1/models")
        XCTAssertEqual(models.status, 401)
        let alice = try await post("/v1/chat/completions", chat("openai:mock"), headers: [("Authorization", "Bearer alice-key-0123456789")])
        XCTAssertEqual(alice.status, 200)
        let ops = try await post("/v1/chat/completions", chat("openai:mock"), headers: [("X-API-Key", "ops-key-0123456789")])
        XCTAssertEqual(ops.status, 200)
        XCTAssertEqual(try ledger().map(\.client), ["alice", "ops"])

        let unkeyed = try cli.run(["serve", "--host", "0.0.0.0", "--port", "0"], environment: CLI.providers(at: server))
        XCTAssertNotEqual(unkeyed.status, 0)
        try config()
        let open = try cli.run(["serve", "--host", "0.0.0.0", "--port", "0"], environment: CLI.providers(at: server))
        XCTAssertEqual(open.status, 2)
        XCTAssertTrue(open.stderr.contains("serve.keys is empty"), open.stderr)
    }

    /// A reload applies keys and budgets to the next request: a key added to the config admits its
    /// client, one removed no longer does, and a new daily cap refuses what no longer fits.
    func testAReloadAppliesKeysAndBudgets() async throws {
        let keys = "serve:\n  keys:\n    ops: { key_env: OPS_KEY, role: admin }\n"
        try config(keys + "    alice: { key_env: ALICE_KEY, role: client }\n")
        try serve(environment: ["ALICE_KEY": "alice-key-0123456789", "OPS_KEY": "ops-key-0123456789", "BOB_KEY": "bob-key-0123456789"])
        let (ops, alice, bob) = ([("X-API-Key", "ops-key-0123456789")], [("X-API-Key", "alice-key-0123456789")],
                                 [("X-API-Key", "bob-key-0123456789")])
        let bobBefore = try await post("/v1/chat/completions", chat("openai:mock"), headers: bob)
        XCTAssertEqual(bobBefore.status, 401)
        try config(keys + "    bob: { key_env: BOB_KEY, role: client }\nbudget:\n  daily_usd: 0.000001\n")
        let reload = try json(try await post("/api/v1/config/reload", "{}", headers: ops))
        XCTAssertEqual(reload["applied"]?.bool, true, "\(reload)")
        let aliceAfter = try await post("/v1/chat/completions", chat("openai:mock"), headers: alice)
        XCTAssertEqual(aliceAfter.status, 401, "a key taken out of the config no longer admits")
        let bobAfter = try await post("/v1/chat/completions", chat("openai:mock"), headers: bob)
        XCTAssertEqual(bobAfter.status, 402, "the new daily cap refuses what does not fit: \(String(decoding: bobAfter.body, as: UTF8.self))")
        // A config whose key has no value in the environment is not applied; the clients stay as they were.
        try config(keys + "    carol: { key_env: CAROL_KEY, role: client }\n")
        let refused = try json(try await post("/api/v1/config/reload", "{}", headers: ops))
        XCTAssertEqual(refused["applied"]?.bool, false)
        XCTAssertTrue("\(refused["errors"] ?? .null)".contains("CAROL_KEY"), "\(refused)")
        let bobStill = try await post("/v1/chat/completions", chat("openai:mock"), headers: bob)
        XCTAssertEqual(bobStill.status, 402)
    }

    func testAClientThatLeavesMidStreamStopsTheUpstreamAndTheStopIsRecorded() async throws {
        try config()
        try serve()
        var parts = 0
        for try await part in transport.stream(HTTPRequest(method: "POST", url: url + "/v1/chat/completions",
                                                           headers: HTTPHeaders([("Content-Type", "application/json")]),
                                                           body: Array(chat("openai:mock+tokens=400+delay=0.02", stream: true).utf8))) {
            if case .body = part { parts += 1 }
            if parts == 3 { break }
        }
        var rows: [LedgerEntry] = []
        for _ in 0..<100 where rows.isEmpty {
            rows = try ledger()
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let row = try XCTUnwrap(rows.first)
        XCTAssertEqual(row.status, .cancelled)
        XCTAssertTrue(row.estimated)
        XCTAssertGreaterThan(row.outputTokens, 0)
        XCTAssertLessThan(row.outputTokens, 400)
    }

    func testSIGTERMLetsTheStreamsInFlightFinishThenExitsZero() async throws {
        try config()
        try serve()
        let (transport, asked) = (transport, HTTPRequest(method: "POST", url: url + "/v1/chat/completions",
                                                         headers: HTTPHeaders([("Content-Type", "application/json")]),
                                                         body: Array(chat("openai:mock+tokens=60+delay=0.02", stream: true).utf8)))
        let request = Task { try await transport.exchange(asked) }
        for _ in 0..<100 where server.requests.isEmpty { try await Task.sleep(nanoseconds: 20_000_000) }
        running?.signal(SIGTERM)
        let reply = try await request.value
        XCTAssertEqual(reply.status, 200)
        XCTAssertTrue(String(decoding: reply.body, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))
        let ended = try XCTUnwrap(running).finish()
        running = nil
        XCTAssertEqual(ended.status, 0, ended.stderr)
        XCTAssertEqual(try ledger().first?.status, .ok)
    }

    func patch(_ path: String, _ body: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await transport.exchange(HTTPRequest(method: "PATCH", url: url + path,
                                                 headers: HTTPHeaders([("Content-Type", "application/json")] + headers), body: Array(body.utf8)))
    }

    func json(_ reply: HTTPReply) throws -> JSON { try JSON.parse(reply.body) }

    /// A streamed reply's server-sent events, each as written (`data: …`).
    func sseEvents(_ reply: HTTPReply) -> [String] {
        String(decoding: reply.body, as: UTF8.self).components(separatedBy: "\n\n").filter { !$0.isEmpty }
    }

    func testTheSeedAPIGeneratesStreamsAndChatsInItsOwnShapes() async throws {
        try config("default_model: openai:mock\nfailover_chains: { premium: [ollama:mock+status=500, gemini:mock] }\nretry: { max_retries: 0 }\n"
            + "providers:\n  openai: { rpm: 100, tpm: 100000 }\n")
        try serve()
        let generated = try await post("/api/v1/generate", #"{"prompt":"Tea?","system_prompt":"Be brief.","max_tokens":50}"#)
        XCTAssertEqual(generated.status, 200, String(decoding: generated.body, as: UTF8.self))
        let body = try json(generated)
        XCTAssertFalse(body["text"]?.string?.isEmpty ?? true)
        XCTAssertEqual(body["provider"]?.string, "openai")
        XCTAssertEqual(body["model"]?.string, "mock")
        XCTAssertGreaterThan(body["usage"]?["completion_tokens"]?.int ?? 0, 0)
        XCTAssertEqual(generated.headers["x-ratelimit-remaining"], "99")
        XCTAssertNotNil(generated.headers["x-ratelimit-reset"].flatMap { Int($0) })
        let rows = try ledger()
        XCTAssertEqual(body["cost"]?.decimal, Money.dollars(try XCTUnwrap(rows.last?.costPicos)))
        XCTAssertEqual(generated.headers["x-request-cost"], "$" + Money.exactText(try XCTUnwrap(rows.last?.costPicos)))

        let streamed = try await post("/api/v1/generate/stream", #"{"prompt":"Tea?"}"#)
        let events = sseEvents(streamed)
        XCTAssertEqual(events.last, "data: [DONE]")
        let deltas = try events.dropLast().map { try JSON.parse(String($0.dropFirst("data: ".count))) }
        XCTAssertEqual(deltas.compactMap { $0["index"]?.int }, Array(0..<deltas.count))
        XCTAssertFalse(deltas.compactMap { $0["delta"]?.string }.joined().isEmpty)

        // The named chain's first model fails; the request goes on down the chain.
        let chat = try await post("/api/v1/chat", #"{"messages":[{"role":"user","content":"Tea?"}]}"#, headers: [("X-Failover-Chain", "premium")])
        XCTAssertEqual(chat.status, 200, String(decoding: chat.body, as: UTF8.self))
        XCTAssertEqual(chat.headers["x-provider-used"], "gemini")
        XCTAssertEqual(try json(chat)["message"]?["role"]?.string, "assistant")

        let bad = try await post("/api/v1/generate", #"{"max_tokens":5}"#)
        XCTAssertEqual(bad.status, 400)
        let error = try json(bad)
        XCTAssertEqual(error["status_code"]?.int, 400)
        XCTAssertEqual(error["field"]?.string, "prompt")
        XCTAssertNotNil(error["request_id"]?.string)
        XCTAssertNotNil(error["timestamp"]?.string)
        XCTAssertEqual(error["error"]?.string, "Bad Request")
    }

    func testTheSeedAPIsConfigProvidersHealthCostsAndRateLimits() async throws {
        try config("budget: { daily_usd: 0.01, warn_at: 0.005 }\nproviders:\n  openai: { rpm: 100 }\n"
            + "serve:\n  keys:\n    alice: { key_env: ALICE_KEY }\n    ops: { key_env: OPS_KEY, role: admin }\n")
        try serve(environment: ["ALICE_KEY": "alice-key-0123456789", "OPS_KEY": "ops-key-0123456789"])
        let alice = [("X-API-Key", "alice-key-0123456789")]
        let ops = [("Authorization", "Bearer ops-key-0123456789")]
        let answered = try await post("/api/v1/generate", #"{"prompt":"Tea?","model":"openai:mock","max_tokens":30}"#, headers: alice)
        XCTAssertEqual(answered.status, 200, String(decoding: answered.body, as: UTF8.self))

        let config = try await get("/api/v1/config", headers: alice)
        XCTAssertEqual(config.status, 200)
        XCTAssertFalse(String(decoding: config.body, as: UTF8.self).contains(providerKey))
        XCTAssertEqual(try json(config)["providers"]?["openai"]?["api_key_set"]?.bool, true)
        let reply1 = try await get("/api/v1/config/status", headers: alice)
        XCTAssertEqual(try json(reply1)["validation_status"]?.string, "valid")
        let unauthenticated = try await get("/api/v1/config")
        XCTAssertEqual(unauthenticated.status, 401)

        // Admin endpoints: 403 for a client key, done for an admin's.
        let forbidden = try await patch("/api/v1/providers/openai", #"{"enabled":false}"#, headers: alice)
        XCTAssertEqual(forbidden.status, 403)
        let reply2 = try await patch("/api/v1/providers/openai", #"{"enabled":false}"#, headers: ops)
        XCTAssertEqual(reply2.status, 200)
        let providers = try json(try await get("/api/v1/providers?enabled_only=true", headers: alice))
        XCTAssertFalse(providers["providers"]?.array?.contains { $0["id"]?.string == "openai" } ?? true)
        let refused = try await post("/api/v1/generate", #"{"prompt":"Tea?","model":"openai:mock","max_tokens":30}"#, headers: alice)
        XCTAssertEqual(refused.status, 503)
        let reply3 = try await patch("/api/v1/providers/openai", #"{"enabled":true}"#, headers: ops)
        XCTAssertEqual(reply3.status, 200)
        let models = try json(try await get("/api/v1/providers/openai/models", headers: alice))
        let mock = try XCTUnwrap(models["models"]?.array?.first { $0["id"]?.string == "mock" })
        XCTAssertEqual(mock["pricing"]?["input_per_million"]?.decimal, 1)
        XCTAssertEqual(mock["pricing"]?["output_per_1k"]?.decimal, Decimal(string: "0.002"))
        let reply4 = try await get("/api/v1/providers/nobody", headers: alice)
        XCTAssertEqual(reply4.status, 404)

        let reply5 = try await get("/api/v1/health", headers: alice)
        XCTAssertEqual(try json(reply5)["status"]?.string, "healthy")
        let reply6 = try await get("/api/v1/health/providers/openai", headers: alice)
        XCTAssertEqual(try json(reply6)["circuit_breaker"]?.string, "closed")
        let reply7 = try await get("/api/v1/health/circuit-breakers", headers: alice)
        XCTAssertNotNil(try json(reply7)["circuit_breakers"]?["openai"])
        let limits = try json(try await get("/api/v1/rate-limits/openai", headers: alice))
        XCTAssertEqual(limits["requests_per_minute"]?["used"]?.int, 1)
        let reply8 = try await post("/api/v1/rate-limits/openai/reset", "", headers: alice)
        XCTAssertEqual(reply8.status, 403)
        let reply9 = try await post("/api/v1/rate-limits/openai/reset", "", headers: ops)
        XCTAssertEqual(reply9.status, 200)
        let reply10 = try await get("/api/v1/rate-limits/openai", headers: alice)
        XCTAssertNil(try json(reply10)["requests_per_minute"]?["used"]?.int.flatMap { $0 > 0 ? $0 : nil })

        // The cost endpoints are `persona costs --json`, from the same rows.
        for kind in ["summary", "daily", "by-provider", "entries"] {
            let served = try json(try await get("/api/v1/costs/\(kind)", headers: alice))
            let printed = try JSON.parse(try cli.run(["costs", kind, "--json"] + (kind == "entries" ? ["--limit", "100"] : [])).stdout)
            XCTAssertEqual(served, printed, kind)
        }
        let reply11 = try await get("/api/v1/costs/entries", headers: alice)
        XCTAssertEqual(try json(reply11)["entries"]?[0]?["client"]?.string, "alice")
        let alerts = try json(try await get("/api/v1/costs/alerts", headers: alice))
        XCTAssertEqual(alerts["alerts"]?[0]?["type"]?.string, "daily_budget_warning", "\(alerts)")

        let reload = try json(try await post("/api/v1/config/reload", #"{"validate_only":true}"#, headers: ops))
        XCTAssertEqual(reload["applied"]?.bool, false)
        let reply12 = try await post("/api/v1/config/validate", "", headers: alice)
        XCTAssertEqual(try json(reply12)["valid"]?.bool, true)
    }

    /// Streams `count` chat completions at once; returns each reply's status and body.
    func streamTogether(_ count: Int, model: String) async throws -> [(Int, String)] {
        let (transport, url) = (transport, url)
        let body = Array(chat(model, stream: true, extra: #","max_tokens":40"#).utf8)
        return try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0..<count {
                group.addTask {
                    let reply = try await transport.exchange(HTTPRequest(method: "POST", url: url + "/v1/chat/completions",
                                                                         headers: HTTPHeaders([("Content-Type", "application/json"),
                                                                                               ("X-Request-ID", "many-\(index)")]),
                                                                         body: body))
                    return (reply.status, String(decoding: reply.body, as: UTF8.self))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    func testTwoHundredStreamsAtOnceAreEachCompleteAndEachInTheLedgerExactly() async throws {
        try config()
        try serve()
        let replies = try await streamTogether(200, model: "openai:mock")
        XCTAssertEqual(replies.filter { $0.0 == 200 }.count, 200)
        for (_, body) in replies {
            XCTAssertTrue(body.hasSuffix("data: [DONE]\n\n"))
            XCTAssertTrue(body.contains(#""finish_reason":"stop""#))
        }
        let rows = try ledger()
        XCTAssertEqual(rows.count, 200)
        XCTAssertEqual(Set(rows.compactMap(\.requestID)).count, 200)
        // $1.00 and $2.00 a million tokens: each row's cost is its own counts priced, exactly.
        for row in rows {
            XCTAssertEqual(row.status, .ok)
            XCTAssertFalse(row.estimated)
            XCTAssertEqual(row.costPicos, Int64(row.inputTokens) * 1_000_000 + Int64(row.outputTokens) * 2_000_000)
        }
    }

    func testUnderADailyCapClientsTogetherStayWithinIt() async throws {
        try config("budget: { daily_usd: 0.01 }\n")
        try serve()
        let replies = try await streamTogether(60, model: "openai:mock")
        let answered = replies.filter { $0.0 == 200 }.count
        let refused = replies.filter { $0.0 == 402 }.count
        XCTAssertEqual(answered + refused, 60)
        XCTAssertGreaterThan(answered, 0)
        XCTAssertGreaterThan(refused, 0, "the cap stopped some")
        let spent = try ledger().compactMap(\.costPicos).reduce(0, +)
        XCTAssertLessThanOrEqual(spent, 10_000_000_000, "the day's spend stays within $0.01")
    }

    func testEmbeddingsForOneInputOrManyAreRecordedAtTheirPrices() async throws {
        try config()
        try serve()
        let openai = try await post("/v1/embeddings", #"{"model":"openai:text-embedding-3-small","input":["tea or coffee","cats"]}"#)
        XCTAssertEqual(openai.status, 200, String(decoding: openai.body, as: UTF8.self))
        let body = try json(openai)
        XCTAssertEqual(body["data"]?.array?.count, 2)
        XCTAssertEqual(body["data"]?[1]?["index"]?.int, 1)
        XCTAssertEqual(body["data"]?[0]?["embedding"]?.array?.count, 8)
        XCTAssertEqual(body["usage"]?["prompt_tokens"]?.int, 4, "the mock counts words")
        // $0.02 a million tokens: 20,000 picodollars a token.
        XCTAssertEqual(openai.headers["x-request-cost"], "$" + Money.exactText(4 * 20_000))

        // The same text gets the same vector through Gemini's batchEmbedContents, which reports no
        // usage: the count is Persona's estimate, marked.
        let gemini = try await post("/api/v1/embeddings", #"{"model":"gemini:gemini-embedding-001","input":"tea or coffee"}"#)
        XCTAssertEqual(gemini.status, 200, String(decoding: gemini.body, as: UTF8.self))
        let seed = try json(gemini)
        XCTAssertEqual(seed["embeddings"]?[0]?["dimensions"]?.int, 8)
        XCTAssertEqual(seed["provider"]?.string, "gemini")
        XCTAssertEqual(seed["cost_estimated"]?.bool, true)
        XCTAssertTrue(gemini.headers["x-request-cost"]?.hasPrefix("~$") ?? false)
        XCTAssertEqual(seed["embeddings"]?[0]?["embedding"], body["data"]?[0]?["embedding"])
        let sent = try XCTUnwrap(server.requests.last)
        XCTAssertTrue(sent.path.hasSuffix("/v1beta/models/gemini-embedding-001:batchEmbedContents"), sent.path)
        XCTAssertFalse(sent.path.contains("key="), "the key travels in a header")

        let ollama = try await post("/v1/embeddings", #"{"model":"ollama:nomic-embed-text","input":"tea"}"#)
        XCTAssertEqual(ollama.status, 200, String(decoding: ollama.body, as: UTF8.self))
        XCTAssertTrue(server.requests.last?.path.hasSuffix("/api/embed") ?? false)

        let rows = try ledger()
        XCTAssertEqual(rows.map(\.provider), ["openai", "gemini", "ollama"])
        XCTAssertEqual(rows.map(\.persona), ["embeddings", "embeddings", "embeddings"])
        XCTAssertEqual(rows[0].inputTokens, 4)
        XCTAssertEqual(rows[0].costPicos, 80_000)
        XCTAssertEqual(rows[0].outputTokens, 0)
        XCTAssertTrue(rows[1].estimated)
        XCTAssertEqual(rows[1].costPicos, Int64(rows[1].inputTokens) * 150_000)
        XCTAssertEqual(rows[2].costPicos, 0)
        XCTAssertEqual(rows.map(\.client), ["local", "local", "local"])

        let noInput = try await post("/v1/embeddings", #"{"model":"openai:text-embedding-3-small","input":[]}"#)
        XCTAssertEqual(try json(noInput)["error"]?["param"]?.string, "input")
        let anthropic = try await post("/api/v1/embeddings", #"{"model":"anthropic:mock","input":"tea"}"#)
        XCTAssertEqual(anthropic.status, 400)
        XCTAssertTrue(try json(anthropic)["detail"]?.string?.contains("no embeddings API") ?? false)
        let failing = try await post("/v1/embeddings", #"{"model":"openai:text-embedding-3-small+status=500","input":"tea"}"#)
        XCTAssertEqual(failing.status, 502)
        XCTAssertEqual(try ledger().last?.status, .failed, "a failed request is recorded too")
    }
}
