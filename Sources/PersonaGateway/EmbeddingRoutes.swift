import Foundation
import HTTPTypes
import Hummingbird
import PersonaKit

/// `POST /v1/embeddings` (OpenAI's shape) and `POST /api/v1/embeddings` (the seed's), for one
/// input or many, through the client's accounting: reserved, priced and recorded.
extension GatewayServer {
    func embeddings(_ request: Request, seed: Bool) async -> Response {
        var request = request
        let requestID = Self.requestID(request)
        do throws(GatewayError) {
            let client = try authenticate(request)
            let bytes = try await Self.body(of: &request)
            let json: JSON
            do { json = try JSON.parse(Array(buffer: bytes)) } catch { throw GatewayError(400, "the body is not JSON: \(error)") }
            let inputs: [String]
            if let text = json["input"]?.string {
                inputs = [text]
            } else if let items = json["input"]?.array, !items.isEmpty, items.allSatisfy({ $0.string != nil }) {
                inputs = items.compactMap(\.string)
            } else {
                throw GatewayError.badField("input", "required: a string, or a non-empty list of strings")
            }
            guard let modelText = request.headers[Self.modelHeader] ?? json["model"]?.string else {
                throw GatewayError.badField("model", "required, such as openai:text-embedding-3-small")
            }
            let completions = runtime.completions
            let model = try completions.resolve(modelText, provider: request.headers[Self.providerHeader])
            guard !runtime.disabled.contains(model.provider) else { throw .disabled(model.provider) }
            let endpoint: ProviderEndpoint
            do { endpoint = try runtime.workspace.providers.endpoint(for: model.provider) } catch {
                throw GatewayError(400, "\(error)", field: "model")
            }
            let result: EmbeddingResult
            do {
                result = try await Embeddings.run(EmbeddingRequest(model: model, inputs: inputs), endpoint: endpoint,
                                                  accounting: client.engine.accounting, session: client.session(), client: client.name,
                                                  requestID: requestID)
            } catch let error as ProviderError {
                throw GatewayError(error)
            } catch {
                throw GatewayError(502, "\(error)", type: "upstream_error")
            }
            var headers = await Self.answerHeaders(model, requestID: requestID, health: nil)
            headers[HTTPField.Name("X-Request-Cost")!] = SeedWire.cost(result.costPicos, estimated: result.estimated)
            let body: JSON
            if seed {
                body = .object([
                    "embeddings": .array(result.vectors.enumerated().map { index, vector in
                        .object(["index": .int(index), "embedding": .array(vector), "dimensions": .int(vector.count)])
                    }),
                    "usage": .object(["total_tokens": .int(result.inputTokens)]), "provider": .string(model.provider),
                    "model": .string(model.model), "cost": result.costPicos.map(SeedWire.amount) ?? .null,
                    "cost_estimated": .bool(result.estimated),
                ])
            } else {
                body = .object([
                    "object": .string("list"),
                    "data": .array(result.vectors.enumerated().map { index, vector in
                        .object(["object": .string("embedding"), "index": .int(index), "embedding": .array(vector)])
                    }),
                    "model": .string(model.description),
                    "usage": .object(["prompt_tokens": .int(result.inputTokens), "total_tokens": .int(result.inputTokens)]),
                ])
            }
            return Self.json(200, body.serialized, headers: headers)
        } catch {
            return Self.failure(error, requestID: requestID, seed: seed)
        }
    }
}
