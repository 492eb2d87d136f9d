import Foundation
import MockProvider

/// Serves the mock provider on 127.0.0.1 for benchmarks and end-to-end tests.
///
/// Usage: persona-mock [--port N] [--tokens N] [--delay SECONDS] [--first-token-delay SECONDS] [--text TEXT] [--no-usage] [--send-log FILE]
///                     [--tool-call NAME=JSON …]
/// With `--tool-call`, a request that carries no tool result is answered with those calls, and one
/// that does with the text.
/// Prints `listening on http://127.0.0.1:PORT` once ready. Per-request faults are read from the
/// model name, e.g. `mock+status=429+retry_after=1` (see MockBehavior.fromModelName). `--send-log`
/// records when each delta was written (see MockSendLog). The batch APIs' batches move on the wall
/// clock: each ends about 3.5 s after it was created.

// A parent that spawns this from a Foundation `Process` passes on its blocked signals; unblock
// them, or `terminate()` (SIGTERM) would leave the mock running.
var noSignals = sigset_t()
sigemptyset(&noSignals)
sigprocmask(SIG_SETMASK, &noSignals, nil)
var arguments = Array(CommandLine.arguments.dropFirst())
var port = 0
var defaults = MockBehavior()
var sendLog: MockSendLog?
var toolCalls: [MockToolCall] = []
while !arguments.isEmpty {
    let flag = arguments.removeFirst()
    if flag == "--no-usage" {
        // Like llama.cpp's server: no usage in the stream, even when asked.
        defaults.omitUsage = true
        continue
    }
    let value = arguments.isEmpty ? "" : arguments.removeFirst()
    switch flag {
    case "--port": port = Int(value) ?? 0
    case "--tokens": defaults.tokens = Int(value) ?? defaults.tokens
    case "--delay": defaults.delayPerToken = Double(value) ?? 0
    case "--first-token-delay": defaults.firstTokenDelay = Double(value) ?? 0
    case "--text": defaults.text = value
    case "--tool-call":
        guard let equals = value.firstIndex(of: "=") else {
            FileHandle.standardError.write(Data("persona-mock: --tool-call takes NAME=JSON\n".utf8))
            exit(2)
        }
        toolCalls.append(MockToolCall(id: "call_\(toolCalls.count + 1)", name: String(value[..<equals]),
                                      arguments: String(value[value.index(after: equals)...])))
    case "--send-log":
        do {
            sendLog = try MockSendLog(path: value)
        } catch {
            FileHandle.standardError.write(Data("persona-mock: \(error)\n".utf8))
            exit(2)
        }
    default:
        FileHandle.standardError.write(Data("persona-mock: unknown option \(flag)\n".utf8))
        exit(2)
    }
}
let base = defaults
let calls = toolCalls
/// Whether a request carries a tool's result, in any provider's shape.
func carriesToolResult(_ request: MockRequest) -> Bool {
    ["\"role\":\"tool\"", "\"tool_result\"", "\"functionResponse\""].contains { request.bodyText.contains($0) }
}
do {
    let server = try MockServer(port: port, sendLog: sendLog, batchClock: .realTime) { request in
        var behavior = MockBehavior.fromModelName(request.model, defaults: base)
        if !calls.isEmpty, !carriesToolResult(request) {
            behavior.text = nil
            behavior.toolCalls = calls
        }
        return behavior
    }
    FileHandle.standardOutput.write(Data("listening on \(server.baseURL)\n".utf8))
    while true { sleep(3600) }
} catch {
    FileHandle.standardError.write(Data("persona-mock: \(error)\n".utf8))
    exit(1)
}
