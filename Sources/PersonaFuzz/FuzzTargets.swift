import Foundation
import PersonaKit

/// What the fuzzer feeds: each target takes raw bytes and runs them through the code that reads
/// untrusted input. A target must never trap, hang or grow without bound, whatever it is given.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case openaiStream = "openai-stream"
    case anthropicStream = "anthropic-stream"
    case geminiStream = "gemini-stream"
    case ollamaStream = "ollama-stream"
    case config
    case persona
    case priceList = "price-list"

    /// The wire format a stream target decodes.
    var streamType: ProviderType? {
        switch self {
        case .openaiStream: return .openai
        case .anthropicStream: return .anthropic
        case .geminiStream: return .gemini
        case .ollamaStream: return .ollama
        case .config, .persona, .priceList: return nil
        }
    }

    /// The target whose seeds a recorded response of `provider` is.
    public static func stream(for provider: String) -> FuzzTarget? {
        switch provider {
        case "openai", "openai-compatible", "groq", "openrouter", "deepseek", "mistral": return .openaiStream
        case "anthropic": return .anthropicStream
        case "gemini": return .geminiStream
        case "ollama": return .ollamaStream
        default: return nil
        }
    }

    /// Runs one input. The stream targets read it in chunks whose sizes come from the input's own
    /// bytes, so every split is tried over time, then check and price whatever usage came out.
    public func run(_ input: [UInt8]) {
        if let type = streamType {
            let sizes = input.prefix(8).map { Int($0 % 64) + 1 }
            // A small limit, so that the limit's own path is fuzzed too.
            let outcome = TurnRunner.replay(input, chunkSizes: sizes, type: type, limits: StreamLimits(eventMiB: 1),
                                            answerTool: Self.answerTool)
            Self.price(outcome, type: type)
            // Whatever came is read as a structured answer and checked, as an answer in a schema is.
            _ = StructuredAnswer(checking: outcome.text, against: Self.answerSchema)
            return
        }
        let text = String(decoding: input, as: UTF8.self)
        switch self {
        case .config: _ = Config.parse(text, file: "fuzz.yaml", baseDirectory: "/")
        case .persona: _ = Persona.parse(text, file: "fuzz.md")
        case .priceList:
            var catalog = PriceCatalog()
            _ = try? catalog.importLiteLLM(input, source: .file("fuzz.json"))
            for price in catalog.all {
                _ = CostCalculator.picos(Usage(inputTokens: 1_000_000, outputTokens: 1_000_000), price: price, type: .openai)
            }
        default: break
        }
    }

    /// The tool an answer in a schema comes through (Anthropic), and the schema it is checked against.
    public static let answerTool = "answer"
    static let answerSchema = try! JSON.parse("""
        {"type":"object","required":["mood"],"additionalProperties":false,"properties":{"mood":{"enum":["calm","angry"]},
         "n":{"type":"integer","minimum":0,"maximum":9},"s":{"type":"string","minLength":1,"maxLength":9,"pattern":"^[a-z]+$"},
         "list":{"type":"array","maxItems":3,"items":{"anyOf":[{"type":"number"},{"type":"object","properties":{"x":{"type":"null"}}}]}}}}
        """)

    /// What the engine does with a finished stream's usage: check it, then price it.
    static func price(_ outcome: TurnOutcome, type: ProviderType) {
        let request = ChatRequest(model: "m", system: "s", messages: [ChatMessage(role: .user, content: "q")], maxTokens: 500)
        let price = ModelPrice(key: ModelRef(provider: "p", model: "m"), contextWindow: 200_000, maxOutput: 64_000,
                               prices: TokenPrices(input: 3_000_000, cachedInput: 300_000, cacheWrite: 3_750_000, output: 15_000_000))
        for candidate in [price, nil] {
            let checked = UsageCheck.check(outcome.reportedUsage, request: request, answer: outcome.text, reasoning: outcome.reasoning,
                                           price: candidate, type: type)
            _ = CostCalculator.picos(checked.usage, price: price, type: type)
            _ = CostCalculator.picos(outcome.reportedUsage, price: price, type: type)
            _ = CostCalculator.cacheSavings(outcome.reportedUsage, price: price, type: type)
        }
    }
}

/// Makes new inputs from seeds: flips, cuts, repeats and splices, and plants the values that broke
/// Persona before (counts at the edges of Int, huge numbers, NaN, control bytes, stray framing).
public struct Mutator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    public mutating func next() -> UInt64 {
        // xorshift64*
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    public mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }

    static let plants: [[UInt8]] = [
        "9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e30", "1e309", "-1", "-0", "NaN",
        "Infinity", "0.0000001", "4294967296", "\"\\u0000\"", "\"\\ud800\"", "\u{1B}[2J", "\u{202E}", "\r", "\n", "\n\n", "\r\n\r\n",
        "data: ", "event: error\n", ":", "{", "}", "[", "]", "\"", ",", "null", "true", "\"usage\":", "\"input_tokens\":",
        "\"output_tokens\":", "\"cached_tokens\":", "\"thoughtsTokenCount\":", "\"prompt_eval_count\":", "[DONE]", "\u{FEFF}",
    ].map { Array($0.utf8) }

    /// A new input made from `seed`, and sometimes from `other` too.
    public mutating func mutate(_ seed: [UInt8], other: [UInt8]) -> [UInt8] {
        var bytes = seed
        for _ in 0...below(4) {
            let at = below(bytes.count + 1)
            switch below(8) {
            case 0 where !bytes.isEmpty:
                bytes[min(at, bytes.count - 1)] ^= UInt8(truncatingIfNeeded: 1 << below(8))
            case 1:
                bytes.insert(contentsOf: Self.plants[below(Self.plants.count)], at: at)
            case 2 where !bytes.isEmpty:
                let end = min(bytes.count, at + 1 + below(64))
                bytes.removeSubrange(min(at, end)..<end)
            case 3 where !bytes.isEmpty:
                let start = below(bytes.count)
                let piece = Array(bytes[start..<min(bytes.count, start + 1 + below(256))])
                for _ in 0...below(8) { bytes.insert(contentsOf: piece, at: min(at, bytes.count)) }
            case 4 where !other.isEmpty:
                let start = below(other.count)
                bytes.insert(contentsOf: other[start..<min(other.count, start + 1 + below(512))], at: at)
            case 5:
                bytes = Array(bytes.prefix(at))
            case 6:
                // A number swapped for a planted one.
                if let digit = bytes[at...].firstIndex(where: { (0x30...0x39).contains($0) }) {
                    var end = digit
                    while end < bytes.count, (0x30...0x39).contains(bytes[end]) { end += 1 }
                    bytes.replaceSubrange(digit..<end, with: Self.plants[below(10)])
                }
            default:
                bytes.insert(UInt8(truncatingIfNeeded: next()), at: at)
            }
        }
        return bytes
    }
}
