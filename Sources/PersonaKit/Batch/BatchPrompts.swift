import Foundation

/// A prompt of a job, with the id its results are filed under and the line it came from.
public struct BatchPrompt: Sendable, Equatable {
    public var id: String
    public var text: String
    public var line: Int

    public init(id: String, text: String, line: Int) {
        self.id = id
        self.text = text
        self.line = line
    }
}

/// Reads `--prompts FILE`: plain text with one prompt a line, or JSONL of
/// `{"id": "...", "prompt": "..."}` (told apart by the first line). Every problem names the file
/// and line.
public enum BatchPrompts {
    public static func parse(_ text: String, file: String) throws -> [BatchPrompt] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        let isJSONL = lines.first { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?
            .trimmingCharacters(in: .whitespaces).hasPrefix("{") ?? false
        var prompts: [BatchPrompt] = []
        var seen: [String: Int] = [:]
        for (index, line) in lines.enumerated() {
            let number = index + 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            var prompt: BatchPrompt
            if isJSONL {
                guard let json = try? JSON.parse(trimmed), json.object != nil else {
                    throw UsageError("\(file):\(number): not a JSON object; each line of a JSONL prompts file is {\"id\": \"…\", \"prompt\": \"…\"}")
                }
                guard let text = json["prompt"]?.string, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw UsageError("\(file):\(number): needs a non-empty \"prompt\" string")
                }
                let id: String
                if let given = json["id"] {
                    guard let string = given.string ?? given.int.map(String.init), !string.isEmpty else {
                        throw UsageError("\(file):\(number): \"id\" must be a non-empty string")
                    }
                    id = string
                } else {
                    id = String(prompts.count + 1)
                }
                prompt = BatchPrompt(id: id, text: text, line: number)
            } else {
                prompt = BatchPrompt(id: String(prompts.count + 1), text: trimmed, line: number)
            }
            if let first = seen[prompt.id] {
                throw UsageError("\(file):\(number): the id '\(prompt.id)' is used already, on line \(first)")
            }
            seen[prompt.id] = number
            prompts.append(prompt)
        }
        guard !prompts.isEmpty else { throw UsageError("\(file): holds no prompts") }
        return prompts
    }
}
