import Foundation
import PersonaKit

/// The seed API's shapes (`/api/v1`): its replies, and its errors (`error`, `detail`,
/// `status_code`, `request_id`, `provider`, `timestamp`). Amounts are exact decimals.
enum SeedWire {
    static func generated(_ report: TurnReport, turn: TurnID, latencyMs: Int) -> String {
        JSON.object([
            "text": .string(report.text), "usage": OpenAIWire.usage(report), "provider": .string(turn.model.provider), "model": .string(turn.model.model),
            "cost": report.costPicos.map(amount) ?? .null, "cost_estimated": .bool(report.estimated), "latency_ms": .int(latencyMs),
            "finish_reason": OpenAIWire.finishReason(report.finishReason),
        ]).serialized
    }

    static func chat(_ report: TurnReport, turn: TurnID, latencyMs: Int) -> String {
        JSON.object([
            "message": .object(["role": .string("assistant"), "content": .string(report.text)]), "usage": OpenAIWire.usage(report),
            "provider": .string(turn.model.provider), "model": .string(turn.model.model),
            "cost": report.costPicos.map(amount) ?? .null, "cost_estimated": .bool(report.estimated), "latency_ms": .int(latencyMs),
        ]).serialized
    }

    static func amount(_ picos: Int64) -> JSON { .number(Money.exactText(picos)) }

    /// `X-Request-Cost`: `$0.000150`, `~$0.000150` while an estimate, `unknown` without a price.
    static func cost(_ picos: Int64?, estimated: Bool) -> String {
        guard let picos else { return "unknown" }
        return (estimated ? "~$" : "$") + Money.exactText(picos)
    }

    static func error(_ error: GatewayError, requestID: String, provider: String?) -> String {
        JSON.object([
            "error": .string(title(error.status)), "detail": .string(Secrets.redact(error.message)), "status_code": .int(error.status),
            "request_id": .string(requestID), "provider": provider.map(JSON.string) ?? .null,
            "timestamp": .string(GatewayServer.iso(Date())), "field": error.field.map(JSON.string) ?? .null,
        ]).serialized
    }

    static func title(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 413: return "Payload Too Large"
        case 429: return "Too Many Requests"
        case 499: return "Client Closed Request"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Internal Server Error"
        }
    }
}
