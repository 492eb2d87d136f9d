import Foundation
import PersonaKit

/// `POST /v1/chat/completions`: a request planned as `persona ask` plans one, run by the client's
/// engine, and told back in OpenAI's chat completion format (DESIGN.md §13, the gateway).
struct ChatCompletions: Sendable {
    let workspace: Workspace
    let catalog: PriceCatalog
    /// Providers switched off at run time (`PATCH /providers/{id}`).
    let disabled: Set<String>

    /// Headers that steer a request: `X-Persona`, `X-Provider`, `X-Model`, `X-Failover-Chain`, `X-Request-ID`.
    struct Steering: Sendable {
        var persona: String?
        var provider: String?
        var model: String?
        var failoverChain: String?
        var requestID: String
    }

    /// The turn `body` asks for. The model is `provider:model`, a model the catalog knows under
    /// one provider, or `persona/<id>`, whose system prompt and model come with it; else the
    /// first of the named failover chain, else `default_model`.
    func plan(_ body: ChatCompletionRequest, steering: Steering, client: GatewayClient) throws(GatewayError) -> PlannedTurn {
        var personaID = steering.persona
        var modelText = steering.model ?? body.model
        if personaID == nil, let name = body.model, name.hasPrefix("persona/") {
            personaID = String(name.dropFirst("persona/".count))
            modelText = steering.model
        }
        var chain: [ModelRef] = []
        if let name = steering.failoverChain {
            guard let models = workspace.config.failoverChains[name], !models.isEmpty else {
                let known = workspace.config.failoverChains.keys.sorted().joined(separator: ", ")
                throw GatewayError(400, "X-Failover-Chain: no chain '\(name)' in failover_chains (\(known.isEmpty ? "none set" : known))")
            }
            chain = models
        }
        var model = try modelText.map { text throws(GatewayError) in try resolve(text, provider: steering.provider) }
        if model == nil, personaID == nil { model = chain.first ?? workspace.config.defaultModel }
        guard model != nil || personaID != nil else {
            throw .badField("model", "none given: send model, X-Model (with X-Provider), X-Failover-Chain, or set default_model in the config")
        }
        var participant: Participant
        do {
            participant = try TurnPlanner(workspace: workspace, model: model).participants(named: personaID.map { [$0] } ?? [])[0]
        } catch {
            throw GatewayError(400, "\(error)", field: "model")
        }
        if personaID == nil {
            participant.persona.systemPrompt = body.system ?? participant.persona.systemPrompt
        } else if let system = body.system {
            participant.persona.systemPrompt += "\n\n" + system
        }
        // A named chain decides where the turn goes when its model cannot answer.
        if !chain.isEmpty {
            participant.fallbacks = chain.filter { $0 != participant.model }.compactMap { next in
                (try? workspace.providers.endpoint(for: next.provider)).map { Route(endpoint: $0, model: next) }
            }
        }
        participant.fallbacks.removeAll { disabled.contains($0.model.provider) }
        if disabled.contains(participant.model.provider) {
            guard let next = participant.fallbacks.first else { throw .disabled(participant.model.provider) }
            participant.endpoint = next.endpoint
            participant.model = next.model
            participant.fallbacks.removeFirst()
        }
        return turn(participant, body, steering: steering, client: client)
    }

    private func turn(_ participant: Participant, _ body: ChatCompletionRequest, steering: Steering, client: GatewayClient) -> PlannedTurn {
        var turn = TurnPlanner.turn(participant, messages: body.messages, session: client.session(), maxTokens: body.maxTokens,
                                    temperature: body.temperature, promptCache: workspace.config.promptCache,
                                    cacheThroughLastMessage: false, catalog: catalog)
        turn.client = client.name
        turn.requestID = steering.requestID
        return turn
    }

    func resolve(_ text: String, provider: String?) throws(GatewayError) -> ModelRef {
        if let provider { return ModelRef(provider: provider, model: text) }
        if text.contains(":") {
            do { return try ModelRef(parsing: text) } catch { throw .badField("model", "\(error)") }
        }
        let known = catalog.all.filter { $0.key.model == text && (try? workspace.providers.endpoint(for: $0.key.provider)) != nil }
        guard known.count == 1 else {
            throw .badField("model", known.isEmpty
                ? "\(text) is no model the catalog knows with a usable provider; name it as provider:model, or persona/<id>"
                : "\(text) is served by \(known.map(\.key.provider).joined(separator: ", ")); name one as provider:\(text)")
        }
        return known[0].key
    }
}

/// OpenAI's wire shapes for what the engine reports.
enum OpenAIWire {
    static func finishReason(_ reason: FinishReason?) -> JSON {
        switch reason?.kind {
        case .stop?, nil: return .string("stop")
        case .length?: return .string("length")
        case .toolCalls?: return .string("tool_calls")
        case .contentFilter?, .refusal?: return .string("content_filter")
        case .other?: return .string("stop")
        }
    }

    static func usage(_ report: TurnReport) -> JSON {
        let input = report.usage.inputTokens ?? 0
        let output = report.usage.outputTokens ?? 0
        return .object(["prompt_tokens": .int(input), "completion_tokens": .int(output), "total_tokens": .int(input + output)])
    }

    static func chunk(id: String, created: Int, model: String, delta: JSON, finish: JSON = .null) -> String {
        "data: " + JSON.object([
            "id": .string(id), "object": .string("chat.completion.chunk"), "created": .int(created), "model": .string(model),
            "choices": .array([.object(["index": .int(0), "delta": delta, "finish_reason": finish])]),
        ]).serialized + "\n\n"
    }

    static func usageChunk(id: String, created: Int, model: String, report: TurnReport) -> String {
        "data: " + JSON.object([
            "id": .string(id), "object": .string("chat.completion.chunk"), "created": .int(created), "model": .string(model),
            "choices": .array([]), "usage": usage(report),
        ]).serialized + "\n\n"
    }

    static func completion(id: String, created: Int, model: String, report: TurnReport) -> String {
        JSON.object([
            "id": .string(id), "object": .string("chat.completion"), "created": .int(created), "model": .string(model),
            "choices": .array([.object([
                "index": .int(0), "message": .object(["role": .string("assistant"), "content": .string(report.text),
                                                       "refusal": report.refusal.map(JSON.string) ?? .null]),
                "finish_reason": finishReason(report.finishReason),
            ])]),
            "usage": usage(report),
        ]).serialized
    }

    static func error(_ error: GatewayError, requestID: String) -> String {
        JSON.object(["error": .object([
            "message": .string(Secrets.redact(error.message)), "type": .string(error.type),
            "param": error.field.map(JSON.string) ?? .null, "code": .int(error.status), "request_id": .string(requestID),
        ])]).serialized
    }

}
