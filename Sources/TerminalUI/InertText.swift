/// Makes untrusted model text safe to show on a terminal.
///
/// ESC, the other C0 controls, DEL and the C1 controls (U+0080–U+009F, which some terminals obey
/// as CSI and OSC) become visible symbols that do nothing, so a model cannot clear the screen,
/// move the cursor, retitle the window or ring the bell. Bidirectional overrides and isolates,
/// which could make text read other than it is, are dropped, as the chat screen drops them.
/// Newlines and tabs are kept.
public enum InertText {
    public static func sanitize(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { needsReplacement($0) || isBidiControl($0.value) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !isBidiControl(scalar.value) {
            if needsReplacement(scalar) {
                result.append(symbol(for: scalar))
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    static func needsReplacement(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value != 0x0A && scalar.value != 0x09 && isControl(scalar.value)
    }

    /// The marks and embeddings, overrides and isolates that reorder bidirectional text.
    static func isBidiControl(_ value: UInt32) -> Bool {
        value == 0x061C || value == 0x200E || value == 0x200F || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
    }

    /// Whether `value` is a C0 control, DEL or a C1 control: a code a terminal may obey.
    static func isControl(_ value: UInt32) -> Bool {
        value < 0x20 || (0x7F...0x9F).contains(value)
    }

    /// The Control Pictures block has a symbol for each C0 code and DEL (␛ for ESC, ␇ for BEL);
    /// C1 codes share one substitute symbol.
    public static func symbol(for scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x00...0x1F: return Unicode.Scalar(0x2400 + scalar.value)!
        case 0x7F: return "\u{2421}"
        default: return "\u{2426}"
        }
    }
}
