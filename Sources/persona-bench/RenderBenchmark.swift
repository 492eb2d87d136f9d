import Foundation
import PersonaApp
import PersonaKit
import TerminalUI

/// The chat screen's frame work alone, without a terminal or a network: eight priced panes at
/// 160×40, under a budget and with a draft in the input line, get the tokens of one 60 Hz frame at
/// 4,000 tokens a second, then the frame is rendered and encoded as the bytes that paint its changes on an xterm. Steadier than the
/// `ui` benchmark's per-frame figures, which share two cores with the mock, libcurl and the terminal.
///
/// It runs twice: frames back to back, with caches warm, and frames 16 ms apart, as the app draws
/// them. In the pause the machine's other work evicts the code and data a frame needs, and the
/// second figure, several times the first, is the one the app pays.
func renderBenchmark() {
    print("persona-bench render: 8 panes at 160×40, the tokens of one 60 Hz frame at 4,000 tokens/s")
    renderFrames(3000, pause: 0, label: "back to back")
    renderFrames(300, pause: 16_000, label: "16 ms apart ")
}

private func renderFrames(_ frames: Int, pause microseconds: UInt32, label: String) {
    let ids = ["skeptic", "optimist", "pragmatist", "historian", "engineer", "ethicist", "moderator", "judge"]
    let model = ModelRef(provider: "openai", model: "gpt-4o-mini")
    let price = ModelPrice(key: model, prices: TokenPrices(input: 150_000, output: 600_000))
    let panes = ids.enumerated().map { index, id in
        PaneState(personaID: id, name: id.capitalized, color: .palette(UInt8(75 + index * 20)), model: model, price: price)
    }
    var state = AppState(session: "20261122-101500-abc", panes: panes, width: 160, height: 40)
    state.caps = BudgetCaps(session: 5 * Money.picosPerDollar)
    _ = ChatReducer.reduce(&state, .key(.paste("Benchmark: stream as fast as the mock allows.")), at: 0)
    _ = ChatReducer.reduce(&state, .key(.enter), at: 0)
    // The next question, drafted while the answers stream.
    _ = ChatReducer.reduce(&state, .key(.paste("Which of these measures would you trust after a quarter, and which would "
        + "you drop? Name one that a skeptic would accept, one that an optimist would, and say why the two differ.")), at: 0)
    let turns = ids.map { id in
        TurnID(personaID: id, personaName: id.capitalized, estimatedInputTokens: 120, model: model, price: price)
    }
    for turn in turns { _ = ChatReducer.reduce(&state, .turn(TurnEvent(turn, .started)), at: 0) }
    let words = "Remote work changes how teams share context. The evidence is mixed: output per person often holds steady, "
        + "while **mentoring** and chance conversations suffer unless they are planned. A `pilot` with clear measures, "
        + "run for a quarter, would settle more than any argument could.\n\n"
    let tokens = stride(from: 0, to: words.count, by: 4).map { start in
        String(words.dropFirst(start).prefix(4))
    }
    let renderer = ChatRenderer()
    var previous: CellBuffer?
    var spare: CellBuffer?
    var encoder = FrameEncoder(capabilities: .xterm256, colorMode: .palette256)
    var reduceTime: UInt64 = 0
    var renderTime: UInt64 = 0
    var encodeTime: UInt64 = 0
    var paintedBytes = 0
    var next = 0
    for frame in 0..<frames {
        let now = 1 + Double(frame) / 60
        if microseconds > 0 { usleep(microseconds) }
        let started = DispatchTime.now().uptimeNanoseconds
        for turn in turns {
            var delta = ""
            for _ in 0..<8 {
                delta += tokens[next % tokens.count]
                next += 1
            }
            _ = ChatReducer.reduce(&state, .turn(TurnEvent(turn, .delta(delta))), at: now)
        }
        _ = ChatReducer.reduce(&state, .tick, at: now)
        let reduced = DispatchTime.now().uptimeNanoseconds
        // As the chat screen does: the frame before the last is drawn over.
        var rendered = spare ?? CellBuffer(width: 0, height: 0)
        spare = nil
        let cursor = renderer.render(state, into: &rendered)
        let drawn = DispatchTime.now().uptimeNanoseconds
        paintedBytes += encoder.encode(rendered, since: previous, cursor: cursor) { $0.count }
        spare = previous
        previous = rendered
        let encoded = DispatchTime.now().uptimeNanoseconds
        reduceTime += reduced - started
        renderTime += drawn - reduced
        encodeTime += encoded - drawn
    }
    func perFrame(_ nanoseconds: UInt64) -> String { String(format: "%.1f µs", Double(nanoseconds) / Double(frames) / 1000) }
    print("\(label), \(frames) frames: reduce \(perFrame(reduceTime)), render \(perFrame(renderTime)), "
        + "encode \(perFrame(encodeTime)) per frame; \(paintedBytes / frames) bytes painted")
}
