import Foundation
import HTTPTypes
import Hummingbird
import PersonaKit

/// The seed API's configuration, provider, health, cost and rate-limit endpoints (`/api/v1`).
/// Keys are never part of a reply: a provider shows only whether its key is set, and the name of
/// the variable it comes from.
extension GatewayServer {
    func addSeedRoutes(to api: RouterGroup<GatewayContext>) {
        api.get("/config") { request, _ in await self.seed(request) { _ in self.config() } }
        api.get("/config/status") { request, _ in await self.seed(request) { _ in self.configStatus() } }
        api.post("/config/reload") { request, _ in
            await self.seed(request, admin: true) { body in
                let validateOnly = body["validate_only"]?.bool ?? false
                let before = self.runtime.workspace
                let (fresh, applied, problem) = self.runtime.reload(validateOnly: validateOnly)
                let names = (Set(before.config.providers.keys), Set(fresh.config.providers.keys))
                let failed = fresh.configHasErrors || problem != nil
                return .object([
                    "status": .string(failed ? "error" : "success"),
                    "message": .string(fresh.configHasErrors ? "The config has errors; nothing was applied"
                        : problem.map { "The gateway cannot serve with this config (\($0)); nothing was applied" }
                        ?? (applied ? "Configuration reloaded successfully" : "The config is valid; nothing was applied (validate_only)")),
                    "applied": .bool(applied),
                    "changes": .object([
                        "providers_added": .array(names.1.subtracting(names.0).sorted().map(JSON.string)),
                        "providers_removed": .array(names.0.subtracting(names.1).sorted().map(JSON.string)),
                        "personas": .int(fresh.personas.count),
                    ]),
                    "errors": .array((fresh.configIssues.filter { $0.severity == .error }.map { "\($0)" } + [problem].compactMap { $0 })
                        .map(JSON.string)),
                    "note": .string("keys, budgets, timeouts and retries apply to the next request; rate limits and circuit breakers "
                        + "from the next start of persona serve"),
                ])
            }
        }
        api.post("/config/validate") { request, _ in
            await self.seed(request) { _ in
                let fresh = self.runtime.reload(validateOnly: true).workspace
                let issues = fresh.issues
                return .object([
                    "valid": .bool(!fresh.configHasErrors),
                    "config_path": .string(fresh.paths.configFile),
                    "errors": .array(issues.filter { $0.severity == .error }.map { .string("\($0)") }),
                    "warnings": .array(issues.filter { $0.severity != .error }.map { .string("\($0)") }),
                ])
            }
        }
        api.get("/providers") { request, _ in
            await self.seed(request) { _ in
                let query = request.uri.queryParameters
                let includeModels = query["include_models"].map { $0 == "true" } ?? false
                var providers = await self.providerObjects(includeModels: includeModels)
                if query["enabled_only"] == "true" { providers = providers.filter { $0["enabled"]?.bool == true } }
                return .object(["providers": .array(providers), "total": .int(providers.count),
                                "enabled": .int(providers.filter { $0["enabled"]?.bool == true }.count)])
            }
        }
        api.get("/providers/failover-chains") { request, _ in
            await self.seed(request) { _ in
                let chains = self.runtime.workspace.config.failoverChains
                return .object(["chains": .object(JSONObject(chains.keys.sorted().map { name in
                    .init(key: name, value: .object(["models": .array(chains[name, default: []].map { .string($0.description) }),
                                                     "providers": .array(chains[name, default: []].map { .string($0.provider) })]))
                }))])
            }
        }
        api.get("/providers/:id") { request, context in
            await self.seed(request) { _ in try await self.provider(context.parameters.get("id") ?? "", detailed: true) }
        }
        api.patch("/providers/:id") { request, context in
            await self.seed(request, admin: true) { body in
                let id = try self.knownProvider(context.parameters.get("id") ?? "")
                guard let enabled = body["enabled"]?.bool else { throw GatewayError.badField("enabled", "required, true or false") }
                self.runtime.setEnabled(enabled, provider: id)
                return .object(["status": .string("success"), "provider_id": .string(id), "enabled": .bool(enabled),
                                "message": .string("Provider \(enabled ? "enabled" : "disabled") successfully")])
            }
        }
        api.get("/providers/:id/models") { request, context in
            await self.seed(request) { _ in
                let id = try self.knownProvider(context.parameters.get("id") ?? "")
                let models = self.models(of: id)
                return .object(["provider_id": .string(id), "models": .array(models), "total": .int(models.count)])
            }
        }
        api.get("/health") { request, _ in
            await self.seed(request) { _ in
                let statuses = await self.runtime.health?.status() ?? []
                let open = statuses.filter { $0.breaker != .closed }.map(\.provider)
                let database: String
                do { _ = try self.runtime.ledger?.totals(); database = "healthy" } catch { database = "unhealthy" }
                let config = self.runtime.workspace.configHasErrors ? "unhealthy" : "healthy"
                return .object([
                    "status": .string(database != "healthy" || config != "healthy" ? "unhealthy" : open.isEmpty ? "healthy" : "degraded"),
                    "timestamp": .string(Self.iso(Date())), "version": .string(PersonaVersion.number),
                    "components": .object(["config": .string(config), "providers": .string(open.isEmpty ? "healthy" : "degraded"),
                                           "database": .string(database)]),
                ])
            }
        }
        api.get("/health/providers") { request, _ in
            await self.seed(request) { _ in
                let statuses = await self.runtime.health?.status() ?? []
                let degraded = statuses.contains { $0.breaker != .closed }
                return .object(["overall_status": .string(degraded ? "degraded" : "healthy"),
                                "providers": .object(JSONObject(statuses.map { .init(key: $0.provider, value: Self.health($0)) }))])
            }
        }
        api.get("/health/providers/:id") { request, context in
            await self.seed(request) { _ in
                let id = try self.knownProvider(context.parameters.get("id") ?? "")
                return Self.named(id, Self.health(await self.status(of: id)))
            }
        }
        api.get("/health/circuit-breakers") { request, _ in
            await self.seed(request) { _ in
                let statuses = await self.runtime.health?.status() ?? []
                return .object(["circuit_breakers": .object(JSONObject(statuses.map { status in
                    .init(key: status.provider, value: .object([
                        "state": .string(status.breaker.rawValue), "failure_count": .int(status.consecutiveFailures),
                        "success_count": .int(status.successes), "failures": .int(status.failures),
                        "last_error": status.lastError.map { .string(Secrets.redact($0)) } ?? .null,
                    ]))
                }))])
            }
        }
        api.get("/costs/:kind") { request, context in
            await self.seed(request) { _ in
                let kind = context.parameters.get("kind") ?? ""
                if kind == "alerts" { return try self.alerts() }
                var query: [String: String] = [:]
                for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
                let text: String?
                do { text = try self.runtime.costs(kind, query) } catch let error as GatewayError { throw error } catch {
                    throw GatewayError(400, "\(error)")
                }
                guard let text else {
                    throw GatewayError(404, "no cost report '\(kind)': summary, daily, by-provider, by-model, alerts or entries")
                }
                do { return try JSON.parse(text) } catch { throw GatewayError(500, "the cost report could not be read back: \(error)") }
            }
        }
        api.get("/rate-limits") { request, _ in
            await self.seed(request) { _ in
                let statuses = await self.runtime.health?.status() ?? []
                return .object(["limits": .object(JSONObject(statuses.map { .init(key: $0.provider, value: Self.limits($0)) }))])
            }
        }
        api.get("/rate-limits/:id") { request, context in
            await self.seed(request) { _ in
                let id = try self.knownProvider(context.parameters.get("id") ?? "")
                return Self.named(id, Self.limits(await self.status(of: id)))
            }
        }
        api.post("/rate-limits/:id/reset") { request, context in
            await self.seed(request, admin: true) { _ in
                let id = try self.knownProvider(context.parameters.get("id") ?? "")
                await self.runtime.health?.reset(id)
                return .object(["status": .string("success"), "provider_id": .string(id),
                                "message": .string("Rate limits and the circuit breaker reset successfully")])
            }
        }
    }

