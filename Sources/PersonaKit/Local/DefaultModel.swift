import Foundation

/// The model Persona uses when no config, persona or flag names one, and why.
public struct DefaultChoice: Sendable, Equatable {
    public var model: ModelRef
    /// Why this source was chosen, in a sentence the user can act on.
    public var reason: String
}

/// Why no default could be chosen: the ways forward, for a screen of their own.
public struct NoDefaultModel: Error, Sendable, CustomStringConvertible {
    public var description: String {
        """
        Persona has no model to talk to yet. Any one of these will do:

          1. Set an API key, for example:
               export ANTHROPIC_API_KEY=…   (or OPENAI_API_KEY, GEMINI_API_KEY, GROQ_API_KEY, OPENROUTER_API_KEY)

          2. Start Ollama (https://ollama.com) and pull a model:
               ollama serve & ollama pull llama3.2
             Persona finds it at OLLAMA_HOST or localhost:11434.

          3. Set up the small local model that runs on this machine (no key, no network once set up):
               persona local setup      (builds llama.cpp: about 10 to 16 minutes on 2 cores)

        Then run persona again. `persona doctor` shows what Persona can see.
        """
    }
}

public enum DefaultModel {
    /// Each key's provider and its cheapest model that still debates well, in the order checked.
    public static let byKey: [(provider: String, model: String)] = [
        ("anthropic", "claude-haiku-5-5"), ("openai", "gpt-6-luna"), ("gemini", "gemini-2.5-flash-lite"),
        ("groq", "openai/gpt-oss-20b"), ("openrouter", "openai/gpt-4o-mini"),
    ]

    /// A key, else Ollama with a model it already has, else the local server (started if it is
    /// installed but not running). A model the catalog says is retired is never chosen: its
    /// successor is.
    public static func resolve(directory: ProviderDirectory, local: LocalServer, startLocal: Bool,
                               catalog: PriceCatalog? = nil, today: String = PriceUpdate.localDay()) async throws -> DefaultChoice {
        for (provider, model) in byKey {
            guard let preset = ProviderPreset.named(provider),
                  let variable = preset.keyEnvironment.first(where: { !(directory.environment[$0] ?? "").isEmpty }) else { continue }
            let listed = ModelRef(provider: provider, model: model)
            let chosen = catalog?.replacement(for: listed, on: today) ?? listed
            return DefaultChoice(model: chosen, reason: "\(variable) is set, so \(chosen), the cheapest good \(provider) model")
        }
        if let endpoint = try? directory.endpoint(for: "ollama"), let model = await ollamaModel(endpoint) {
            return DefaultChoice(model: ModelRef(provider: "ollama", model: model),
                                 reason: "no API key is set, and Ollama at \(endpoint.baseURL) has \(model)")
        }
        if let running = local.running {
            return DefaultChoice(model: ModelRef(provider: "local", model: LocalServer.modelName),
                                 reason: "no API key is set and Ollama is not running, so the local server on port \(running.port)")
        }
        if startLocal, local.isInstalled || directory.environment["PERSONA_LOCAL_SERVER"] != nil {
            let running = try await local.start(environment: directory.environment)
            return DefaultChoice(model: ModelRef(provider: "local", model: LocalServer.modelName),
                                 reason: "no API key is set and Ollama is not running, so the local server, started on port \(running.port)")
        }
        throw NoDefaultModel()
    }

    /// The first chat model Ollama has, or nil when Ollama does not answer within a second.
    static func ollamaModel(_ endpoint: ProviderEndpoint) async -> String? {
        var body: [UInt8] = []
        do {
            for try await part in CurlTransport.shared.stream(HTTPRequest(method: "GET", url: endpoint.url("/api/tags")),
                                                            timeouts: TransportTimeouts(connect: 1, idle: 1)) {
                if case .body(let bytes) = part { body += bytes }
            }
        } catch {
            return nil
        }
        let names = (try? JSON.parse(body))?["models"]?.array?.compactMap { $0["name"]?.string } ?? []
        return names.first { !$0.contains("embed") } ?? names.first
    }
}
