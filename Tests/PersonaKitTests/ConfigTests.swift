import XCTest

@testable import PersonaKit

final class ConfigTests: XCTestCase {
    let designExample = """
        default_model: anthropic:claude-sonnet-4-5
        default_personas: [skeptic, optimist, pragmatist]   # the roster `persona` opens with
        personas_dirs: [./personas]                          # searched after <home>/personas
        providers:
          openai:    { api_key_env: OPENAI_API_KEY, rpm: 500, tpm: 30000 }
          anthropic: {}
          gemini:    {}
          ollama:    { base_url: http://localhost:11434, keep_alive: 5m }
          groq:      { type: openai, base_url: https://api.groq.com/openai/v1 }
          local:     { type: openai, base_url: http://127.0.0.1:8080/v1 }
        failover_chains: { default: [anthropic:claude-sonnet-4-5, openai:gpt-4o] }
        retry: { max_retries: 3, base_delay: 1.0, max_delay: 60 }
        circuit_breaker: { failure_threshold: 5, cooldown: 60 }
        timeouts: { connect: 10, stream_idle: 30 }
        budget: { session_usd: 1.00, daily_usd: 10.00, warn_at: 0.8 }
        prices: { "openai:gpt-5": { input: 1.25, cached_input: 0.125, output: 10 } }
        prices_file: ~/model_prices_and_context_window.json   # LiteLLM format, optional
        """

    func testEveryKeyOfTheDesignExampleIsKnown() {
        let (config, issues) = Config.parse(designExample, file: "config.yaml", baseDirectory: "/etc/persona")
        XCTAssertEqual(issues, [])
        XCTAssertEqual(config.defaultModel, ModelRef(provider: "anthropic", model: "claude-sonnet-4-5"))
        XCTAssertEqual(config.defaultPersonas, ["skeptic", "optimist", "pragmatist"])
        XCTAssertEqual(config.personasDirs, ["/etc/persona/personas"])
        XCTAssertEqual(config.providers["openai"]?.requestsPerMinute, 500)
        XCTAssertEqual(config.providers["openai"]?.tokensPerMinute, 30000)
        XCTAssertEqual(config.providers["ollama"]?.keepAlive, "5m")
        XCTAssertEqual(config.providers["groq"]?.type, .openai)
        XCTAssertEqual(config.failoverChains["default"]?.map(\.description), ["anthropic:claude-sonnet-4-5", "openai:gpt-4o"])
        XCTAssertEqual(config.retry, RetrySettings(maxRetries: 3, baseDelay: 1, maxDelay: 60))
        XCTAssertEqual(config.circuitBreaker.failureThreshold, 5)
        XCTAssertEqual(config.timeouts.streamIdle, 30)
        XCTAssertEqual(config.budget.sessionUSD, Decimal(string: "1.00"))
        XCTAssertEqual(config.budget.dailyUSD, Decimal(10))
        XCTAssertEqual(config.prices["openai:gpt-5"]?.cachedInput, 125_000, "USD 0.125 per million tokens, in picodollars per token")
        XCTAssertTrue(config.pricesFile?.hasSuffix("/model_prices_and_context_window.json") ?? false)
        XCTAssertFalse(config.pricesFile?.hasPrefix("~") ?? true)
    }

    func testUnknownKeysAreWarningsWithTheirLine() {
        let text = "default_model: openai:gpt-4o\ncolour_scheme: dark\nretry:\n  max_retries: 2\n  jitter: full\n"
        let (config, issues) = Config.parse(text, file: "c.yaml", baseDirectory: "/")
        XCTAssertEqual(config.retry.maxRetries, 2)
        XCTAssertEqual(issues.map(\.severity), [.warning, .warning])
        XCTAssertEqual(issues.map(\.line), [2, 5])
        XCTAssertEqual(issues.map(\.field), ["colour_scheme", "retry.jitter"])
    }

    func testWrongTypesAreErrorsNamingFileLineAndField() {
        let text = "timeouts:\n  connect: soon\nbudget: { session_usd: lots }\ndefault_model: gpt-4o\n"
        let (_, issues) = Config.parse(text, file: "/home/u/.persona/config.yaml", baseDirectory: "/")
        XCTAssertEqual(issues.count, 3)
        XCTAssertEqual(issues[0].description, "/home/u/.persona/config.yaml:2: error: timeouts.connect: expected a number, got 'soon'")
        XCTAssertEqual(issues[1].line, 3)
        XCTAssertEqual(issues[1].field, "budget.session_usd")
        XCTAssertEqual(issues[2].field, "default_model")
        XCTAssertTrue(issues[2].message.contains("provider:model"))
    }