    /// Runs `body` for an authenticated client (an admin when `admin`), with the request's JSON
    /// body when it has one; a refusal becomes the seed's error shape.
    func seed(_ request: Request, admin: Bool = false,
              _ body: @Sendable (JSON) async throws -> JSON) async -> Response {
        var request = request
        let requestID = Self.requestID(request)
        do {
            let client = try authenticate(request)
            if admin, client.role != .admin {
                throw GatewayError(403, "this needs an admin key; \(client.name)'s role is \(client.role.rawValue)", type: "permission_error")
            }
            var json = JSON.object([:])
            if request.method == .post || request.method == .patch {
                let bytes = try await Self.body(of: &request)
                if bytes.readableBytes > 0 {
                    do { json = try JSON.parse(Array(buffer: bytes)) } catch { throw GatewayError(400, "the body is not JSON: \(error)") }
                }
            }
            var headers: HTTPFields = [:]
            headers[Self.requestIDHeader] = requestID
            return Self.json(200, try await body(json).serialized, headers: headers)
        } catch let error as GatewayError {
            return Self.failure(error, requestID: requestID, seed: true)
        } catch {
            return Self.failure(GatewayError(500, "\(error)"), requestID: requestID, seed: true)
        }
    }

    func knownProvider(_ id: String) throws(GatewayError) -> String {
        let id = id.lowercased()
        guard runtime.workspace.providers.names.contains(id) else {
            throw GatewayError(404, "no provider '\(id)'; GET /api/v1/providers lists them")
        }
        return id
    }

