/// One message of a conversation as a provider sees it: a role and its parts.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable {
        case system
        case user
        case assistant
        /// Results of the tools the assistant called.
        case tool
    }

    public var role: Role
    public var parts: [ContentPart]

    public init(role: Role, parts: [ContentPart]) {
        self.role = role
        self.parts = parts
    }

    /// A message of plain text.
    public init(role: Role, content text: String) {
        self.init(role: role, parts: [.text(text)])
    }

    /// The message as text: its text parts and structured values, a blank line apart. Estimates
    /// are made from it, and wire formats that take a string are given it.
    public var text: String {
        parts.compactMap { part -> String? in
            switch part {
            case .text(let text): return text
            case .structured(let value): return value.serialized
            case .toolCall, .toolResult: return nil
            }
        }.joined(separator: "\n\n")
    }

    /// Everything the model reads of the message, for estimates of its size: the text, each tool
    /// called with its arguments, and each result.
    public var promptText: String {
        ([text] + toolCalls.map { $0.name + " " + $0.arguments.serialized } + toolResults.map(\.content)).joined(separator: "\n")
    }

    public var toolCalls: [ToolCall] {
        parts.compactMap { if case .toolCall(let call) = $0 { return call } else { return nil } }
    }

    public var toolResults: [ToolResult] {
        parts.compactMap { if case .toolResult(let result) = $0 { return result } else { return nil } }
    }

    /// Joins consecutive messages of the same role, so user and assistant turns alternate, which
    /// Anthropic requires and every other provider accepts. Adjacent text parts become one, a
    /// blank line apart.
    public static func mergingSameRoleRuns(_ messages: [ChatMessage]) -> [ChatMessage] {
        var merged: [ChatMessage] = []
        for message in messages {
            guard let last = merged.last, last.role == message.role else {
                merged.append(message)
                continue
            }
            var parts = last.parts
            for part in message.parts {
                if case .text(let more) = part, case .text(let before)? = parts.last {
                    parts[parts.count - 1] = .text(before + "\n\n" + more)
                } else {
                    parts.append(part)
                }
            }
            merged[merged.count - 1].parts = parts
        }
        return merged
    }

    /// The name of the tool a result answers, from the call with its id earlier in `messages`:
    /// Gemini and Ollama name the function in a result, where the others give the call's id.
    static func toolName(for result: ToolResult, in messages: [ChatMessage]) -> String? {
        messages.lazy.flatMap(\.toolCalls).first { $0.id == result.callID }?.name
    }
}

/// A piece of a message.
public enum ContentPart: Sendable, Equatable {
    case text(String)
    /// The assistant asks for a tool to be run.
    case toolCall(ToolCall)
    /// What a tool gave back, for the call with the same id.
    case toolResult(ToolResult)
    /// A value in JSON, such as an answer given in a schema.
    case structured(JSON)
}

public struct ToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The arguments as a JSON value (an object, for every provider).
    public var arguments: JSON

    public init(id: String, name: String, arguments: JSON) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

public struct ToolResult: Sendable, Equatable {
    public var callID: String
    public var content: String
    public var isError: Bool

    public init(callID: String, content: String, isError: Bool = false) {
        self.callID = callID
        self.content = content
        self.isError = isError
    }
}
