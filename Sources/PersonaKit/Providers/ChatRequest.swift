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
    /// The persona's pinned system prompt; `system` messages in `messages` follow it.
    public var system: String
    public var messages: [ChatMessage]
    public var maxTokens: Int?
    public var temperature: Double?
    public var promptCache: PromptCachePlan?
    /// Tools the model may call.
    public var tools: [ToolDefinition]
    /// A schema the answer must follow, when one is asked for.
    public var responseFormat: ResponseFormat?

    public init(model: String, system: String, messages: [ChatMessage], maxTokens: Int? = nil,
                temperature: Double? = nil, promptCache: PromptCachePlan? = nil, tools: [ToolDefinition] = [],
                responseFormat: ResponseFormat? = nil) {
        self.model = model
        self.system = system
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.promptCache = promptCache
        self.tools = tools
        self.responseFormat = responseFormat
    }
}

/// A tool a model may call: its name, what it does, and its arguments as a JSON Schema.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    public var parameters: JSON

    public init(name: String, description: String, parameters: JSON) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

/// An answer in a given shape: a named JSON Schema, strictly followed when `strict`.
public struct ResponseFormat: Sendable, Equatable {
    public var name: String
    public var schema: JSON
    public var strict: Bool

    public init(name: String, schema: JSON, strict: Bool = true) {
        self.name = name
        self.schema = schema
        self.strict = strict
    }
}

extension ChatRequest {
    /// What the model reads besides the messages: the answer's schema and the tools' definitions.
    /// They count towards the prompt's size.
    public var definitionsText: String {
        ([responseFormat.map { $0.name + " " + $0.schema.serialized }] + tools.map { $0.name + " " + $0.description + " " + $0.parameters.serialized })
            .compactMap { $0 }.joined(separator: "\n")
    }

    /// The conversation for a server with a `system` role (the system prompt first, system
    /// messages where they stand), or without one (every system text heads the first user message).
    func messagesPlacingSystem(systemRole: Bool) -> [ChatMessage] {
        let pinned = system.isEmpty ? [] : [ChatMessage(role: .system, content: system)]
        guard !systemRole else { return pinned + messages }
        let systemText = (pinned + messages).filter { $0.role == .system }.map(\.text).filter { !$0.isEmpty }
        var conversation = messages.filter { $0.role != .system }
        guard !systemText.isEmpty else { return conversation }
        let heading = ContentPart.text(systemText.joined(separator: "\n\n"))
        if let first = conversation.firstIndex(where: { $0.role == .user }) {
            conversation[first] = ChatMessage.mergingSameRoleRuns([ChatMessage(role: .user, parts: [heading]), conversation[first]])[0]
        } else {
            conversation.insert(ChatMessage(role: .user, parts: [heading]), at: 0)
        }
        return conversation
    }

    /// For servers with a system field apart from the conversation (Anthropic, Gemini): the
    /// system prompt with any system messages after it, and the conversation without them.
    var systemAndConversation: (system: String, messages: [ChatMessage]) {
        let texts = [system] + messages.filter { $0.role == .system }.map(\.text)
        return (texts.filter { !$0.isEmpty }.joined(separator: "\n\n"), messages.filter { $0.role != .system })
    }
}
