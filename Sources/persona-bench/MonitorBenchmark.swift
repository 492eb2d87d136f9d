import Foundation
import PersonaKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `persona monitor` beside the streams it watches. A home whose ledger holds a busy day (20,000
/// rows today) runs 8 streams of paced tokens through the engine, with the ledger and the
/// progress it publishes, in rounds that alternate without and with `persona monitor` open on
/// a pseudo-terminal. It reports the streams' CPU per token each way, with the run-to-run
/// spread, and the monitor's own CPU as a share of a core.
func monitorBenchmark() async throws {
    let (mock, base) = try startMock()
    defer { mock.terminate() }
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("persona-monitor-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: home) }
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    let ledger = try Ledger(path: home.appendingPathComponent("persona.db").path)
    try fillADay(ledger, rows: 20_000)
    var catalog = PriceCatalog()
    catalog.add(ModelPrice(key: ModelRef(provider: "openai", model: "mock+tokens=2000+delay=0.002"), prices: TokenPrices(input: 1_000_000, output: 2_000_000)))
    let engine = ConversationEngine(accounting: Accounting(catalog: catalog, ledger: ledger), health: ProviderHealth())

    print("persona-bench monitor: 8 streams × 2,000 tokens a token every 2 ms, through the engine and the ledger (20,000 rows today);")
    print("rounds alternate without and with `persona monitor` open on a 120×40 pseudo-terminal")
    var without: [Double] = []
    var with: [Double] = []
    var monitorShares: [Double] = []
    for round in 0..<8 {
        let watched = round % 2 == 1
        let monitor = watched ? try MonitorChild(home: home) : nil
        if let monitor { try monitor.waitForFirstFrame() }
        let monitorStart = monitor?.cpuSeconds() ?? 0
        let wallStart = Date()
        let (tokens, cpu) = await streams(engine, base: base)
        let wall = Date().timeIntervalSince(wallStart)
        let perToken = cpu / Double(max(1, tokens)) * 1e6
        if let monitor {
            let share = (monitor.cpuSeconds() - monitorStart) / wall * 100
            monitorShares.append(share)
            with.append(perToken)
            monitor.stop()
            print(String(format: "  with the monitor:    %.2f µs cpu/token (%d tokens, wall %.1f s); the monitor used %.2f%% of a core",
                         perToken, tokens, wall, share))
        } else {
            without.append(perToken)
            print(String(format: "  without the monitor: %.2f µs cpu/token (%d tokens, wall %.1f s)", perToken, tokens, wall))
        }
    }
    func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }
    func spread(_ values: [Double]) -> Double {
        let average = mean(values)
        return (values.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(max(1, values.count - 1))).squareRoot()
    }
    print(String(format: "streams' cpu per token: %.2f ± %.2f µs without, %.2f ± %.2f µs with the monitor: a change of %+.2f µs "
                 + "(target: within the run-to-run spread)", mean(without), spread(without), mean(with), spread(with),
                 mean(with) - mean(without)))
    print(String(format: "the monitor's own cpu: %.2f%% of a core on average, %.2f%% at most (target < 2%%)", mean(monitorShares),
                 monitorShares.max() ?? 0))
}

/// A day of ledger rows spread over the hours before now, across providers, personas,
/// sessions and gateway clients, as a busy user's would be.
private func fillADay(_ ledger: Ledger, rows: Int) throws {
    let now = Date()
    let since = max(Calendar.current.startOfDay(for: now), now.addingTimeInterval(-12 * 3600))
    let span = now.timeIntervalSince(since)
    let providers = ["openai", "anthropic", "gemini", "ollama"]
    let entries = (0..<rows).map { index in
        LedgerEntry(timestamp: since.addingTimeInterval(span * Double(index) / Double(rows)), session: "session-\(index % 200)",
                    persona: "persona-\(index % 12)", provider: providers[index % providers.count], model: "model-\(index % 7)",
                    inputTokens: 500, outputTokens: 300, costPicos: Int64(1_000_000 + index), estimated: false,
                    timeToFirstTokenMs: 200 + index % 400, durationMs: 3_000, status: index % 50 == 0 ? .failed : .ok,
                    client: index % 3 == 0 ? "client-\(index % 5)" : nil)
    }
    try ledger.record(batch: entries)
}

/// Eight paced streams through the engine at once: their tokens and this process's CPU seconds.
private func streams(_ engine: ConversationEngine, base: String) async -> (Int, Double) {
    let endpoint = ProviderEndpoint(name: "openai", type: .openai, baseURL: base + "/v1", apiKey: "bench", apiKeyEnv: "BENCH_API_KEY",
                                    keyRequired: false)
    let cpuStart = cpuSeconds()
    let tokens = await withTaskGroup(of: Int.self) { group in
        for index in 0..<8 {
            group.addTask {
                let turn = PlannedTurn(session: "bench", persona: Persona(id: "p\(index)", name: "P\(index)", systemPrompt: ""),
                                       endpoint: endpoint,
                                       request: ChatRequest(model: "mock+tokens=2000+delay=0.002", system: "",
                                                            messages: [ChatMessage(role: .user, content: "go")]))
                let text = Mutex("")
                await engine.run(turn) { event in if case .delta(let delta) = event.kind { text.withLock { $0 += delta } } }
                return text.withLock { $0.utf8.reduce(0) { $0 + ($1 == 0x20 ? 1 : 0) } }
            }
        }
        return await group.reduce(0, +)
    }
    return (tokens, cpuSeconds() - cpuStart)
}

/// `persona monitor` on a pseudo-terminal of its own, in another process.
private final class MonitorChild {
    let process = Process()
    let pty: PseudoTerminal

    init(home: URL) throws {
        pty = try PseudoTerminal(rows: 40, columns: 120)
        process.executableURL = binaryDirectory.appendingPathComponent("persona")
        process.arguments = ["monitor", "--home", home.path]
        process.environment = ["TERM": "xterm-256color", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"]
        let handle = FileHandle(fileDescriptor: pty.terminal)
        process.standardInput = handle
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func waitForFirstFrame() throws {
        let deadline = Date().addingTimeInterval(10)
        while !pty.text().contains("PROVIDERS") {
            guard Date() < deadline, process.isRunning else {
                throw NSError(domain: "persona-bench", code: 5, userInfo: [NSLocalizedDescriptionKey: "the monitor did not draw"])
            }
            usleep(20_000)
        }
    }

    /// User and system CPU seconds of the monitor so far, from /proc.
    func cpuSeconds() -> Double { procStat("/proc/\(process.processIdentifier)/stat")?.cpuSeconds ?? 0 }

    func stop() {
        pty.type("q")
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
    }
}
