import Foundation
import PersonaKit

/// Who takes part: personas resolved to models and endpoints, shared by `ask` and `chat`.
public enum Roster {
    public static let adHocPersona = Persona(id: "assistant", name: "Assistant", card: "A helpful general assistant.",
                                             systemPrompt: "You are a helpful, concise assistant.")

    /// The roster a command runs with: `--personas` by id or name, else one ad-hoc assistant when
    /// only `--model` is given, else the config's `default_personas`.
    public static func select(personas names: [String], model: String?, workspace: Workspace) throws -> [RosterMember] {
        if let configError = workspace.configIssues.first(where: { $0.severity == .error }) {
            throw UsageError("the config has errors; fix them first:\n  \(configError)")
        }
        let override: ModelRef?
        do { override = try model.map(ModelRef.init(parsing:)) } catch { throw UsageError("--model: \(error)") }
        let personas: [Persona]
        if !names.isEmpty {
            personas = try names.map { try find($0, in: workspace) }
        } else if override != nil {
            personas = [adHocPersona]
        } else if !workspace.config.defaultPersonas.isEmpty {
            personas = try workspace.config.defaultPersonas.map { try find($0, in: workspace) }
        } else {
            throw UsageError("no personas chosen: pass --personas a,b (see `persona personas list`), pass --model provider:model "
                + "for a one-off assistant, or set default_personas in \(workspace.paths.configFile)")
        }
        return try roster(personas, override: override, workspace: workspace)
    }

    /// A persona with the model it answers with, the endpoint that reaches it, and where to fail
    /// over to.
    public struct RosterMember: Sendable {
        public var persona: Persona
        public var model: ModelRef
        public var endpoint: ProviderEndpoint
        public var fallbacks: [Route] = []
    }

    /// The fallback chain for a model: the persona's `fallback:` list, else the models after it in
    /// a `failover_chains` entry that contains it (a chain named after the persona first). Models
    /// whose provider cannot be used here (no key) are left out.
    static func fallbacks(for persona: Persona, model: ModelRef, workspace: Workspace) -> [Route] {
        var chain = persona.fallback
        if chain.isEmpty {
            let chains = workspace.config.failoverChains
            let named = chains[persona.id].map { [$0] } ?? []
            for candidate in named + chains.keys.sorted().compactMap({ chains[$0] }) {
                if let position = candidate.firstIndex(of: model) {
                    chain = Array(candidate[(position + 1)...])
                    break
                }
                if candidate == named.first {
                    chain = candidate
                    break
                }
            }
        }
        return chain.filter { $0 != model }.compactMap { ref in
            (try? workspace.providers.endpoint(for: ref.provider)).map { Route(endpoint: $0, model: ref) }
        }
    }

    /// Resolves each persona's model (the override, its own, or default_model) and endpoint,
    /// dropping repeats; a missing model or key is an error naming what to set.
    public static func roster(_ personas: [Persona], override: ModelRef?, workspace: Workspace) throws -> [RosterMember] {
        var seen: Set<String> = []
        return try personas.filter { seen.insert($0.id).inserted }.map { persona in
            guard let model = override ?? persona.model ?? workspace.config.defaultModel else {
                throw UsageError("persona '\(persona.id)' (\(persona.file ?? "ad hoc")) has no model: add `model: provider:model` "
                    + "to its front matter, set default_model in \(workspace.paths.configFile), or pass --model")
            }
            let endpoint: ProviderEndpoint
            do { endpoint = try workspace.providers.endpoint(for: model.provider) } catch {
                throw UsageError("persona '\(persona.id)': \(error)")
            }
            return RosterMember(persona: persona, model: model, endpoint: endpoint,
                                fallbacks: fallbacks(for: persona, model: model, workspace: workspace))
        }
    }

    /// A persona by id or name; an error explains a missing or broken one.
    public static func find(_ name: String, in workspace: Workspace) throws -> Persona {
        if let persona = workspace.persona(named: name) { return persona }
        let wanted = name.lowercased()
        if let broken = workspace.personaIssues.first(where: {
            URL(fileURLWithPath: $0.file).deletingPathExtension().lastPathComponent.lowercased() == wanted && $0.severity == .error
        }) {
            throw UsageError("persona '\(name)' did not load:\n  \(broken)")
        }
        let available = workspace.personas.map(\.id).joined(separator: ", ")
        throw UsageError("no persona named '\(name)'. Available: \(available.isEmpty ? "none" : available)")
    }
}
