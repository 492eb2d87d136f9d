import Foundation

/// Scripted council reviewers: a request that shows answers in fences with a nonce
/// (`<answer label="B" nonce="…">`) is answered with a verdict of the chosen style.
public enum MockCouncil {
    public enum Style: String, Sendable {
        /// Ranks the answers in the order shown: a position-biased reviewer.
        case shown
        /// Ranks them by label, whatever the order: a steady one.
        case sorted
        /// Answers with no ranking at all.
        case unreadable
        /// Names the first label twice.
        case `repeat`
        /// A `FINAL RANKING:` list in the order shown, not JSON.
        case final
    }

    /// The labels a review request shows, in order; empty for any other request.
    public static func labels(in request: MockRequest) -> [String] {
        let body = String(decoding: request.body, as: UTF8.self)
        // In the JSON body the fence's quotes are escaped: <answer label=\"B\" nonce=\"…\">.
        let pattern = try! NSRegularExpression(pattern: #"<answer label=\\"([A-Z]+)\\" nonce="#)
        var labels: [String] = []
        for match in pattern.matches(in: body, range: NSRange(body.startIndex..., in: body)) {
            guard let range = Range(match.range(at: 1), in: body) else { continue }
            let label = String(body[range])
            // A review asked again repeats the first request: its labels once.
            if labels.contains(label) { break }
            labels.append(label)
        }
        return labels
    }

    static func verdict(_ style: Style, for request: MockRequest) -> String? {
        let shown = labels(in: request)
        guard !shown.isEmpty else { return nil }
        func json(_ ranking: [String]) -> String {
            let critiques = shown.map { "\"\($0)\": \"Answer \($0) is clear.\"" }.joined(separator: ", ")
            return "{\"ranking\": [\(ranking.map { "\"\($0)\"" }.joined(separator: ", "))], \"critiques\": {\(critiques)}}"
        }
        switch style {
        case .shown: return json(shown)
        case .sorted: return json(shown.sorted())
        case .unreadable: return "They are all fine answers."
        case .repeat: return json([shown[0]] + shown.dropLast())
        case .final: return "All are good.\n\nFINAL RANKING:\n" + shown.enumerated().map { "\($0 + 1). Answer \($1)" }.joined(separator: "\n")
        }
    }
}
