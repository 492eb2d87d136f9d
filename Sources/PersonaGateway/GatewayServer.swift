import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import PersonaKit
import ServiceLifecycle

/// `persona serve`: the OpenAI-compatible gateway over HTTP. Requests run through the client's
/// engine, with the same planner, catalog, resilience, budget and ledger as `persona ask`.
public struct GatewayServer: Sendable {
    public let runtime: GatewayRuntime
    /// Bodies larger than this get a 413.
    static let bodyLimit = 4 * 1024 * 1024

    public init(runtime: GatewayRuntime) {
        self.runtime = runtime
    }

    /// Serves until SIGTERM or SIGINT; then it stops accepting, gives the streams in flight up
    /// to 10 s to finish (a stream cut then is recorded as stopped), and returns.
    /// `listening` is told the address once the socket is bound (`--port 0` picks a free one).
    public func run(host: String, port: Int, listening: @escaping @Sendable (String) -> Void) async throws {
        CurlTransport.shared.cadence = TurnResponse.readingCadence
        CurlTransport.shared.firstTokenCadence = TurnResponse.firstTokenCadence
        let router = Router(context: GatewayContext.self)
        router.get("/v1/models") { request, _ in
            try self.respond(request) { _ in self.models() }
        }
        router.post("/v1/chat/completions") { request, context in
            await self.answer(request, context, shape: .openAI)
        }
        router.post("/v1/embeddings") { request, _ in await self.embeddings(request, seed: false) }
        let api = router.group("/api/v1")
        api.post("/embeddings") { request, _ in await self.embeddings(request, seed: true) }
        api.post("/generate") { request, context in await self.answer(request, context, shape: .generate) }
        api.post("/generate/stream") { request, context in await self.answer(request, context, shape: .generate, alwaysStreams: true) }
        api.post("/chat") { request, context in await self.answer(request, context, shape: .chat) }
        addSeedRoutes(to: api)
        addSocketRoutes(to: router)
        let app = Application(router: router, server: .http1WebSocketUpgrade { head, _, _ in self.upgrade(head) },
                              configuration: .init(address: .hostname(host, port: port), serverName: "persona"),
                              onServerRunning: { channel in
                                  let bound = channel.localAddress?.port ?? port
                                  listening("http://\(host.contains(":") ? "[\(host)]" : host):\(bound)")
                              }, logger: Self.quietLogger())
        var group = ServiceGroupConfiguration(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint],
                                              logger: Self.quietLogger())
        // Past this, the streams still open are cut; each is recorded as stopped.
        group.maximumGracefulShutdownDuration = .seconds(10)
        try await ServiceGroup(configuration: group).run()
    }

    /// A request that asks a model: authenticated, read, planned and run; every refusal on the
    /// way is told in the route's error shape.
    func answer(_ request: Request, _ context: GatewayContext, shape: ChatCompletionRequest.Shape, alwaysStreams: Bool = false) async -> Response {
        let completions = runtime.completions
        var request = request
        let requestID = Self.requestID(request)
        var format: ReplyFormat = shape == .openAI ? .openAI(includeUsage: false) : shape == .generate ? .generate : .chat
        do throws(GatewayError) {
            let client = try authenticate(request)
            let bytes = try await Self.body(of: &request)
            let body = try ChatCompletionRequest.parse(Array(buffer: bytes), shape: shape)
            if shape == .openAI { format = .openAI(includeUsage: body.includeUsage) }
            let steering = ChatCompletions.Steering(persona: request.headers[Self.personaHeader], provider: request.headers[Self.providerHeader],
                                                    model: request.headers[Self.modelHeader],
                                                    failoverChain: request.headers[Self.failoverHeader], requestID: requestID)
            let turn = try completions.plan(body, steering: steering, client: client)
            return await TurnResponse(turn: turn, stream: alwaysStreams || body.stream, format: format, engine: client.engine,
                                      requestID: requestID, eventLoop: context.eventLoop).response()
        } catch {
            return format.error(error, requestID: requestID)
        }
    }

    /// The request's body, up to `bodyLimit`; a larger one is a 413.
    static func body(of request: inout Request) async throws(GatewayError) -> ByteBuffer {
        do { return try await request.collectBody(upTo: bodyLimit) } catch {
            throw GatewayError(413, "the body is over \(bodyLimit / 1024 / 1024) MB")
        }
    }

    static let personaHeader = HTTPField.Name("X-Persona")!
    static let failoverHeader = HTTPField.Name("X-Failover-Chain")!
    static let providerHeader = HTTPField.Name("X-Provider")!
    static let modelHeader = HTTPField.Name("X-Model")!
    static let requestIDHeader = HTTPField.Name("X-Request-ID")!
    static let apiKeyHeader = HTTPField.Name("X-API-Key")!

    /// The client's `X-Request-ID`, else a new one.
    static func requestID(_ request: Request) -> String {
        let given = request.headers[requestIDHeader].map { String($0.prefix(128)) }
        return given.flatMap { $0.isEmpty ? nil : $0 } ?? "req_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    func authenticate(_ request: Request) throws(GatewayError) -> GatewayClient {
        try runtime.clients.authenticate(apiKey: request.headers[Self.apiKeyHeader], authorization: request.headers[.authorization])
    }

    /// Runs `body` for an authenticated client; a refusal becomes its error response.
    func respond(_ request: Request, _ body: (GatewayClient) throws(GatewayError) -> Response) throws -> Response {
        do { return try body(try authenticate(request)) } catch { return Self.failure(error, requestID: Self.requestID(request)) }
    }

    /// `GET /v1/models`: the catalog's models whose provider can be used here, and every persona
    /// as `persona/<id>`.
    func models() -> Response {
        let (workspace, catalog) = (runtime.workspace, runtime.catalog)
        let providers = Set(catalog.all.map(\.key.provider)).filter { (try? workspace.providers.endpoint(for: $0)) != nil }
        // A `provider:*` entry prices every model of a local server; it names no model to ask for.
        var data: [JSON] = catalog.all.filter { providers.contains($0.key.provider) && !$0.key.model.contains("*") }.map { price in
            .object(["id": .string(price.key.description), "object": .string("model"), "created": .int(0), "owned_by": .string(price.key.provider)])
        }
        data += workspace.personas.map { persona in
            .object(["id": .string("persona/" + persona.id), "object": .string("model"), "created": .int(0), "owned_by": .string("persona")])
        }
        return Self.json(200, JSON.object(["object": .string("list"), "data": .array(data)]).serialized)
    }

    static func json(_ status: Int, _ text: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    /// A refusal in the shape of its route: the seed API's (`seed`), else OpenAI's.
    static func failure(_ error: GatewayError, requestID: String, seed: Bool = false, provider: String? = nil) -> Response {
        var headers: HTTPFields = [:]
        headers[requestIDHeader] = requestID
        if error.status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        let body = seed ? SeedWire.error(error, requestID: requestID, provider: provider) : OpenAIWire.error(error, requestID: requestID)
        return json(error.status, body, headers: headers)
    }

    /// Who answered, and, where the provider has a request limit, what is left of it and when
    /// its window ends (a Unix time).
    static func answerHeaders(_ model: ModelRef, requestID: String, health: ProviderHealth?) async -> HTTPFields {
        var headers: HTTPFields = [:]
        headers[requestIDHeader] = requestID
        headers[HTTPField.Name("X-Provider-Used")!] = model.provider
        headers[HTTPField.Name("X-Model-Used")!] = model.model
        if let status = await health?.status().first(where: { $0.provider == model.provider }), let limit = status.limit,
           let requests = limit.requests {
            headers[HTTPField.Name("X-RateLimit-Remaining")!] = String(max(0, requests - status.requestsInWindow))
            headers[HTTPField.Name("X-RateLimit-Reset")!] = String(Int(Date().addingTimeInterval(limit.window).timeIntervalSince1970))
        }
        return headers
    }

    /// Hummingbird's own log lines would tear the `--json` output; errors reach clients instead.
    static func quietLogger() -> Logger {
        var logger = Logger(label: "persona-serve")
        logger.logLevel = .critical
        return logger
    }
}
