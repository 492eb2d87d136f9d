import Foundation

/// Embeddings as the mock serves them, in three wire formats: OpenAI's `POST /v1/embeddings`,
/// Gemini's `POST /v1beta/models/{model}:batchEmbedContents` (which reports no usage) and
/// Ollama's `POST /api/embed`. Each input gets eight numbers drawn from its text, so the same
/// text always gets the same vector; its tokens are its words.
enum MockEmbeddings {
    static func isRoute(_ path: String) -> Bool {
        path.hasSuffix("/embeddings") || path.contains(":batchEmbedContents") || path.hasSuffix("/api/embed")
    }

    static let dimensions = 8

    /// The status and JSON body for `request`; a 400 for a body it cannot read.
    static func respond(_ request: MockRequest) -> (status: Int, body: String) {
        guard let json = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            return (400, #"{"error":{"message":"the body is not a JSON object"}}"#)
        }
        if request.path.contains(":batchEmbedContents") {
            let texts = (json["requests"] as? [[String: Any]] ?? []).map { item in
                ((item["content"] as? [String: Any])?["parts"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined()
            }
            return (200, encode(["embeddings": texts.map { ["values": vector($0)] }]))
        }
        let input = json["input"]
        let texts = input as? [String] ?? (input as? String).map { [$0] } ?? []
        guard !texts.isEmpty else { return (400, #"{"error":{"message":"input is required"}}"#) }
        let tokens = texts.reduce(0) { $0 + words($1) }
        let model = json["model"] as? String ?? ""
        if request.path.hasSuffix("/api/embed") {
            return (200, encode(["model": model, "embeddings": texts.map(vector), "prompt_eval_count": tokens]))
        }
        return (200, encode([
            "object": "list", "model": model,
            "data": texts.enumerated().map { ["object": "embedding", "index": $0.offset, "embedding": vector($0.element)] },
            "usage": ["prompt_tokens": tokens, "total_tokens": tokens],
        ]))
    }

    static func words(_ text: String) -> Int { max(1, text.split(whereSeparator: \.isWhitespace).count) }

    static func vector(_ text: String) -> [Double] {
        let bytes = Array(text.utf8)
        return (0..<dimensions).map { index in
            let sum = bytes.enumerated().reduce(index + 1) { $0 &+ Int($1.element) &* ($1.offset + index + 1) }
            return Double(sum % 1000) / 1000
        }
    }

    private static func encode(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }
}
