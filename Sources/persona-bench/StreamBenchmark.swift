import Foundation
import PersonaKit

#if canImport(Glibc)
import Glibc
#endif

/// Options of the streaming benchmark: --tokens N (per stream, default 20000), --streams N (default 8).
struct Options {
    var tokens = 20_000
    var streams = 8

    init(_ arguments: [String]) {
        var rest = arguments
        while !rest.isEmpty {
            let flag = rest.removeFirst()
            let value = rest.isEmpty ? "" : rest.removeFirst()
            switch flag {
            case "--tokens": tokens = Int(value) ?? tokens
            case "--streams": streams = Int(value) ?? streams
            default:
                FileHandle.standardError.write(Data("persona-bench: unknown option \(flag)\n".utf8))
                exit(2)
            }
        }
    }
}

/// CPU seconds (user + system) this process has used so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// A process's or a thread's name, parent and CPU seconds (user + system) so far, from its
/// `/proc/…/stat` file; nil once it is gone.
func procStat(_ path: String) -> (name: String, parent: Int32, cpuSeconds: Double)? {
    guard let stat = try? String(contentsOfFile: path, encoding: .utf8), let open = stat.firstIndex(of: "("),
          let close = stat.lastIndex(of: ")") else { return nil }
    // The fields after the name: state, parent, …; user and system time are the 12th and 13th.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let parent = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (String(stat[stat.index(after: open)..<close]), parent, (user + system) / Double(sysconf(Int32(_SC_CLK_TCK))))
}

/// CPU seconds the calling thread has used so far.
func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// The peak resident set of this process image: `VmHWM`, which unlike `ru_maxrss` does not
/// carry over a parent's peak into a child it spawned.
func peakResidentMegabytes() -> Double {
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") {
        return kilobytes / 1024
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// The folder this benchmark's binary, `persona` and `persona-mock` were built into.
let binaryDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()

/// Starts `persona-mock` on a free port and returns the process and its base URL.
func startMock(_ arguments: [String] = []) throws -> (Process, String) {
    let process = Process()
    process.executableURL = binaryDirectory.appendingPathComponent("persona-mock")
    process.arguments = ["--port", "0"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
        let byte = pipe.fileHandleForReading.readData(ofLength: 1)
        if byte.isEmpty { throw NSError(domain: "persona-bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "persona-mock did not start"]) }
        line.append(byte)
    }
    let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return (process, String(text.dropFirst("listening on ".count)))
}

struct Measurement {
    var tokens = 0
    var cpu = 0.0
    var wall = 0.0
}

func measure(type: ProviderType, base: String, options: Options) async -> Measurement {
    let endpoint = ProviderEndpoint(name: type.rawValue, type: type, baseURL: base + (type == .openai ? "/v1" : ""),
                                    apiKey: "bench", apiKeyEnv: "BENCH_API_KEY", keyRequired: false)
    let request = ChatRequest(model: "mock+tokens=\(options.tokens)", system: "", messages: [ChatMessage(role: .user, content: "go")])
    let runner = TurnRunner()
    let cpuStart = cpuSeconds()
    let wallStart = Date()
    let tokens = await withTaskGroup(of: Int.self) { group in
        for _ in 0..<options.streams {
            group.addTask {
                let outcome = await runner.run(request, endpoint: endpoint)
                if let error = outcome.error { FileHandle.standardError.write(Data("stream failed: \(error)\n".utf8)) }
                // Each of the mock's tokens is a word and a space; deltas may carry several.
                return outcome.text.utf8.reduce(0) { $0 + ($1 == 0x20 ? 1 : 0) }
            }
        }
        return await group.reduce(0, +)
    }
    return Measurement(tokens: tokens, cpu: cpuSeconds() - cpuStart, wall: Date().timeIntervalSince(wallStart))
}

/// CPU time per streamed token, from socket to decoded delta, and peak RSS.
///
/// The mock provider runs as a separate process, so the CPU measured is the client's alone:
/// libcurl, the transfer thread, the decoders and the adapters.
func streamBenchmark(_ options: Options) async throws {
    let (mock, base) = try startMock()
    defer { mock.terminate() }

    print(String(format: "startup RSS: %.1f MB", peakResidentMegabytes()))
    print("persona-bench: \(options.streams) parallel streams × \(options.tokens) tokens, mock in a separate process")
    _ = await measure(type: .openai, base: base, options: Options(["--tokens", "200", "--streams", "1"]))
    print(String(format: "after one warm-up stream: %.1f MB", peakResidentMegabytes()))
    var worst = 0.0
    for type in ProviderType.allCases {
        let result = await measure(type: type, base: base, options: options)
        let perToken = result.cpu / Double(max(1, result.tokens)) * 1_000_000
        worst = max(worst, perToken)
        print(String(format: "%-10@ %8d tokens  cpu %.3f s  wall %.3f s  %.2f µs cpu/token  %.0f tokens/s",
                     type.rawValue as NSString, result.tokens, result.cpu, result.wall, perToken, Double(result.tokens) / result.wall))
    }
    print(String(format: "worst cpu per token: %.2f µs (target ≤ 5 µs)", worst))
    let single = await measure(type: .openai, base: base, options: Options(["--tokens", String(options.tokens), "--streams", "1"]))
    print(String(format: "one stream alone (no batching across streams): %.2f µs cpu/token",
                 single.cpu / Double(max(1, single.tokens)) * 1_000_000))
    print(String(format: "peak RSS with %d parallel streams: %.1f MB (target < 30 MB; the runtime's share is the startup figure)",
                 options.streams, peakResidentMegabytes()))
}
