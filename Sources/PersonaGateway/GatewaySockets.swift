import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import PersonaKit

/// The seed API's WebSockets: `/ws/providers` pushes provider health as it changes, and
/// `/ws/generate` streams a generation as `token` messages and a `done`. An upgrade the server
/// library refuses gets a bare 400, so a request without a valid key gets its socket, one
/// `error` message with the 401, and a close with code 1008 (policy violation).
extension GatewayServer {
    /// How often the providers' state is compared with what a socket was last told.
    static let providerWatchInterval: Duration = .milliseconds(250)
    /// A rate limit with less than this share left is warned about.
    static let rateLimitWarningShare = 0.1

    func upgrade(_ head: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let path = head.path.map { String($0.prefix { $0 != "?" }) }
        guard path == "/ws/providers" || path == "/ws/generate" else { return .dontUpgrade }
        let client: GatewayClient
        do throws(GatewayError) {
            client = try runtime.clients.authenticate(apiKey: head.headerFields[Self.apiKeyHeader], authorization: head.headerFields[.authorization])
        } catch {
            let requestID = head.headerFields[Self.requestIDHeader] ?? "ws_refused"
            return .upgrade([:]) { _, outbound, _ in
                try await outbound.write(.text(Self.socketError(error, requestID: requestID)))
                try await outbound.close(.policyViolation, reason: "unauthorized")
            }
        }
        if path == "/ws/providers" {
            return .upgrade([:]) { inbound, outbound, _ in try await self.watchProviders(inbound, outbound) }
        }
        return .upgrade([:]) { inbound, outbound, _ in try await self.generate(inbound, outbound, client: client) }
    }

    /// HTTP answers for the socket paths asked without an upgrade: why not.
    func addSocketRoutes(to router: Router<GatewayContext>) {
        for path in ["/ws/providers", "/ws/generate"] {
            router.get(RouterPath(stringLiteral: path)) { request, _ in
                do throws(GatewayError) {
                    _ = try self.authenticate(request)
                    throw GatewayError(426, "\(path) is a WebSocket: connect with an Upgrade: websocket request")
                } catch {
                    return Self.failure(error, requestID: Self.requestID(request), seed: true)
                }
            }
        }
    }

    /// Sends a `health_update` for every provider at once, then, as the state changes, a
    /// `health_update` (status or latency moved), a `circuit_breaker` (its state changed) or a
    /// `rate_limit_warning` (under a tenth of a limit left).
    func watchProviders(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        let watching = Task {
            var told: [String: ProviderStatus] = [:]
            var warned: Set<String> = []
            while !Task.isCancelled {
                for status in await runtime.health?.status() ?? [] {
                    let before = told[status.provider]
                    if before == nil || Self.health(before!) != Self.health(status) {
                        try await outbound.write(.text(Self.socketHealth(status)))
                    }
                    // A provider first seen open opened since the last look: breakers start closed.
                    let was = before?.breaker ?? .closed
                    if was != status.breaker {
                        try await outbound.write(.text(Self.socketBreaker(status, was: was)))
                    }
                    if let warning = Self.socketRateWarning(status) {
                        if warned.insert(status.provider).inserted { try await outbound.write(.text(warning)) }
                    } else {
                        warned.remove(status.provider)
                    }
                    told[status.provider] = status
                }
                try await Task.sleep(for: Self.providerWatchInterval)
            }
        }
        // The socket lives until the client closes it; its messages are not read for anything.
        for try await _ in inbound.messages(maxSize: 1 << 16) {}
        watching.cancel()
    }

