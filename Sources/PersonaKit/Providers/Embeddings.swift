import Foundation

/// Embeddings, for the gateway's `/embeddings`: OpenAI's `POST …/embeddings` (and compatible
/// servers'), Gemini's `batchEmbedContents` and Ollama's `/api/embed`. Each request is reserved
/// against the budget and recorded in the ledger as a request with input tokens only.
public struct EmbeddingRequest: Sendable {
    public var model: ModelRef
    public var inputs: [String]

    public init(model: ModelRef, inputs: [String]) {
        self.model = model
        self.inputs = inputs
    }
}

public struct EmbeddingResult: Sendable {
    /// One vector per input, in the inputs' order, as the provider sent its numbers.
    public var vectors: [[JSON]]
    public var inputTokens: Int
    /// True when the provider reported no usage (Gemini) or one not believed, and the count is
    /// Persona's estimate.
    public var estimated: Bool
    public var costPicos: Int64?
}

public enum Embeddings {
    /// The wire request for `request` at `endpoint`; nil for a provider with no embeddings API.
    public static func httpRequest(_ request: EmbeddingRequest, endpoint: ProviderEndpoint) -> HTTPRequest? {
        var headers = HTTPHeaders([("Content-Type", "application/json")])
        for field in endpoint.extraHeaders { headers.add(field.name, field.value) }
        let key = endpoint.apiKey.flatMap { $0.isEmpty ? nil : $0 }
        switch endpoint.type {
        case .openai:
            if let key { headers.add("Authorization", "Bearer \(key)") }
            let body = JSON.object(["model": .string(request.model.model), "input": .array(request.inputs.map(JSON.string))])
            return HTTPRequest(url: endpoint.url("/embeddings"), headers: headers, body: body.serializedBytes)
        case .ollama:
            if let key { headers.add("Authorization", "Bearer \(key)") }
            let body = JSON.object(["model": .string(request.model.model), "input": .array(request.inputs.map(JSON.string))])
            return HTTPRequest(url: endpoint.url("/api/embed"), headers: headers, body: body.serializedBytes)
        case .gemini:
            if let key { headers.add("x-goog-api-key", key) }
            var model = request.model.model
            if model.hasPrefix("models/") { model.removeFirst("models/".count) }
            let body = JSON.object(["requests": .array(request.inputs.map { text in
                .object(["model": .string("models/" + model), "content": .object(["parts": .array([.object(["text": .string(text)])])])])
            })])
            return HTTPRequest(url: endpoint.url("/v1beta/models/\(model):batchEmbedContents"), headers: headers, body: body.serializedBytes)
        case .anthropic:
            return nil
        }
    }

    /// The vectors and reported input tokens of a reply; nil tokens when it reports none.
    public static func read(_ body: [UInt8], type: ProviderType, count: Int) throws -> (vectors: [[JSON]], tokens: Int?) {
        let json = try JSON.parse(body)
        let vectors: [[JSON]]
        var tokens: Int?
        switch type {
        case .openai:
            let items = (json["data"]?.array ?? []).sorted { ($0["index"]?.int ?? 0) < ($1["index"]?.int ?? 0) }
            vectors = items.compactMap { $0["embedding"]?.array }
            tokens = json["usage"]?["prompt_tokens"]?.int
        case .ollama:
            vectors = (json["embeddings"]?.array ?? []).compactMap(\.array)
            tokens = json["prompt_eval_count"]?.int
        case .gemini:
            vectors = (json["embeddings"]?.array ?? []).compactMap { $0["values"]?.array }
        case .anthropic:
            vectors = []
        }
        guard vectors.count == count, vectors.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.double != nil } }) else {
            throw ProviderError(kind: .badResponse, message: "the provider sent \(vectors.count) vectors for \(count) inputs")
        }
        return (vectors, tokens)
    }

    /// Reserves the request's worst case (a token per byte of input), sends it, prices what the
    /// provider counts (Persona's estimate where it counts nothing, or more tokens than bytes),
    /// and swaps the reservation for its ledger row. Nothing is sent that the ledger could not record.
    public static func run(_ request: EmbeddingRequest, endpoint: ProviderEndpoint, accounting: Accounting?, session: String,
                           client: String?, requestID: String?, transport: CurlTransport = .shared,
                           timeouts: TransportTimeouts = TransportTimeouts()) async throws -> EmbeddingResult {
        guard let wire = httpRequest(request, endpoint: endpoint) else {
            throw ProviderError(kind: .badRequest, message: "\(endpoint.name) (\(endpoint.type.rawValue)) has no embeddings API")
        }
        let price = accounting?.catalog.price(for: request.model)
        let bytes = request.inputs.reduce(0) { $0 + $1.utf8.count }
        let estimate = request.inputs.reduce(0) { $0 + TokenEstimator.tokens(fromQuarters: TokenEstimator.quarters($1)) }
        var reservation: Reservation?
        if let accounting {
            let worst = price.map { Int64(max(bytes, 1)) * $0.prices.input }
            let claim = ReservationClaim(session: session, persona: "embeddings", provider: endpoint.name, model: request.model.model,
                                         inputTokens: estimate, maxOutputTokens: 0, picos: worst, client: client, requestID: requestID)
            do { reservation = try await accounting.reserve(claim) } catch let refusal as BudgetRefusal {
                throw ProviderError(kind: .budget, message: refusal.description)
            }
        }
        let started = Date()
        var entry = LedgerEntry(timestamp: Date(), session: session, persona: "embeddings", provider: endpoint.name, model: request.model.model,
                                inputTokens: 0, outputTokens: 0, costPicos: 0, estimated: false, durationMs: 0, status: .failed,
                                client: client, requestID: requestID)
        do {
            let reply = try await transport.exchange(wire, timeouts: timeouts, limit: 256 << 20)
            entry.httpStatus = reply.status
            guard (200..<300).contains(reply.status) else {
                let message = Secrets.redact(String(decoding: reply.body.prefix(300), as: UTF8.self))
                throw ProviderError(kind: ProviderError.kind(forStatus: reply.status, message: message), status: reply.status,
                                    message: "\(endpoint.name) answered: \(message)")
            }
            let (vectors, reported) = try read(reply.body, type: endpoint.type, count: request.inputs.count)
            // A count of more tokens than the input has bytes is not believed.
            let believed = reported.flatMap { (0...max(bytes, 1)).contains($0) ? $0 : nil }
            let tokens = believed ?? estimate
            let cost = price.map { Int64(tokens) * $0.prices.input }
            entry.inputTokens = tokens
            entry.costPicos = cost
            entry.estimated = believed == nil
            entry.usageNote = reported != nil && believed == nil ? "reported \(reported!) input tokens for \(bytes) bytes" : nil
            entry.status = .ok
            entry.durationMs = Int(Date().timeIntervalSince(started) * 1000)
            try await accounting?.settle(reservation, as: entry)
            return EmbeddingResult(vectors: vectors, inputTokens: tokens, estimated: believed == nil, costPicos: cost)
        } catch {
            entry.durationMs = Int(Date().timeIntervalSince(started) * 1000)
            entry.errorKind = (error as? ProviderError)?.kind.rawValue ?? ProviderError.Kind.network.rawValue
            try? await accounting?.settle(reservation, as: entry)
            if let known = error as? ProviderError { throw known }
            throw ProviderError(kind: .network, message: Secrets.redact("\(error)"))
        }
    }
}
