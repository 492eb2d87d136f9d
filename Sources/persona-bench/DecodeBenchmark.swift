import Foundation
import MockProvider
import PersonaKit

/// Decoding alone: each provider's stream body, as the mock writes it, through the framing decoder
/// and the adapter, in 4 KB reads, with no network. CPU time per event, best of five rounds. Then
/// the redaction of each delta.
func decodeBenchmark() {
    let deltas = MockServer.generatedDeltas(20_000)
    print("persona-bench decode: \(deltas.count) deltas per provider, framing and adapter, 4 KB reads")
    for format in MockWireFormat.allCases {
        guard let type = ProviderType(rawValue: format.rawValue) else { continue }
        let body = MockServer.streamBody(format, model: "mock", deltas: deltas)
        let adapter = Adapters.adapter(for: type)
        var best = Double.infinity
        var text = 0
        for _ in 0..<5 {
            let started = threadCPUSeconds()
            text = decode(body, adapter: adapter)
            best = min(best, threadCPUSeconds() - started)
        }
        print(String(format: "%-10@ %6.0f ns/event  (%d characters decoded)", format.rawValue, best / Double(deltas.count) * 1e9, text))
    }
    redactionBenchmark(deltas)
}

/// The engine hides known keys in every delta before it reaches a screen; with keys in the
/// environment, as in daily use, that is on the path of every token.
private func redactionBenchmark(_ deltas: [String]) {
    Secrets.register(["OPENAI", "ANTHROPIC", "GEMINI", "OPENROUTER"].map { "sk-\($0.lowercased())-" + String(repeating: "x7Q", count: 16) })
    var best = Double.infinity
    var shown = 0
    for _ in 0..<5 {
        let redactor = StreamingRedactor()
        let started = threadCPUSeconds()
        shown = deltas.reduce(0) { $0 + redactor.feed($1).utf8.count } + redactor.finish().utf8.count
        best = min(best, threadCPUSeconds() - started)
    }
    print(String(format: "redaction  %6.0f ns/delta with %d keys known  (%d characters shown)",
                 best / Double(deltas.count) * 1e9, Secrets.all.count, shown))
}

/// The characters of answer text in `body`, decoded as a stream reader would.
private func decode(_ body: [UInt8], adapter: any ProviderAdapter) -> Int {
    var sse = SSEDecoder()
    var ndjson = NDJSONDecoder()
    var characters = 0
    // One array for all events, as a stream reader keeps.
    var events: [StreamEvent] = []
    func count(_ event: SSEEvent) {
        events.removeAll(keepingCapacity: true)
        adapter.decode(event, into: &events)
        for case .delta(let text) in events { characters += text.utf8.count }
    }
    var offset = 0
    while offset < body.count {
        let read = Array(body[offset..<min(body.count, offset + 4096)])
        offset += read.count
        switch adapter.framing {
        case .serverSentEvents: read.withUnsafeBufferPointer { sse.feed($0, count) }
        case .newlineDelimitedJSON: for line in ndjson.feed(read) { count(SSEEvent(data: line)) }
        }
    }
    return characters
}