    func status(of provider: String) async -> ProviderStatus {
        await runtime.health?.status().first { $0.provider == provider }
            ?? ProviderStatus(provider: provider, breaker: .closed, consecutiveFailures: 0, requestsInWindow: 0, limit: nil,
                              blockedUntil: nil, lastRateHeaders: [:], ttftP50: nil, ttftP95: nil, lastError: nil, successes: 0, failures: 0)
    }

    /// `GET /config`: the settings that shape requests, with no key in them.
    func config() -> JSON {
        let workspace = runtime.workspace
        let config = workspace.config
        let retry = config.retry
        return .object([
            "version": .string(PersonaVersion.number),
            "global": .object([
                "default_model": config.defaultModel.map { .string($0.description) } ?? .null,
                "default_personas": .array(config.defaultPersonas.map(JSON.string)),
                "max_retries": .int(retry.maxRetries),
                "budget": .object(["daily_usd": config.budget.dailyUSD.map(JSON.decimal) ?? .null,
                                   "session_usd": config.budget.sessionUSD.map(JSON.decimal) ?? .null,
                                   "warn_at": .decimal(config.budget.warnAt)]),
            ]),
            "providers": .object(JSONObject(workspace.providers.names.map { name in
                let endpoint = try? workspace.providers.endpoint(for: name)
                return .init(key: name, value: .object([
                    "enabled": .bool(endpoint != nil && !runtime.disabled.contains(name)),
                    "type": endpoint.map { .string($0.type.rawValue) } ?? .null,
                    "api_key_env": endpoint.map { .string($0.apiKeyEnv) } ?? .null,
                    "api_key_set": .bool(endpoint?.apiKey != nil),
                ]))
            })),
            "failover_chains": .object(JSONObject(config.failoverChains.keys.sorted().map { name in
                .init(key: name, value: .array(config.failoverChains[name, default: []].map { .string($0.description) }))
            })),
            "personas": .array(workspace.personas.map { .string($0.id) }),
        ])
    }

    func configStatus() -> JSON {
        let workspace = runtime.workspace
        let enabled = workspace.providers.names.filter { (try? workspace.providers.endpoint(for: $0)) != nil && !runtime.disabled.contains($0) }
        return .object([
            "loaded": .bool(true), "config_path": .string(workspace.paths.configFile), "version": .string(PersonaVersion.number),
            "last_reload": .string(Self.iso(runtime.loaded)), "providers_count": .int(workspace.providers.names.count),
            "enabled_providers": .array(enabled.map(JSON.string)),
            "validation_status": .string(workspace.configHasErrors ? "invalid" : "valid"),
        ])
    }

    func providerObjects(includeModels: Bool) async -> [JSON] {
        var objects: [JSON] = []
        for name in runtime.workspace.providers.names {
            if let object = try? await provider(name, detailed: includeModels) { objects.append(object) }
        }
        return objects
    }

