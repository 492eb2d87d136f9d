import Foundation
import PersonaKit

/// `persona serve` against a LiteLLM proxy, in one run, to the same loopback upstream (the mock,
/// 400 tokens an answer, one every 2 ms). At 1 and at 50 concurrent streams it reports each
/// gateway's CPU per streamed token (its whole process tree, from /proc) and the time it adds to
/// the first token, against the same client asking the mock directly; then the floor that no
/// gateway on this machine can go under (`relayFloor`), and the CPU of a request apart from its
/// tokens, from one-token answers asked one after another. The LiteLLM proxy is the
/// `litellm` executable named by `PERSONA_LITELLM` (scripts/bench installs it from PyPI); without
/// it only Persona is measured.
func gatewayBenchmark() async throws {
    // The client reads a first token as it lands, not at its next 2 ms pass, so that the times
    // to first token are the servers' and not rounded to the client's passes.
    CurlTransport.shared.firstTokenCadence = Cadence(seconds: 0.001)
    let (mock, upstream) = try startMock(["--tokens", "400", "--delay", "0.002"])
    defer { mock.terminate() }
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("persona-gateway-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: home) }
    try "prices:\n  \"openai:mock\": { input: 1.00, output: 2.00 }\n  \"openai:\(oneToken)\": { input: 1.00, output: 2.00 }\n"
        .write(to: home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    var gateways: [(name: String, process: Process, url: String, model: String, oneTokenModel: String)] = []
    let persona = try startServer(binaryDirectory.appendingPathComponent("persona"), ["serve", "--port", "0", "--home", home.path],
                                  environment: ["OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": upstream + "/v1"], urlPrefix: "http")
    gateways.append(("persona serve", persona.0, persona.1 + "/v1", "openai:mock", "openai:" + oneToken))
    if let litellm = ProcessInfo.processInfo.environment["PERSONA_LITELLM"] {
        let config = home.appendingPathComponent("litellm.yaml")
        try """
            model_list:
              - model_name: mock
                litellm_params: { model: openai/mock, api_base: "\(upstream)/v1", api_key: bench }
              - model_name: mock-one-token
                litellm_params: { model: "openai/\(oneToken)", api_base: "\(upstream)/v1", api_key: bench }
            litellm_settings: { drop_params: true }
            """.write(to: config, atomically: true, encoding: .utf8)
        let port = Int.random(in: 20_000...40_000)
        let proxy = try startServer(URL(fileURLWithPath: litellm), ["--config", config.path, "--port", "\(port)", "--host", "127.0.0.1"],
                                    environment: ["LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": "sk-bench"], urlPrefix: nil)
        let url = "http://127.0.0.1:\(port)"
        try await waitUntilServing(url + "/health/liveliness", seconds: 120)
        gateways.append(("LiteLLM proxy", proxy.0, url + "/v1", "mock", "mock-one-token"))
    } else {
        print("(PERSONA_LITELLM is not set: the LiteLLM proxy is left out)")
    }
    // The LiteLLM proxy may outlive a SIGTERM; a gateway left running would load the next benchmark.
    defer {
        for gateway in gateways {
            gateway.process.terminate()
            for _ in 0..<50 where gateway.process.isRunning { usleep(100_000) }
            if gateway.process.isRunning { kill(gateway.process.processIdentifier, SIGKILL) }
        }
    }

    var perToken: [String: [Int: Double]] = [:]
    for concurrency in [1, 50] {
        let rounds = concurrency == 1 ? 10 : 2
        let direct = try await streams(url: upstream + "/v1", model: "mock", concurrency: concurrency, rounds: rounds)
        print(String(format: "%2d stream%@, direct to the mock: time to first token p50 %.2f ms", concurrency, concurrency == 1 ? " " : "s",
                     direct.firstTokenP50 * 1000))
        for gateway in gateways {
            // A first request warms the gateway's connections and caches; it is not counted.
            _ = try await streams(url: gateway.url, model: gateway.model, concurrency: 1, rounds: 1)
            let before = treeCPUSeconds(gateway.process.processIdentifier)
            let run = try await streams(url: gateway.url, model: gateway.model, concurrency: concurrency, rounds: rounds)
            let cpu = treeCPUSeconds(gateway.process.processIdentifier) - before
            perToken[gateway.name, default: [:]][concurrency] = cpu / Double(max(1, run.tokens))
            print(String(format: "%2d stream%@, %@: %d tokens, %.1f µs CPU per token, first token +%.2f ms at p50 (max %.1f ms), "
                         + "%d incomplete", concurrency, concurrency == 1 ? " " : "s", gateway.name, run.tokens,
                         cpu / Double(max(1, run.tokens)) * 1e6, (run.firstTokenP50 - direct.firstTokenP50) * 1000,
                         run.firstTokenMax * 1000, run.incomplete))
        }
    }
    for concurrency in [1, 50] {
        let floor = try relayFloor(streams: concurrency, tokens: concurrency == 1 ? 2_000 : 400, interval: .milliseconds(writeIntervalMs))
        let goal = perToken["LiteLLM proxy"]?[concurrency].map { String(format: "; 100× less than the LiteLLM proxy would be %.1f µs", $0 / 100 * 1e6) } ?? ""
        print(String(format: "%2d stream%@, the floor of any gateway here (one thread relaying bytes every %d ms, no parsing, no ledger): "
                     + "%.1f µs CPU per token%@", concurrency, concurrency == 1 ? " " : "s", writeIntervalMs, floor * 1e6, goal))
    }
    let answers = 200
    for gateway in gateways {
        let before = treeCPUSeconds(gateway.process.processIdentifier)
        let run = try await streams(url: gateway.url, model: gateway.oneTokenModel, concurrency: 1, rounds: answers)
        let cpu = treeCPUSeconds(gateway.process.processIdentifier) - before
        print(String(format: "one-token answers one after another, %@: %.2f ms CPU per request (%d requests, %d incomplete)",
                     gateway.name, cpu / Double(answers) * 1000, answers, run.incomplete))
    }
}

/// `persona serve` writes a stream's tokens at most this often (`TurnResponse.coalescing`).
private let writeIntervalMs = 10

/// The mock's model for an answer of one token (`MockBehavior.fromModelName`).
private let oneToken = "mock+tokens=1"

private struct StreamRun {
    var tokens = 0
    var firstTokenP50 = 0.0
    var firstTokenMax = 0.0
    var incomplete = 0
}

/// `rounds` times, `concurrency` chat completions streamed at once, with their usage.
private func streams(url: String, model: String, concurrency: Int, rounds: Int) async throws -> StreamRun {
    var run = StreamRun()
    var firsts: [Double] = []
    let body = Array(#"{"model":"\#(model)","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Tea or coffee?"}]}"#.utf8)
    for _ in 0..<rounds {
        let results = await withTaskGroup(of: (Double?, Int, Bool).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    let start = Date()
                    var first: Double?
                    // The client reads bytes and keeps only the body's end, where the usage comes:
                    // its CPU shares the machine with the gateways it measures.
                    var tail: [UInt8] = []
                    do {
                        let response = CurlTransport.shared.stream(HTTPRequest(
                            method: "POST", url: url + "/chat/completions",
                            headers: HTTPHeaders([("Content-Type", "application/json"), ("Authorization", "Bearer sk-bench")]), body: body))
                        for try await part in response {
                            guard case .body(let bytes) = part else { continue }
                            let carried = tail.suffix(contentMarker.count)
                            tail += bytes
                            if first == nil, holdsText(Array(carried) + bytes) {
                                first = Date().timeIntervalSince(start)
                                response.markFirstToken()
                            }
                            if tail.count > 8192 { tail.removeFirst(tail.count - 4096) }
                        }
                    } catch {
                        return (first, 0, false)
                    }
                    // The tokens are the usage's: a gateway may carry several in one chunk.
                    let tokens = tail.ranges(of: usageMarker).last.map { found in
                        Int(String(decoding: tail[found.upperBound...].prefix { (0x30...0x39).contains($0) }, as: UTF8.self)) ?? 0
                    } ?? 0
                    return (first, tokens, tail.suffix(doneMarker.count).elementsEqual(doneMarker))
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (first, tokens, complete) in results {
            run.tokens += tokens
            if let first { firsts.append(first) }
            if !complete || tokens == 0 { run.incomplete += 1 }
        }
    }
    firsts.sort()
    run.firstTokenP50 = firsts.isEmpty ? 0 : firsts[firsts.count / 2]
    run.firstTokenMax = firsts.last ?? 0
    return run
}

private let contentMarker = Array(#""content":""#.utf8)

/// Whether `bytes` hold a delta with text: the marker and a character after it, not the empty
/// content of the role chunk that the mock, like OpenAI, sends before its first token.
private func holdsText(_ bytes: [UInt8]) -> Bool {
    var rest = bytes[...]
    while let found = rest.firstRange(of: contentMarker) {
        if found.upperBound < rest.endIndex, rest[found.upperBound] != UInt8(ascii: "\"") { return true }
        rest = rest[found.upperBound...]
    }
    return false
}

private let usageMarker = Array(#""completion_tokens":"#.utf8)
private let doneMarker = Array("data: [DONE]\n\n".utf8)

/// Starts a server; with `urlPrefix`, waits for the line on its stdout that starts with it.
private func startServer(_ executable: URL, _ arguments: [String], environment: [String: String],
                         urlPrefix: String?) throws -> (Process, String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    guard let urlPrefix else { return (process, "") }
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
        let byte = pipe.fileHandleForReading.readData(ofLength: 1)
        if byte.isEmpty { throw NSError(domain: "persona-bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(executable.lastPathComponent) did not start"]) }
        line.append(byte)
    }
    let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.hasPrefix(urlPrefix) else { throw NSError(domain: "persona-bench", code: 1, userInfo: [NSLocalizedDescriptionKey: text]) }
    return (process, text)
}

private func waitUntilServing(_ url: String, seconds: Double) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let reply = try? await CurlTransport.shared.exchange(HTTPRequest(method: "GET", url: url)), reply.status == 200 { return }
        try await Task.sleep(nanoseconds: 250_000_000)
    }
    throw NSError(domain: "persona-bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(url) did not answer in \(Int(seconds)) s"])
}

/// CPU seconds (user + system) used so far by a process and every process under it.
private func treeCPUSeconds(_ root: Int32) -> Double {
    var parents: [Int32: Int32] = [:]
    var cpu: [Int32: Double] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), let process = procStat("/proc/\(pid)/stat") else { continue }
        parents[pid] = process.parent
        cpu[pid] = process.cpuSeconds
    }
    func inTree(_ pid: Int32) -> Bool {
        var current = pid
        for _ in 0..<64 {
            if current == root { return true }
            guard let parent = parents[current], parent > 1 else { return false }
            current = parent
        }
        return false
    }
    return cpu.filter { inTree($0.key) }.values.reduce(0, +)
}
