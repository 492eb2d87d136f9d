import CBenchPTY
import Foundation
import Synchronization
import MockProvider
import PersonaApp
import PersonaKit
import TerminalUI

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal: the app draws on `terminal`; a reader thread drains `controller` the way a
/// terminal emulator would, and its own CPU time is kept apart from the app's.
final class PseudoTerminal: Sendable {
    let controller: Int32
    let terminal: Int32
    private let state = Mutex((received: Data(), readerCPU: 0.0))

    init(rows: Int32, columns: Int32) throws {
        var controller: Int32 = -1
        var terminal: Int32 = -1
        guard bench_pty_open(rows, columns, &controller, &terminal) == 0 else {
            throw NSError(domain: "persona-bench", code: 2, userInfo: [NSLocalizedDescriptionKey: "no pseudo-terminal"])
        }
        self.controller = controller
        self.terminal = terminal
        let thread = Thread { [self] in drain() }
        thread.start()
    }

    private func drain() {
        try? "pty-reader".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(controller, &buffer, buffer.count)
            if count <= 0 { break }
            let cpu = threadCPUSeconds()
            state.withLock { state in
                state.received.append(contentsOf: buffer[0..<count])
                state.readerCPU = cpu
            }
        }
    }

    /// CPU seconds the reader thread has used: the terminal's share, not the app's.
    var terminalCPU: Double { state.withLock { $0.readerCPU } }

    func text() -> String { state.withLock { String(decoding: $0.received, as: UTF8.self) } }

    func clear() { state.withLock { $0.received.removeAll() } }

    func type(_ text: String) {
        var bytes = Array(text.utf8)
        _ = write(controller, &bytes, bytes.count)
    }
}

/// CPU seconds per thread name in this process, from /proc/self/task/*/stat.
func cpuByThread() -> [String: Double] {
    var result: [String: Double] = [:]
    for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? [] {
        guard let thread = procStat("/proc/self/task/\(task)/stat") else { continue }
        result[thread.name, default: 0] += thread.cpuSeconds
    }
    return result
}

/// One flushed frame as the benchmark saw it: when, and how many answer bytes each pane showed.
struct FlushedFrame {
    var at: UInt64
    var paneBytes: [Int]
}