    func provider(_ name: String, detailed: Bool) async throws(GatewayError) -> JSON {
        let id = try knownProvider(name)
        let workspace = runtime.workspace
        let endpoint = try? workspace.providers.endpoint(for: id)
        let status = await status(of: id)
        var object: [String: JSON] = [
            "id": .string(id), "type": endpoint.map { .string($0.type.rawValue) } ?? .null,
            "enabled": .bool(endpoint != nil && !runtime.disabled.contains(id)),
            "usable": .bool(endpoint != nil), "healthy": .bool(status.breaker == .closed),
            "models_count": .int(models(of: id).count),
            "default_model": workspace.config.defaultModel.flatMap { $0.provider == id ? .string($0.model) : nil } ?? .null,
            "capabilities": .object(["supports_streaming": .bool(true), "supports_function_calling": .bool(true),
                                     "supports_json_mode": .bool(true), "supports_system_prompt": .bool(true)]),
        ]
        if detailed {
            object["base_url"] = endpoint.map { .string($0.baseURL) } ?? .null
            object["api_key_env"] = endpoint.map { .string($0.apiKeyEnv) } ?? .null
            object["rate_limits"] = .object(["requests_per_minute": status.limit?.requests.map(JSON.int) ?? .null,
                                             "tokens_per_minute": status.limit?.tokens.map(JSON.int) ?? .null])
            object["models"] = .array(models(of: id))
            object["health"] = Self.health(status)
        }
        return .object(JSONObject(object.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: $0.value) }))
    }

    /// A provider's models as the catalog prices them, exactly, per million tokens and per thousand.
    func models(of provider: String) -> [JSON] {
        let defaultModel = runtime.workspace.config.defaultModel
        return runtime.catalog.all.filter { $0.key.provider == provider && !$0.key.model.contains("*") }.map { price in
            func perMillion(_ picos: Int64) -> JSON { .number(Money.exactText(picos * 1_000_000)) }
            func perThousand(_ picos: Int64) -> JSON { .number(Money.exactText(picos * 1_000)) }
            return .object([
                "id": .string(price.key.model), "context_window": price.contextWindow.map(JSON.int) ?? .null,
                "max_output_tokens": price.maxOutput.map(JSON.int) ?? .null, "is_default": .bool(price.key == defaultModel),
                "pricing": .object(["input_per_million": perMillion(price.prices.input), "output_per_million": perMillion(price.prices.output),
                                    "input_per_1k": perThousand(price.prices.input), "output_per_1k": perThousand(price.prices.output),
                                    "cached_input_per_million": price.prices.cachedInput.map(perMillion) ?? .null]),
            ])
        }
    }

    static func health(_ status: ProviderStatus) -> JSON {
        let total = status.successes + status.failures
        return .object([
            "status": .string(status.breaker == .closed ? (status.consecutiveFailures > 0 ? "degraded" : "healthy") : "unhealthy"),
            "circuit_breaker": .string(status.breaker.rawValue), "consecutive_failures": .int(status.consecutiveFailures),
            "latency_ms": status.ttftP50.map { .int(Int(($0 * 1000).rounded())) } ?? .null,
            "ttft_p95_ms": status.ttftP95.map { .int(Int(($0 * 1000).rounded())) } ?? .null,
            "error_rate": total > 0 ? .double(Double(status.failures) / Double(total)) : .null,
            "last_error": status.lastError.map { .string(Secrets.redact($0)) } ?? .null,
        ])
    }

    static func limits(_ status: ProviderStatus) -> JSON {
        let reset = JSON.string(iso(Date().addingTimeInterval(status.limit?.window ?? 60)))
        var object: [JSONObject.Member] = []
        if let limit = status.limit?.requests {
            object.append(.init(key: "requests_per_minute", value: .object([
                "limit": .int(limit), "used": .int(status.requestsInWindow), "remaining": .int(max(0, limit - status.requestsInWindow)),
                "reset_at": reset])))
        }
        if let limit = status.limit?.tokens {
            object.append(.init(key: "tokens_per_minute", value: .object([
                "limit": .int(limit), "used": .int(status.tokensInWindow), "remaining": .int(max(0, limit - status.tokensInWindow)),
                "reset_at": reset])))
        }
        object.append(.init(key: "blocked_until", value: status.blockedUntil.map { .string(iso($0)) } ?? .null))
        object.append(.init(key: "provider_headers", value: .object(JSONObject(status.lastRateHeaders.sorted { $0.key < $1.key }
            .map { .init(key: $0.key, value: .string($0.value)) }))))
        return .object(JSONObject(object))
    }

    /// `GET /costs/alerts`: today's spend against the daily cap, past its warning point or over it.
    func alerts() throws(GatewayError) -> JSON {
        let budget = runtime.workspace.config.budget
        guard let ledger = runtime.ledger, let cap = budget.dailyUSD.flatMap({ Money.picos(dollars: $0) }), cap > 0 else {
            return .object(["alerts": .array([])])
        }
        let today: CostTotals
        do { today = try ledger.totals(in: .day()) } catch { throw GatewayError(503, "the ledger cannot be read: \(error)") }
        let warnAt = Money.picos(dollars: budget.dailyUSD! * budget.warnAt) ?? cap
        guard today.picos >= warnAt else { return .object(["alerts": .array([])]) }
        let over = today.picos >= cap
        let percent = Int((Double(today.picos) / Double(cap) * 100).rounded())
        return .object(["alerts": .array([.object([
            "type": .string(over ? "daily_budget_exceeded" : "daily_budget_warning"), "provider": .null,
            "threshold": .number(Money.exactText(cap)), "current_value": .number(Money.exactText(today.picos)),
            "timestamp": .string(Self.iso(Date())),
            "message": .string("Daily cost \(Money.format(picos: today.picos)) has reached \(percent)% of budget \(Money.format(picos: cap))"),
        ])])])
    }

    /// `object` with the provider's id first.
    static func named(_ id: String, _ object: JSON) -> JSON {
        .object(JSONObject([.init(key: "provider_id", value: .string(id))] + (object.object?.members ?? [])))
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
