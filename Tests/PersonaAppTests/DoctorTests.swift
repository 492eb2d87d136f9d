import Foundation
import MockProvider
import PersonaKit
import XCTest

@testable import PersonaApp

final class DoctorTests: XCTestCase {
    func testDoctorJSONWithOneGoodAndOneBadProvider() throws {
        // Anthropic's listing refuses the key; OpenAI's answers.
        let server = try MockServer { request in
            request.header("x-api-key") != nil ? MockBehavior(status: 401, errorMessage: "invalid x-api-key") : MockBehavior()
        }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        let personas = cli.home.appendingPathComponent("personas")
        try FileManager.default.createDirectory(at: personas, withIntermediateDirectories: true)
        try "---\nname: A\nmodel: openai:gpt-4o-mini\n---\nYou are A.\n".write(to: personas.appendingPathComponent("a.md"), atomically: true, encoding: .utf8)
        try "---\nname: B\nmodel: anthropic:claude-haiku-4-5\n---\nYou are B.\n".write(to: personas.appendingPathComponent("b.md"), atomically: true, encoding: .utf8)
        let secret = "sk-ant-very-secret"
        var environment = ["OPENAI_BASE_URL": server.baseURL + "/v1", "OPENAI_API_KEY": "sk-openai-secret",
                           "ANTHROPIC_BASE_URL": server.baseURL, "ANTHROPIC_API_KEY": secret, "PERSONA_BUNDLED_PERSONAS": ""]
        let result = try cli.run(["doctor", "--json"], environment: environment)
        XCTAssertEqual(result.status, 1, "a provider a persona uses is unusable")
        XCTAssertFalse(result.stdout.contains(secret) || result.stdout.contains("sk-openai-secret"), "keys are never printed")
        let report = try JSON.parse(result.stdout)
        XCTAssertEqual(report["ok"], .bool(false))
        let providers = report["providers"]?.array ?? []
        let openai = try XCTUnwrap(providers.first { $0["name"]?.string == "openai" })
        XCTAssertEqual(openai["status"]?.string, "ok")
        XCTAssertEqual(openai["models"]?.int, 2)
        XCTAssertNotNil(openai["latency_ms"]?.int)
        XCTAssertEqual(openai["key"]?["variable"]?.string, "OPENAI_API_KEY")
        XCTAssertEqual(openai["key"]?["present"], .bool(true))
        XCTAssertEqual(openai["used_by"]?[0]?.string, "a")
        let anthropic = try XCTUnwrap(providers.first { $0["name"]?.string == "anthropic" })
        XCTAssertEqual(anthropic["status"]?.string, "auth_failed")
        XCTAssertTrue(anthropic["problem"]?.string?.contains("ANTHROPIC_API_KEY") ?? false)
        XCTAssertEqual(server.requests.map(\.path).sorted(), ["/v1/models", "/v1/models"])

        environment["ANTHROPIC_API_KEY"] = nil
        let missing = try JSON.parse(try cli.run(["doctor", "--json"], environment: environment).stdout)
        let keyless = try XCTUnwrap(missing["providers"]?.array?.first { $0["name"]?.string == "anthropic" })
        XCTAssertEqual(keyless["status"]?.string, "missing_key")
        XCTAssertTrue(keyless["problem"]?.string?.contains("export ANTHROPIC_API_KEY") ?? false)

        environment["ANTHROPIC_API_KEY"] = secret
        environment["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:9"
        let refused = try cli.run(["doctor"], environment: environment)
        XCTAssertTrue(refused.stdout.contains("connection was refused"), refused.stdout)
        XCTAssertTrue(refused.stdout.contains("key ANTHROPIC_API_KEY: set"))

        // With a default model named, nothing is chosen automatically, and nothing uses Anthropic.
        try FileManager.default.removeItem(at: personas.appendingPathComponent("b.md"))
        try "default_model: openai:gpt-4o-mini\n".write(to: cli.home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try cli.run(["doctor"], environment: environment).status, 0, "no persona uses the broken provider")
    }

    /// With no persona naming a model, the provider Persona would choose is the one in use: a
    /// refused key there is not "ready".
    func testTheAutomaticallyChosenProviderCountsAsInUse() throws {
        let server = try MockServer { _ in MockBehavior(status: 401, errorMessage: "invalid x-api-key") }
        defer { server.stop() }
        let cli = try CLI()
        defer { cli.remove() }
        let environment = ["ANTHROPIC_BASE_URL": server.baseURL, "ANTHROPIC_API_KEY": "sk-ant-refused-key", "PERSONA_BUNDLED_PERSONAS": ""]
        let result = try cli.run(["doctor"], environment: environment)
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stdout.contains("used by: the default model anthropic:"), result.stdout)
        XCTAssertTrue(result.stdout.contains("A provider your personas use is not usable."), result.stdout)
    }

    func testF4ShowsTheProvidersOverlay() {
        var state = AppState(session: "s", panes: [], width: 100, height: 30)
        XCTAssertEqual(ChatReducer.reduce(&state, .key(.function(4)), at: 0), [.showProviders])
        let lines = DoctorReport.overlay([ProviderStatus(
            provider: "openai", breaker: .open, consecutiveFailures: 5, requestsInWindow: 3, limit: RateLimit(requests: 500),
            blockedUntil: nil, lastRateHeaders: ["x-ratelimit-remaining-requests": "0"], ttftP50: 0.42, ttftP95: 0.9,
            lastError: "server (HTTP 500): boom", successes: 10, failures: 5)])
        _ = ChatReducer.reduce(&state, .reportLoaded(lines), at: 0)
        let screen = ChatView.render(state).frame.lines.joined(separator: "\n")
        XCTAssertTrue(screen.contains("openai: breaker open, 10 ok, 5 failed (5 in a row)"), screen)
        XCTAssertTrue(screen.contains("rate limit: 3/500 requests per 60 s"))
        XCTAssertTrue(screen.contains("time to first token: p50 0.42 s, p95 0.90 s"))
        XCTAssertTrue(screen.contains("last error: server (HTTP 500): boom"))
    }
}