    func testCouncilSettingsAreReadAndBadOnesNamed() {
        let (config, issues) = Config.parse("chairman: judge\nreview_orders: 2\nself_review: include\n", file: "c.yaml", baseDirectory: "/")
        XCTAssertEqual(issues, [])
        XCTAssertEqual(config.chairman, "judge")
        XCTAssertEqual(config.reviewOrders, 2)
        XCTAssertEqual(config.selfReview, .include)
        let (_, bad) = Config.parse("review_orders: 3\nself_review: sometimes\n", file: "c.yaml", baseDirectory: "/")
        XCTAssertEqual(bad.map(\.line), [1, 2])
        XCTAssertEqual(bad.map(\.field), ["review_orders", "self_review"])
        XCTAssertTrue(bad[1].message.contains("recuse or include"))
    }

    func testYAMLSyntaxErrorNamesTheLine() {
        let (_, issues) = Config.parse("retry:\n  max_retries: 3\n  base_delay: [1, 2\n", file: "c.yaml", baseDirectory: "/")
        XCTAssertEqual(issues.first?.severity, .error)
        XCTAssertNotNil(issues.first?.line)
        XCTAssertTrue(issues.first?.message.hasPrefix("YAML syntax") ?? false)
    }

    func testModelRefSplitsAtTheFirstColon() throws {
        let ref = try ModelRef(parsing: "openrouter:meta-llama/llama-3.3-70b-instruct:free")
        XCTAssertEqual(ref.provider, "openrouter")
        XCTAssertEqual(ref.model, "meta-llama/llama-3.3-70b-instruct:free")
        XCTAssertThrowsError(try ModelRef(parsing: "gpt-4o"))
        XCTAssertThrowsError(try ModelRef(parsing: ":gpt-4o"))
        XCTAssertThrowsError(try ModelRef(parsing: "openai:"))
    }
}

final class PersonaFileTests: XCTestCase {
    func testParsesTheDesignExample() {
        let text = """
            ---
            name: The Skeptic
            color: red
            model: anthropic:claude-sonnet-4-5
            fallback: [openai:gpt-4o-mini]
            temperature: 0.7
            max_tokens: 800
            card: Questions every claim and asks for evidence.
            answer_pattern: '\\\\boxed\\{(.+?)\\}'
            ---
            You are the skeptic.
            """
        let (persona, issues) = Persona.parse(text, file: "/p/skeptic.md")
        XCTAssertEqual(issues, [])
        XCTAssertEqual(persona?.id, "skeptic")
        XCTAssertEqual(persona?.name, "The Skeptic")
        XCTAssertEqual(persona?.model?.description, "anthropic:claude-sonnet-4-5")
        XCTAssertEqual(persona?.fallback.map(\.description), ["openai:gpt-4o-mini"])
        XCTAssertEqual(persona?.temperature, 0.7)
        XCTAssertEqual(persona?.maxTokens, 800)
        XCTAssertEqual(persona?.answerPattern, "\\\\boxed\\{(.+?)\\}")
        XCTAssertEqual(persona?.systemPrompt, "You are the skeptic.")
    }

    func testErrorsNameTheFileLineAndField() {
        let text = "---\nname: Bad\ntemperature: hot\nmodel: gpt-4\nmood: grumpy\n---\nPrompt.\n"
        let (persona, issues) = Persona.parse(text, file: "/p/bad.md")
        XCTAssertNil(persona)
        XCTAssertEqual(issues.map(\.description), [
            "/p/bad.md:3: error: temperature: expected a number, got 'hot'",
            "/p/bad.md:4: error: model: 'gpt-4' is not provider:model (for example anthropic:claude-sonnet-4-5 or ollama:llama3.2)",
            "/p/bad.md:5: warning: mood: unknown key, ignored (known: answer_pattern, card, color, fallback, knowledge, max_tokens, model, name, schema, schema_file, schema_repair, temperature, tools)",
        ])
    }

