/// How a persona is named in a message (`@skeptic`) or a command (`/model The Skeptic …`): by its
/// id, its name, its name run together or joined with `-` or `_`, or its name's last word, all in
/// any case.
public enum PersonaHandle {
    public static func matches(_ handle: String, id: String, name: String) -> Bool {
        let wanted = handle.lowercased()
        let words = name.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
        return wanted == id.lowercased() || wanted == words.joined(separator: " ") || wanted == words.joined()
            || wanted == words.joined(separator: "-") || wanted == words.joined(separator: "_") || wanted == words.last
    }

    /// The `@name` handles in a message, without the `@` and trailing punctuation: `@skeptic,` is
    /// `skeptic`. An `@` inside a word (an e-mail address) is not one.
    public static func mentions(in message: String) -> [String] {
        message.split(whereSeparator: { $0.isWhitespace }).compactMap { word in
            guard word.hasPrefix("@") else { return nil }
            let handle = word.dropFirst().trimmingCharacters(in: .punctuationCharacters)
            return handle.isEmpty ? nil : handle
        }
    }
}
