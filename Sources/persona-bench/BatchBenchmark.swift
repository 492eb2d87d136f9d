import Foundation
import PersonaKit

/// `persona batch`'s two scale paths:
/// - a job of 1,000 requests of 200 tokens each through the live fallback at concurrency 1,000,
///   on the one transfer thread, with the engine's ledger rows and the job's records: CPU per
///   token and peak RSS, with the mock (another process) reporting how many streams were open at
///   once. It runs twice, in two fresh processes: the mock first holds each answer 2 s before
///   streaming it as fast as it can, as the streaming benchmark's mock does, so that all 1,000
///   are open at once; then it drips a token every 10 ms, each in a TCP segment of its own, so
///   that the kernel's work per segment shows;
/// - importing a 100,000-line result file: time and peak RSS.
/// `batch live` or `batch import` runs one of them.
func batchBenchmark(_ arguments: [String]) async throws {
    if arguments.first != "import" {
        for pacing in ["held", "dripped"] { try runChild(["batch-live", pacing]) }
    }
    if arguments.first != "live" { try importBenchmark() }
}

private func runChild(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = binaryDirectory.appendingPathComponent("persona-bench")
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
}

private func temporaryHome(_ name: String) throws -> URL {
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("persona-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: home.appendingPathComponent("personas"), withIntermediateDirectories: true)
    return home
}

private func runner(home: URL, environment: [String: String]) throws -> (BatchRunner, TurnPlanner, PriceCatalog) {
    let workspace = Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil, environment: environment),
                                   environment: environment)
    let database = try PersonaDatabase(path: workspace.paths.database)
    var catalog = try PriceCatalog.bundled()
    catalog.add(ModelPrice(key: ModelRef(provider: "ollama", model: "mock"), prices: TokenPrices(input: 0, output: 0)))
    let accounting = Accounting(catalog: catalog, ledger: Ledger(database: database))
    let planner = TurnPlanner(workspace: workspace)
    let engine = ConversationEngine(accounting: accounting)
    return (BatchRunner(store: BatchStore(database: database), providers: workspace.providers, catalog: catalog, planner: planner,
                        engine: engine), planner, catalog)
}

/// The child of the live benchmark: `held` or `dripped`, as `batchBenchmark` says.
func liveFallbackBenchmark(_ arguments: [String]) async throws {
    let requests = 1000
    let dripped = arguments.first == "dripped"
    let (mock, base) = try startMock(["--tokens", "200"] + (dripped ? ["--delay", "0.01"] : ["--first-token-delay", "2"]))
    defer { mock.terminate() }
    let home = try temporaryHome("batch-live")
    defer { try? FileManager.default.removeItem(at: home) }
    try "---\nname: Local\nmodel: ollama:mock\nmax_tokens: 400\n---\nYou are terse.\n"
        .write(to: home.appendingPathComponent("personas/local.md"), atomically: true, encoding: .utf8)
    let (runner, planner, catalog) = try runner(home: home, environment: ["OLLAMA_HOST": base])
    let prompts = (1...requests).map { BatchPrompt(id: "\($0)", text: "Question \($0)?", line: $0) }
    let plan = try BatchPlanner(planner: planner, catalog: catalog).plan(prompts, participants: try planner.participants(named: ["local"]),
                                                                         options: BatchOptions(concurrency: requests))
    _ = try runner.store.create(plan.job, parts: plan.parts, requests: plan.requests, sessions: plan.sessions, claim: plan.claim,
                                caps: BudgetCaps())
    let threadsStart = cpuByThread()
    let cpuStart = cpuSeconds()
    let wallStart = Date()
    // Held answers show what starting a request costs (its connection, request and records)
    // apart from what streaming its tokens costs: nothing streams before the hold ends.
    let cpuBeforeTokens = Shared<Double?>(nil)
    if !dripped {
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 1.8)
            cpuBeforeTokens.value = cpuSeconds() - cpuStart
        }
    }
    try await runner.advance(plan.job.id, interval: 1)
    let cpu = cpuSeconds() - cpuStart
    let threads = cpuByThread().map { ($0.key, $0.value - (threadsStart[$0.key] ?? 0)) }.filter { $0.1 >= 0.005 }.sorted { $0.1 > $1.1 }
    let wall = Date().timeIntervalSince(wallStart)
    let progress = try runner.store.progress(job: plan.job.id)
    let tokens = try runner.store.requests(job: plan.job.id).reduce(0) { $0 + ($1.text ?? "").utf8.reduce(0) { $0 + ($1 == 0x20 ? 1 : 0) } }
    if let failed = try runner.store.requests(job: plan.job.id).first(where: { $0.state != .succeeded }) {
        print("first failure: \(failed.customID): \(failed.error ?? failed.state.rawValue)")
    }
    let stats = try JSON.parse(try await CurlTransport.shared.exchange(HTTPRequest(method: "GET", url: base + "/mock/stats")).body)
    print(String(format: "batch live fallback, %@: %d requests (%d succeeded) × 200 tokens at concurrency %d; %d streams open at once "
                 + "(mock); %d tokens, cpu %.2f s, wall %.2f s, %.2f µs cpu/token with the ledger (target ≤ 3 µs); peak RSS %.1f MB "
                 + "(target < 150 MB)", dripped ? "a token every 10 ms" : "held 2 s, then unpaced", requests, progress.succeeded,
                 requests, stats["peak_streams"]?.int ?? 0, tokens, cpu, wall, cpu / Double(max(1, tokens)) * 1e6, peakResidentMegabytes()))
    if let before = cpuBeforeTokens.value {
        print(String(format: "  of which %.2f s before the first token (%.0f µs a request: connecting, sending and recording it), "
                     + "and %.2f µs a token after", before, before / Double(requests) * 1e6, (cpu - before) / Double(max(1, tokens)) * 1e6))
    }
    // persona-curl is the transfer thread, with the readers it runs; the database's writer queue
    // runs on a dispatch "overcommit" thread, and tasks on the "default-qos" workers.
    print("  CPU by thread: " + threads.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", "))
}