    func testMissingOrUnclosedFrontMatter() {
        XCTAssertEqual(Persona.parse("Just a prompt", file: "a.md").1.first?.line, 1)
        XCTAssertTrue(Persona.parse("---\nname: A\nPrompt", file: "a.md").1.first?.message.contains("never closed") ?? false)
        XCTAssertTrue(Persona.parse("---\nname: A\n---\n", file: "a.md").1.first?.message.contains("system prompt") ?? false)
    }

    func testInvalidAnswerPatternIsAnError() {
        let (persona, issues) = Persona.parse("---\nname: A\nanswer_pattern: '(unclosed'\n---\nP\n", file: "a.md")
        XCTAssertNil(persona)
        XCTAssertEqual(issues.first?.line, 3)
        XCTAssertEqual(issues.first?.field, "answer_pattern")
    }

    func testABadFileDoesNotStopTheOthersAndEarlierFoldersWin() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("personas-\(UUID().uuidString)")
        let home = root.appendingPathComponent("home")
        let bundled = root.appendingPathComponent("bundled")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: bundled, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try "---\nname: Mine\n---\nMy prompt.\n".write(to: home.appendingPathComponent("skeptic.md"), atomically: true, encoding: .utf8)
        try "---\nname: Bundled\n---\nTheirs.\n".write(to: bundled.appendingPathComponent("skeptic.md"), atomically: true, encoding: .utf8)
        try "---\nname: [broken\n---\nX\n".write(to: bundled.appendingPathComponent("broken.md"), atomically: true, encoding: .utf8)
        try "---\nname: Fine\n---\nOK.\n".write(to: bundled.appendingPathComponent("fine.md"), atomically: true, encoding: .utf8)

        let (personas, issues) = PersonaLoader.load(from: [home.path, bundled.path])
        XCTAssertEqual(personas.map(\.id), ["skeptic", "fine"])
        XCTAssertEqual(personas.first?.name, "Mine")
        XCTAssertEqual(issues.count, 1)
        XCTAssertTrue(issues[0].file.hasSuffix("broken.md"))
        XCTAssertEqual(issues[0].line, 2)
    }

    /// Each thing in the personas folder that is not a readable file is named for what it is, and
    /// none of them stops the others loading; a FIFO is never opened, so nothing waits on it.
    func testEachUnreadableEntryNamesItsRealCause() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("personas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try "---\nname: Fine\n---\nOK.\n".write(toFile: path("fine.md"), atomically: true, encoding: .utf8)
        XCTAssertEqual(mkfifo(path("pipe.md"), 0o644), 0)
        try FileManager.default.createSymbolicLink(atPath: path("loop-a.md"), withDestinationPath: path("loop-b.md"))
        try FileManager.default.createSymbolicLink(atPath: path("loop-b.md"), withDestinationPath: path("loop-a.md"))
        try FileManager.default.createSymbolicLink(atPath: path("dangling.md"), withDestinationPath: path("gone.md"))
        try FileManager.default.createDirectory(atPath: path("folder.md"), withIntermediateDirectories: false)
        try Data([0x2D, 0x2D, 0x2D, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: path("latin1.md")))
        try Data(count: (1 << 20) + 1).write(to: URL(fileURLWithPath: path("huge.md")))
        // A file name that is not UTF-8: made with the C library, which takes bytes.
        let rawName = Array(directory.path.utf8CString.dropLast()) + Array("/bad\u{0}".utf8CString.dropLast(2)) + [CChar(bitPattern: 0xFF)]
            + Array(".md".utf8CString)
        let descriptor = rawName.withUnsafeBufferPointer { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        close(descriptor)

        let (personas, issues) = PersonaLoader.load(from: [directory.path])
        XCTAssertEqual(personas.map(\.id), ["fine"])
        let causes = Dictionary(uniqueKeysWithValues: issues.map { (URL(fileURLWithPath: $0.file).lastPathComponent, $0.message) })
        XCTAssertEqual(causes["pipe.md"], "is a FIFO, not a file; persona files are plain text")
        XCTAssertEqual(causes["loop-a.md"], "is a symbolic link that leads round in a loop")
        XCTAssertEqual(causes["dangling.md"], "is a symbolic link to a file that does not exist")
        XCTAssertEqual(causes["folder.md"], "is a folder, not a file")
        XCTAssertEqual(causes["latin1.md"], "is not UTF-8 text; save it as UTF-8")
        XCTAssertEqual(causes["huge.md"], "is 1 MiB; a persona file is a few kilobytes of text")
        XCTAssertTrue(causes.contains { $0.value.contains("file name is not valid UTF-8") }, "\(causes)")
        XCTAssertEqual(issues.count, 8, "\(causes)")
    }

    func testBundledPersonasAllLoadCleanly() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("personas").path
        let (personas, issues) = PersonaLoader.load(from: [directory])
        XCTAssertEqual(issues, [])
        XCTAssertGreaterThanOrEqual(personas.count, 6)
        XCTAssertTrue(personas.contains { $0.id == "moderator" })
        XCTAssertTrue(personas.contains { $0.id == "judge" })
        XCTAssertTrue(personas.allSatisfy { !$0.card.isEmpty && $0.systemPrompt.count > 200 })
    }
}