/// Launch to first full frame, then eight panes receiving 4,000 tokens a second for ten seconds.
///
/// Latency is measured end to end: persona-mock logs when it wrote each delta, and a delta counts
/// as shown at the first flushed frame whose pane holds all the bytes sent up to it. That covers the
/// network, libcurl, decoding, the engine, the inbox, the frame wait, rendering and the terminal write.
func uiBenchmark() async throws {
    setenv("TERM", "xterm-256color", 1)
    // Token-sized deltas (4 characters, the estimator's token) of ordinary paragraphs: 8 streams
    // at 500 deltas a second each make the 4,000 tokens a second the target speaks of.
    let paragraph = "Remote work changes how teams share context. The evidence is mixed: output per person "
        + "often holds steady, while mentoring and chance conversations suffer unless they are planned. "
        + "A pilot with clear measures, run for a quarter, would settle more than any argument could."
    let answer = Array(repeating: paragraph, count: 80).joined(separator: "\n\n")
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("persona-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: home) }
    // Priced, and under a budget, so that every status line and the header carry live costs.
    let prices = (["mock"] + (0..<8).map { "mock+pane=\($0)" }).map { "  \"openai:\($0)\": { input: 0.15, output: 0.60 }" }
    try (["prices:"] + prices + ["budget: { session_usd: 5.00 }", ""]).joined(separator: "\n")
        .write(to: home.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    let sendLog = home.appendingPathComponent("sends.log").path
    let (mock, base) = try startMock(["--delay", "0.002", "--text", answer, "--send-log", sendLog])
    defer { mock.terminate() }
    var environment = ProcessInfo.processInfo.environment
    environment["OPENAI_API_KEY"] = "sk-bench"
    environment["OPENAI_BASE_URL"] = base + "/v1"

    print("persona-bench ui: launch to first full frame of `persona` (120×30, 3 panes) on a pseudo-terminal")
    var launches: [Double] = []
    for _ in 0..<5 { launches.append(try launchToFirstFrame(home: home, environment: environment)) }
    launches.sort()
    print(String(format: "launch to first frame: median %.1f ms, best %.1f ms (target < 50 ms)", launches[2] * 1000, launches[0] * 1000))

    let workspace = Workspace.load(paths: PersonaPaths.resolve(home: home.path, config: nil), environment: environment)
    let ids = ["skeptic", "optimist", "pragmatist", "historian", "engineer", "ethicist", "moderator", "judge"]
    // Each pane's model names it to the mock (unknown `+` options are ignored), so the send log says
    // which pane each delta was for.
    let planner = TurnPlanner(workspace: workspace)
    let roster = try ids.enumerated().flatMap { index, id in
        try planner.participants([try planner.find(id)], models: [id: ModelRef(provider: "openai", model: "mock+pane=\(index)")])
    }
    let pty = try PseudoTerminal(rows: 40, columns: 160)
    let screen = try NCursesScreen(colors: true, input: pty.terminal, output: pty.terminal)
    let accounting = try AccountingSetup.make(workspace: workspace, budget: nil, pricesFile: nil, warn: { print("warning: \($0)") })
    let state = ChatSetup.state(for: roster, session: SessionID.make(), accounting: accounting, workspace: workspace,
                                width: screen.width, height: screen.height)
    let controller = ChatRunLoop(state: state, screen: screen, engine: ConversationEngine(accounting: accounting), planner: planner,
                                 personas: roster.map(\.persona), input: pty.terminal)
    let seconds = 10.0
    var flushed: [FlushedFrame] = []
    var renderTotal = 0.0
    var presentTotal = 0.0
    var measuredFrames = 0
    var start: CPUSnapshot?
    let end = Shared<CPUSnapshot?>(nil)
    controller.onFrame = { report in
        let now = MockServer.monotonicNanoseconds()
        let paneBytes = controller.currentState.panes.map { pane in
            pane.entries.reduce(0) { $0 + ($1.role == .assistant ? $1.text.utf8.count : 0) }
        }
        flushed.append(FlushedFrame(at: now, paneBytes: paneBytes))
        if start != nil {
            guard end.value == nil else { return }
            measuredFrames += 1
            renderTotal += report.renderSeconds
            presentTotal += report.presentSeconds
        } else if paneBytes.contains(where: { $0 > 0 }) {
            start = CPUSnapshot(pty)
            let post = controller.poster
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                end.value = CPUSnapshot(pty)
                post(.key(.control("c")))
                post(.key(.control("c")))
            }
        }
    }
    await controller.runOnOwnThread(firstMessage: "Benchmark: stream as fast as the mock allows.")
    await controller.settle()
    screen.stop()
    guard let start, let end = end.value else {
        throw NSError(domain: "persona-bench", code: 5, userInfo: [NSLocalizedDescriptionKey: "no token reached the screen"])
    }
    let wall = Double(end.at - start.at) / 1e9
    let appCPU = (end.process - start.process) - (end.terminal - start.terminal)
    let byThread = end.threads.map { ($0.key, $0.value - (start.threads[$0.key] ?? 0)) }.filter { $0.1 > 0.005 }

    let latencies = try endToEndLatencies(sendLog: sendLog, frames: flushed, from: start.at, to: end.at)
    print(String(format: "8 panes for %.1f s: %d deltas shown (%.0f/s), %d frames (%.1f/s)", wall, latencies.count,
                 Double(latencies.count) / wall, measuredFrames, Double(measuredFrames) / wall))
    print(String(format: "app CPU: %.2f s over %.1f s = %.1f%% of one core (target < 5%%)", appCPU, wall, appCPU / wall * 100))
    print(String(format: "  per frame: render %.2f ms, paint %.2f ms", renderTotal / Double(max(1, measuredFrames)) * 1000,
                 presentTotal / Double(max(1, measuredFrames)) * 1000))
    print("  by thread: " + byThread.sorted { $0.1 > $1.1 }.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", "))
    print(String(format: "mock's write to frame flush: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 < 20 ms)",
                 percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, (latencies.last ?? 0) * 1000))
}

