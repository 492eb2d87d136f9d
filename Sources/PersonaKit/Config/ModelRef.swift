import Foundation

/// A `provider:model` pair, split at the first colon so that
/// `openrouter:meta-llama/llama-3.3-70b-instruct:free` keeps its model's own colon.
public struct ModelRef: Sendable, Hashable, CustomStringConvertible {
    public var provider: String
    public var model: String

    public init(provider: String, model: String) {
        self.provider = provider
        self.model = model
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let text: String
        public var description: String {
            "\(ConfigIssue.echo(text)) is not provider:model (for example anthropic:claude-sonnet-4-5 or ollama:llama3.2)"
        }
    }

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let colon = trimmed.firstIndex(of: ":") else { throw ParseError(text: text) }
        let provider = trimmed[..<colon].lowercased()
        let model = String(trimmed[trimmed.index(after: colon)...])
        guard !provider.isEmpty, !model.isEmpty, !provider.contains(" ") else { throw ParseError(text: text) }
        self.init(provider: provider, model: model)
    }

    public var description: String { "\(provider):\(model)" }
}