final class ProviderDirectoryTests: XCTestCase {
    func testPresetsResolveWithKeysFromTheEnvironment() throws {
        let directory = ProviderDirectory(config: Config(), environment: ["GROQ_API_KEY": "gsk", "OPENROUTER_API_KEY": "or"])
        let groq = try directory.endpoint(for: "groq")
        XCTAssertEqual(groq.type, .openai)
        XCTAssertEqual(groq.baseURL, "https://api.groq.com/openai/v1")
        XCTAssertEqual(groq.apiKey, "gsk")
        XCTAssertEqual(try directory.endpoint(for: "openrouter").baseURL, "https://openrouter.ai/api/v1")
        for local in ["ollama", "llamacpp", "vllm", "lmstudio", "litellm", "local"] {
            XCTAssertNoThrow(try directory.endpoint(for: local), local)
        }
    }

    func testMissingKeyNamesTheVariable() {
        let directory = ProviderDirectory(config: Config(), environment: [:])
        XCTAssertThrowsError(try directory.endpoint(for: "anthropic")) { error in
            XCTAssertEqual(error as? ProviderSetupError, .missingKey(provider: "anthropic", variable: "ANTHROPIC_API_KEY"))
            XCTAssertTrue("\(error)".contains("ANTHROPIC_API_KEY"))
        }
        XCTAssertThrowsError(try directory.endpoint(for: "gemini")) { error in
            XCTAssertEqual(error as? ProviderSetupError, .missingKey(provider: "gemini", variable: "GEMINI_API_KEY"))
        }
    }

    func testGeminiAcceptsGoogleAPIKey() throws {
        let directory = ProviderDirectory(config: Config(), environment: ["GOOGLE_API_KEY": "g"])
        XCTAssertEqual(try directory.endpoint(for: "gemini").apiKey, "g")
    }

    func testBaseURLPrecedenceEnvironmentThenConfigThenPreset() throws {
        var config = Config()
        var settings = ProviderSettings()
        settings.baseURL = "http://config:1/v1"
        config.providers["vllm"] = settings
        XCTAssertEqual(try ProviderDirectory(config: config, environment: [:]).endpoint(for: "vllm").baseURL, "http://config:1/v1")
        XCTAssertEqual(try ProviderDirectory(config: config, environment: ["VLLM_BASE_URL": "http://env:2/v1"])
            .endpoint(for: "vllm").baseURL, "http://env:2/v1")
        XCTAssertEqual(try ProviderDirectory(config: Config(), environment: ["OLLAMA_HOST": "0.0.0.0:9999"])
            .endpoint(for: "ollama").baseURL, "http://127.0.0.1:9999")
        XCTAssertEqual(ProviderDirectory.ollamaURL(fromHost: "gpu-box"), "http://gpu-box:11434")
    }

    func testCustomProviderFromConfig() throws {
        var config = Config()
        var settings = ProviderSettings()
        settings.type = .openai
        settings.baseURL = "https://proxy.example/v1"
        settings.apiKeyEnv = "CORP_TOKEN"
        config.providers["corp"] = settings
        XCTAssertThrowsError(try ProviderDirectory(config: config, environment: [:]).endpoint(for: "corp")) { error in
            XCTAssertTrue("\(error)".contains("CORP_TOKEN"))
        }
        let endpoint = try ProviderDirectory(config: config, environment: ["CORP_TOKEN": "t"]).endpoint(for: "corp")
        XCTAssertEqual(endpoint.apiKey, "t")
        XCTAssertThrowsError(try ProviderDirectory(config: Config(), environment: [:]).endpoint(for: "nosuch"))
    }
}