/// The process's CPU time at one moment, in all and by thread, less the pseudo-terminal reader's.
struct CPUSnapshot {
    let at = MockServer.monotonicNanoseconds()
    let process = cpuSeconds()
    let terminal: Double
    let threads = cpuByThread()

    init(_ pty: PseudoTerminal) { terminal = pty.terminalCPU }
}

/// Seconds from each logged send to the flush that first showed it, sorted; sends outside the
/// measured window are left out.
func endToEndLatencies(sendLog: String, frames: [FlushedFrame], from start: UInt64, to end: UInt64) throws -> [Double] {
    // The mock appends a stream's sends once the stream ends, which quitting the app has just caused.
    var text = ""
    for _ in 0..<50 {
        text = (try? String(contentsOfFile: sendLog, encoding: .utf8)) ?? ""
        if Set(text.split(separator: "\n").map { $0.split(separator: " ")[0] }).count >= 8 { break }
        usleep(20_000)
    }
    var latencies: [Double] = []
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count == 3, let pane = fields[0].split(separator: "=").last.flatMap({ Int($0) }),
              let bytes = Int(fields[1]), let sentAt = UInt64(fields[2]), sentAt >= start, sentAt <= end else { continue }
        // Frames are in time order and a pane's bytes only grow, so the first frame showing the
        // bytes is found by bisection.
        var low = 0
        var high = frames.count
        while low < high {
            let middle = (low + high) / 2
            if frames[middle].paneBytes[pane] >= bytes { high = middle } else { low = middle + 1 }
        }
        guard low < frames.count else { continue }
        // The mock stamps after its write returns, so a fast frame may flush before the stamp.
        latencies.append(frames[low].at > sentAt ? Double(frames[low].at - sentAt) / 1e9 : 0)
    }
    return latencies.sorted()
}

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
}

/// Runs the real `persona` binary on a pseudo-terminal and times it until its first frame shows
/// all three panes ready.
func launchToFirstFrame(home: URL, environment: [String: String]) throws -> Double {
    let pty = try PseudoTerminal(rows: 30, columns: 120)
    let process = Process()
    process.executableURL = binaryDirectory.appendingPathComponent("persona")
    process.arguments = ["--home", home.path, "--personas", "skeptic,optimist,pragmatist", "--model", "openai:mock"]
    process.environment = environment
    let handle = FileHandle(fileDescriptor: pty.terminal)
    process.standardInput = handle
    process.standardOutput = handle
    process.standardError = handle
    let start = Date()
    try process.run()
    var elapsed = 0.0
    while true {
        let text = pty.text()
        if text.components(separatedBy: "ready").count > 3 {
            elapsed = Date().timeIntervalSince(start)
            break
        }
        if Date().timeIntervalSince(start) > 10 || !process.isRunning {
            throw NSError(domain: "persona-bench", code: 3, userInfo: [NSLocalizedDescriptionKey: "persona did not draw: \(text.suffix(300))"])
        }
        usleep(200)
    }
    // Ctrl-C twice quits; on a first run the first key only closes the welcome, so keep asking.
    let quitBy = Date().addingTimeInterval(5)
    while process.isRunning {
        guard Date() < quitBy else {
            process.terminate()
            throw NSError(domain: "persona-bench", code: 4, userInfo: [NSLocalizedDescriptionKey: "persona did not quit on Ctrl-C"])
        }
        pty.type("\u{03}")
        usleep(50_000)
    }
    return elapsed
}