    /// Each `{"action": "generate", …}` message (the body of `POST /generate`) runs one turn,
    /// told back as `token` messages and then a `done` with usage and cost, or an `error`.
    func generate(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, client: GatewayClient) async throws {
        for try await message in inbound.messages(maxSize: Self.bodyLimit) {
            guard case .text(let text) = message else { continue }
            let requestID = "ws_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            do throws(GatewayError) {
                let json: JSON
                do { json = try JSON.parse(text) } catch { throw GatewayError(400, "the message is not JSON: \(error)") }
                guard json["action"]?.string == "generate" else { throw GatewayError.badField("action", "must be \"generate\"") }
                let body = try ChatCompletionRequest.parse(Array(text.utf8), shape: .generate)
                let steering = ChatCompletions.Steering(persona: json["persona"]?.string, provider: json["provider"]?.string,
                                                        model: nil, failoverChain: json["failover_chain"]?.string, requestID: requestID)
                let completions = runtime.completions
                let turn = try completions.plan(body, steering: steering, client: client)
                try await streamTurn(turn, engine: client.engine, requestID: requestID, to: outbound)
            } catch {
                try await outbound.write(.text(Self.socketError(error, requestID: requestID)))
            }
        }
    }

    private func streamTurn(_ turn: PlannedTurn, engine: ConversationEngine, requestID: String,
                            to outbound: WebSocketOutboundWriter) async throws(GatewayError) {
        let events = TurnEvents(engine: engine, turn: turn)
        var index = 0
        do {
            var batch = await events.nextBatch()
            while !batch.isEmpty {
                for event in batch {
                switch event.kind {
                case .delta(let text):
                    try await outbound.write(.text(JSON.object(["type": .string("token"), "content": .string(text), "index": .int(index)]).serialized))
                    index += 1
                case .done(let report):
                    try await outbound.write(.text(Self.socketDone(report, turn: event.turn, requestID: requestID)))
                case .failed(let error, let report):
                    guard report.text.isEmpty else {
                        try await outbound.write(.text(Self.socketDone(report, turn: event.turn, requestID: requestID, error: error)))
                        break
                    }
                    throw GatewayError(error)
                default:
                    break
                }
                }
                batch = await events.nextBatch()
            }
        } catch let error as GatewayError {
            throw error
        } catch {
            // The socket closed under the stream: stop the turn, and wait until its row is written.
            await events.stop()
            throw GatewayError(499, "the socket closed: \(error)")
        }
    }

    static func socketDone(_ report: TurnReport, turn: TurnID, requestID: String, error: ProviderError? = nil) -> String {
        JSON.object([
            "type": .string("done"), "usage": OpenAIWire.usage(report), "provider": .string(turn.model.provider),
            "model": .string(turn.model.model), "cost": report.costPicos.map(SeedWire.amount) ?? .null,
            "cost_estimated": .bool(report.estimated), "finish_reason": OpenAIWire.finishReason(report.finishReason),
            "error": error.map { .string(Secrets.redact($0.description)) } ?? .null, "request_id": .string(requestID),
        ]).serialized
    }

    static func socketError(_ error: GatewayError, requestID: String) -> String {
        JSON.object([
            "type": .string("error"), "error": .string(SeedWire.title(error.status)), "detail": .string(Secrets.redact(error.message)),
            "status_code": .int(error.status), "request_id": .string(requestID), "field": error.field.map(JSON.string) ?? .null,
        ]).serialized
    }

    static func socketHealth(_ status: ProviderStatus) -> String {
        let health = Self.health(status)
        return JSON.object([
            "type": .string("health_update"), "provider": .string(status.provider), "status": health["status"] ?? .null,
            "latency_ms": health["latency_ms"] ?? .null, "circuit_breaker": .string(status.breaker.rawValue),
            "timestamp": .string(iso(Date())),
        ]).serialized
    }

    static func socketBreaker(_ status: ProviderStatus, was: BreakerState) -> String {
        JSON.object([
            "type": .string("circuit_breaker"), "provider": .string(status.provider), "state": .string(status.breaker.rawValue),
            "previous_state": .string(was.rawValue),
            "reason": .string(status.breaker == .open ? "\(status.consecutiveFailures) failures in a row"
                + (status.lastError.map { ": " + Secrets.redact($0) } ?? "") : "a trial request succeeded or is allowed"),
            "timestamp": .string(iso(Date())),
        ]).serialized
    }

    static func socketRateWarning(_ status: ProviderStatus) -> String? {
        guard let limit = status.limit?.requests, limit > 0 else { return nil }
        let remaining = max(0, limit - status.requestsInWindow)
        guard Double(remaining) < Double(limit) * rateLimitWarningShare else { return nil }
        return JSON.object([
            "type": .string("rate_limit_warning"), "provider": .string(status.provider), "remaining": .int(remaining),
            "limit": .int(limit), "reset_at": .string(iso(Date().addingTimeInterval(status.limit?.window ?? 60))),
        ]).serialized
    }
}
