/// One message of a conversation as a provider sees it.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable {
        case user
        case assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    /// Joins consecutive messages of the same role, so user and assistant turns alternate, which
    /// Anthropic requires and every other provider accepts.
    public static func mergingSameRoleRuns(_ messages: [ChatMessage]) -> [ChatMessage] {
        var merged: [ChatMessage] = []
        for message in messages {
            if let last = merged.last, last.role == message.role {
                merged[merged.count - 1].content = last.content + "\n\n" + message.content
            } else {
                merged.append(message)
            }
        }
        return merged
    }
}

/// Where a provider with explicit prompt caching (Anthropic) marks the request's prefix for its
/// cache. OpenAI and Gemini cache prefixes on their own.
public struct PromptCachePlan: Sendable, Equatable {
    /// Cached for an hour rather than five minutes; its writes cost more.
    public var oneHour: Bool
    /// Cache through the last message too: a conversation that grows reads it back next turn.
    public var throughLastMessage: Bool

    public init(oneHour: Bool = false, throughLastMessage: Bool) {
        self.oneHour = oneHour
        self.throughLastMessage = throughLastMessage
    }

    /// The plan `prompt_cache:` asks for; nil when it is off.
    public init?(_ setting: PromptCacheSetting, throughLastMessage: Bool) {
        guard setting != .off else { return nil }
        self.init(oneHour: setting == .oneHour, throughLastMessage: throughLastMessage)
    }
}

/// Everything an adapter needs to build one streaming request.
public struct ChatRequest: Sendable, Equatable {
    public var model: String
    public var system: String
    public var messages: [ChatMessage]
    public var maxTokens: Int?
    public var temperature: Double?
    public var promptCache: PromptCachePlan?

    public init(model: String, system: String, messages: [ChatMessage], maxTokens: Int? = nil,
                temperature: Double? = nil, promptCache: PromptCachePlan? = nil) {
        self.model = model
        self.system = system
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.promptCache = promptCache
    }
}

extension ChatRequest {
    /// The system prompt as a leading `system` message, then the conversation: the shape OpenAI
    /// and Ollama share.
    var messagesWithSystemFirst: [JSON] {
        let system: [JSON] = self.system.isEmpty ? [] : [.object(["role": .string("system"), "content": .string(self.system)])]
        return system + messages.map(Self.json)
    }

    /// For servers without a system role: the system prompt heads the first user message.
    var messagesWithSystemInFirstUserTurn: [JSON] {
        var messages = self.messages
        if !system.isEmpty {
            if let first = messages.firstIndex(where: { $0.role == .user }) {
                messages[first].content = system + "\n\n" + messages[first].content
            } else {
                messages.insert(ChatMessage(role: .user, content: system), at: 0)
            }
        }
        return messages.map(Self.json)
    }

    private static func json(_ message: ChatMessage) -> JSON {
        .object(["role": .string(message.role.rawValue), "content": .string(message.content)])
    }
}
