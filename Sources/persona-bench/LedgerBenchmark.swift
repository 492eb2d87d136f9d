import Foundation
import PersonaApp
import PersonaKit

/// Writes 100,000 ledger rows in batched transactions and times `persona costs summary` over them.
func ledgerBenchmark() throws {
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("persona-ledger-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: home) }
    let ledger = try Ledger(path: home.appendingPathComponent("persona.db").path)
    let providers = [("openai", "gpt-5.6"), ("anthropic", "claude-sonnet-5-5"), ("gemini", "gemini-3.5-flash"), ("groq", "openai/gpt-oss-20b")]
    let rows = 100_000
    let batch = 1000
    let start = Date().addingTimeInterval(-30 * 86_400)
    let began = Date()
    for first in stride(from: 0, to: rows, by: batch) {
        try ledger.record(batch: (first..<(first + batch)).map { index in
            let (provider, model) = providers[index % providers.count]
            return LedgerEntry(timestamp: start.addingTimeInterval(Double(index) * 25.92), session: "bench-\(index / 50)",
                               persona: "p\(index % 8)", provider: provider, model: model, inputTokens: 500 + index % 700,
                               outputTokens: 200 + index % 300, costPicos: Int64(1000 + index % 5000) * 1_000_037, estimated: false,
                               durationMs: 1200, status: .ok)
        })
    }
    let written = Date().timeIntervalSince(began)
    print(String(format: "ledger: %d rows in batches of %d: %.2f s, %.0f rows/s (target ≥ 20,000)", rows, batch, written,
                 Double(rows) / written))

    var queryTimes: [Double] = []
    for _ in 0..<5 {
        let queryStart = Date()
        _ = try CostsReport.render(.summary, ledger: ledger, options: CostsReport.Options(json: true))
        queryTimes.append(Date().timeIntervalSince(queryStart))
    }
    queryTimes.sort()
    var commandTimes: [Double] = []
    for _ in 0..<5 {
        let process = Process()
        process.executableURL = binaryDirectory.appendingPathComponent("persona")
        process.arguments = ["costs", "summary", "--json", "--home", home.path]
        process.standardOutput = FileHandle.nullDevice
        // Foundation's waitUntilExit looks every 50 ms, which would round each time up to that step.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        let commandStart = Date()
        try process.run()
        exited.wait()
        commandTimes.append(Date().timeIntervalSince(commandStart))
    }
    commandTimes.sort()
    print(String(format: "costs summary over %d rows: query %.1f ms, whole `persona costs summary` command %.1f ms (median; target < 100 ms)",
                 rows, queryTimes[2] * 1000, commandTimes[2] * 1000))
}