/// Plans a job of 100,000 requests to one Anthropic model and writes its results file, in an order
/// of its own; a fresh process (`batch-import`) then settles it, so that its time and peak RSS
/// are the import's alone.
private func importBenchmark() throws {
    let lines = 100_000
    let home = try temporaryHome("batch-import")
    defer { if ProcessInfo.processInfo.environment["PERSONA_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(at: home) } }
    try "---\nname: Cloud\nmodel: anthropic:claude-sonnet-5-5\nmax_tokens: 400\n---\nYou are terse.\n"
        .write(to: home.appendingPathComponent("personas/cloud.md"), atomically: true, encoding: .utf8)
    let (runner, planner, catalog) = try runner(home: home, environment: ["ANTHROPIC_API_KEY": "bench"])
    let prompts = (1...lines).map { BatchPrompt(id: "\($0)", text: "Question \($0)?", line: $0) }
    let plan = try BatchPlanner(planner: planner, catalog: catalog).plan(prompts, participants: try planner.participants(named: ["cloud"]),
                                                                         options: BatchOptions())
    _ = try runner.store.create(plan.job, parts: plan.parts, requests: plan.requests, sessions: plan.sessions, claim: plan.claim,
                                caps: BudgetCaps())
    var file: [UInt8] = []
    for request in plan.requests.reversed() {
        file += Array(#"{"custom_id":"\#(request.customID)","result":{"type":"succeeded","message":{"id":"msg_x","type":"message","role":"assistant","model":"claude-sonnet-5-5","content":[{"type":"text","text":"A short answer to \#(request.prompt) in a few words."}],"stop_reason":"end_turn","usage":{"input_tokens":42,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"output_tokens":12}}}}"#.utf8)
        file.append(10)
    }
    let path = home.appendingPathComponent("results.jsonl").path
    try Data(file).write(to: URL(fileURLWithPath: path))
    let process = Process()
    process.executableURL = binaryDirectory.appendingPathComponent("persona-bench")
    process.arguments = ["batch-import", home.path, plan.job.id, plan.parts[0].id, path]
    // For profiling the import alone: a copy of the home as it stands before it.
    if ProcessInfo.processInfo.environment["PERSONA_BENCH_KEEP"] != nil {
        try FileManager.default.copyItem(atPath: home.path, toPath: home.path + "-before-import")
        print("kept: " + home.path + "-before-import")
    }
    try process.run()
    process.waitUntilExit()
}

/// The child of the import benchmark: settles a results file into a job's part.
func batchImportChild(_ arguments: [String]) throws {
    guard arguments.count == 4 else { throw NSError(domain: "persona-bench", code: 2) }
    let home = URL(fileURLWithPath: arguments[0])
    let (runner, _, _) = try runner(home: home, environment: ["ANTHROPIC_API_KEY": "bench"])
    let rssBefore = peakResidentMegabytes()
    let start = Date()
    let cpuStart = cpuSeconds()
    guard let job = try runner.store.job(arguments[1]), let part = try runner.store.part(arguments[2]) else {
        throw NSError(domain: "persona-bench", code: 3)
    }
    // Read straight into one array, as a download gathers its body.
    guard let stream = fopen(arguments[3], "rb") else { throw NSError(domain: "persona-bench", code: 4) }
    defer { fclose(stream) }
    fseek(stream, 0, SEEK_END)
    let size = ftell(stream)
    fseek(stream, 0, SEEK_SET)
    let file = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in count = fread(buffer.baseAddress, 1, size, stream) }
    let settled = try runner.settle(files: [file], part: part, job: job)
    print(String(format: "batch import: %d result lines (%.1f MB) settled in %.2f s wall, %.2f s cpu (target < 5 s); "
                 + "peak RSS %.1f MB (%.1f MB at start; target < 200 MB)", settled.settled, Double(file.count) / 1e6,
                 Date().timeIntervalSince(start), cpuSeconds() - cpuStart, peakResidentMegabytes(), rssBefore))
}
