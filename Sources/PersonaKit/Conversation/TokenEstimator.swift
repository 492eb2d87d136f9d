/// Estimates token counts from text while the provider's own count is unknown:
/// a token per four characters of Latin script, a token per four UTF-8 bytes of CJK.
public enum TokenEstimator {
    public static func estimate(_ text: String) -> Int {
        tokens(fromQuarters: quarters(text))
    }

    /// Quarter-tokens in `text`: one per Latin character, one per UTF-8 byte of CJK. They add up
    /// across pieces, so a stream's estimate grows with each delta without rescanning the text.
    public static func quarters(_ text: String) -> Int {
        var count = 0
        for scalar in text.unicodeScalars {
            count += isCJK(scalar) ? UTF8.width(scalar) : 1
        }
        return count
    }

    public static func tokens(fromQuarters quarters: Int) -> Int {
        (quarters + 3) / 4
    }

    /// The input of a request: its system prompt, every message, and its schema and tools.
    public static func estimate(_ request: ChatRequest) -> Int {
        estimate(request.system) + request.messages.reduce(0) { $0 + estimate($1.promptText) + 1 } + estimate(request.definitionsText)
    }

    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x1100...0x11FF, 0x2E80...0x9FFF, 0xA960...0xA97F, 0xAC00...0xD7FF, 0xF900...0xFAFF,
             0xFE30...0xFE4F, 0xFF00...0xFFEF, 0x20000...0x3FFFF:
            return true
        default:
            return false
        }
    }
}
