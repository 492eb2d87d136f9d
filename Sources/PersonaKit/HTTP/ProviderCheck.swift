import Foundation

/// What `persona doctor` found about one provider.
public struct ProviderCheck: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case ok
        /// No key where one is needed.
        case missingKey = "missing_key"
        case unreachable
        case authFailed = "auth_failed"
        case failed
    }

    public var provider: String
    public var type: ProviderType?
    public var baseURL: String?
    public var keyVariable: String?
    public var keyPresent: Bool
    public var keyRequired: Bool
    public var outcome: Outcome
    public var latency: Double?
    public var models: Int?
    public var httpStatus: Int?
    /// What went wrong and what to do, in plain words.
    public var problem: String?
    public var usedBy: [String]

    public var usable: Bool { outcome == .ok }

    /// Checks a provider: its key, then the models list, which proves the endpoint answers and the
    /// key is accepted (`/models`, Anthropic `/v1/models`, Gemini `v1beta/models`, Ollama `/api/tags`).
    public static func run(_ name: String, directory: ProviderDirectory, usedBy: [String], timeouts: TransportTimeouts,
                           transport: CurlTransport = .shared) async -> ProviderCheck {
        let preset = ProviderPreset.named(name)
        let variable = directory.config.providers[name]?.apiKeyEnv ?? preset?.keyEnvironment.first ?? ProviderPreset.keyVariable(for: name)
        let endpoint: ProviderEndpoint
        do {
            endpoint = try directory.endpoint(for: name)
        } catch ProviderSetupError.missingKey(_, let variable) {
            return ProviderCheck(provider: name, type: preset?.type, baseURL: preset?.baseURL, keyVariable: variable, keyPresent: false,
                                 keyRequired: true, outcome: .missingKey,
                                 problem: "no API key: set \(variable) (export \(variable)=…)", usedBy: usedBy)
        } catch {
            return ProviderCheck(provider: name, keyVariable: variable, keyPresent: false, keyRequired: false, outcome: .failed,
                                 problem: "\(error)", usedBy: usedBy)
        }
        var check = ProviderCheck(provider: name, type: endpoint.type, baseURL: endpoint.baseURL, keyVariable: endpoint.apiKeyEnv,
                                  keyPresent: endpoint.apiKey != nil, keyRequired: endpoint.keyRequired, outcome: .ok, usedBy: usedBy)
        let started = MonotonicClock.now
        var status: Int?
        var body: [UInt8] = []
        do {
            for try await part in transport.stream(listRequest(endpoint), timeouts: timeouts) {
                switch part {
                case .head(let head): status = head.status
                case .body(let bytes): if body.count < 4 << 20 { body += bytes }
                }
            }
        } catch let error as TransportError {
            check.outcome = .unreachable
            check.problem = NetworkDiagnosis.explain(curlCode: error.curlCode, detail: error.message) + proxyNote()
            return check
        } catch {
            check.outcome = .unreachable
            check.problem = "\(error)"
            return check
        }
        check.latency = MonotonicClock.seconds(from: started)
        check.httpStatus = status
        guard let status, status < 400 else {
            let error = ProviderErrorParser.fromHTTP(status: status ?? 0, headers: HTTPHeaders(), body: body)
            check.outcome = error.kind == .auth ? .authFailed : .failed
            check.problem = error.kind == .auth
                ? "the key in \(endpoint.apiKeyEnv) was refused (\(error.message)); check it, or that it belongs to this provider"
                : "the models list failed: \(error.description)"
            return check
        }
        let json = try? JSON.parse(body)
        check.models = (json?["data"] ?? json?["models"])?.array?.count
        return check
    }

    static func listRequest(_ endpoint: ProviderEndpoint) -> HTTPRequest {
        var headers = HTTPHeaders([("Accept", "application/json")])
        endpoint.addAccessHeaders(to: &headers)
        let path: String
        switch endpoint.type {
        case .openai: path = "/models"
        case .anthropic: path = "/v1/models"
        case .gemini: path = "/v1beta/models"
        case .ollama: path = "/api/tags"
        }
        return HTTPRequest(method: "GET", url: endpoint.url(path), headers: headers)
    }

    /// Which proxy the request went through, without any credentials in its address.
    static func proxyNote() -> String {
        let environment = ProcessInfo.processInfo.environment
        guard let proxy = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"].lazy
            .compactMap({ environment[$0] }).first(where: { !$0.isEmpty }) else { return "" }
        var shown = proxy
        if let at = proxy.lastIndex(of: "@"), let scheme = proxy.range(of: "://") {
            shown = String(proxy[..<scheme.upperBound]) + "…@" + String(proxy[proxy.index(after: at)...])
        }
        return "; requests go through the proxy \(shown) (from the environment)"
    }
}
