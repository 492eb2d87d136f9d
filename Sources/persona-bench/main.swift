import Foundation

/// Persona's benchmarks. Build with `swift build -c release` (scripts/bench does) and run:
///   persona-bench [stream] [--tokens N] [--streams N]   streaming CPU per token and peak RSS
///   persona-bench ui                                     the chat screen's CPU, latency and launch time
///   persona-bench render                                 the chat screen's frame work alone, headless
///   persona-bench decode                                 each provider's stream decoding alone, per event
///   persona-bench ledger                                 ledger write rate and `persona costs summary` time
///   persona-bench batch [live|import]                    `persona batch`: live fallback at concurrency 1,000, and a 100k-line import
///   persona-bench gateway                                `persona serve` against a LiteLLM proxy, and the floor of any gateway
///   persona-bench monitor                                8 streams without and with `persona monitor` open, and its own CPU
var arguments = Array(CommandLine.arguments.dropFirst())
let mode = arguments.first.map { $0.hasPrefix("--") ? "stream" : arguments.removeFirst() } ?? "stream"
switch mode {
case "stream": try await streamBenchmark(Options(arguments))
case "ui": try await uiBenchmark()
case "render": renderBenchmark()
case "decode": decodeBenchmark()
case "ledger": try ledgerBenchmark()
case "batch": try await batchBenchmark(arguments)
case "gateway": try await gatewayBenchmark()
case "monitor": try await monitorBenchmark()
case "batch-live": try await liveFallbackBenchmark(arguments)
case "batch-import": try batchImportChild(arguments)
default:
    FileHandle.standardError.write(Data("persona-bench: unknown benchmark '\(mode)'; use stream, ui, render, decode, ledger, batch, gateway or monitor\n".utf8))
    exit(2)
}
