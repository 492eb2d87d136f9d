import Foundation

/// A problem that stops a command before anything is sent; it exits with code 2.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A persona with the endpoint and model it answers with, and where to fail over to.
public struct Participant: Sendable {
    public var persona: Persona
    public var endpoint: ProviderEndpoint
    public var model: ModelRef
    public var fallbacks: [Route]

    public init(persona: Persona, endpoint: ProviderEndpoint, model: ModelRef, fallbacks: [Route] = []) {
        self.persona = persona
        self.endpoint = endpoint
        self.model = model
        self.fallbacks = fallbacks
    }
}

/// The one place that decides who answers, with which model, and what each request holds, for
/// `ask`, `debate`, the chat screen and `--resume` alike.
///
/// The overrides, in order: a pane's `/model` for its persona; `--model` for every participant;
/// a persona's own model; `default_model`. The judge and the moderator keep a model of their own,
/// else follow `--model`, else `default_model`, else the first participant's.
public struct TurnPlanner: Sendable {
    public let workspace: Workspace
    /// `--model`.
    public let model: ModelRef?
    /// `--schema`: the shape of every participant's answers, in place of their own.
    public let schema: AnswerSchema?

    public init(workspace: Workspace, model: ModelRef? = nil, schema: AnswerSchema? = nil) {
        self.workspace = workspace
        self.model = model
        self.schema = schema
    }

    /// With `--model` and `--schema` as given; a malformed one is a usage error.
    public init(workspace: Workspace, model text: String?, schemaFile: String? = nil) throws {
        let model: ModelRef?
        do { model = try text.map(ModelRef.init(parsing:)) } catch { throw UsageError("--model: \(error)") }
        var schema: AnswerSchema?
        if let schemaFile {
            switch AnswerSchema.load(file: schemaFile) {
            case .success(let loaded): schema = loaded
            case .failure(let problem): throw UsageError("--schema: \(problem)")
            }
        }
        self.init(workspace: workspace, model: model, schema: schema)
    }

    public static let adHocPersona = Persona(id: "assistant", name: "Assistant", card: "A helpful general assistant.",
                                             systemPrompt: "You are a helpful, concise assistant.")

    // MARK: Who answers

    /// `--personas` by id or name; else one ad-hoc assistant when only `--model` is given; else
    /// the config's `default_personas`.
    public func participants(named names: [String]) throws -> [Participant] {
        if let configError = workspace.configIssues.first(where: { $0.severity == .error }) {
            throw UsageError("the config has errors; fix them first:\n  \(configError)")
        }
        let personas: [Persona]
        if !names.isEmpty {
            personas = try names.map(find)
        } else if model != nil {
            personas = [Self.adHocPersona]
        } else if !workspace.config.defaultPersonas.isEmpty {
            personas = try workspace.config.defaultPersonas.map(find)
        } else {
            throw UsageError("no personas chosen: pass --personas a,b (see `persona personas list`), pass --model provider:model "
                + "for a one-off assistant, or set default_personas in \(workspace.paths.configFile)")
        }
        return try participants(personas)
    }

    /// A saved session's roster, each on the model it had, unless `--model` says otherwise.
    public func participants(resuming session: SessionInfo) throws -> [Participant] {
        let personas = try session.roster.map { try find($0.persona) }
        let saved = Dictionary(session.roster.map { ($0.persona, $0.model) }, uniquingKeysWith: { first, _ in first })
        return try participants(personas, models: model == nil ? saved : [:])
    }

    /// Each persona on its model: `models[id]` (a pane's `/model`), else `--model`, else its own,
    /// else `default_model`. Repeats are dropped; a missing model or key names what to set.
    public func participants(_ personas: [Persona], models: [String: ModelRef] = [:]) throws -> [Participant] {
        var seen: Set<String> = []
        return try personas.filter { seen.insert($0.id).inserted }.map { persona in
            var persona = persona
            if let schema { persona.schema = schema }
            return try participant(persona, model: models[persona.id] ?? model ?? persona.model ?? workspace.config.defaultModel)
        }
    }

    /// The judge or the moderator, in a conversation whose first participant answers with `firstModel`.
    public func supporting(_ name: String, firstModel: ModelRef?) throws -> Participant {
        let persona = try find(name)
        return try participant(persona, model: persona.model ?? model ?? workspace.config.defaultModel ?? firstModel)
    }

    private func participant(_ persona: Persona, model: ModelRef?) throws -> Participant {
        var persona = persona
        persona.schemaRepair = persona.schemaRepair ?? workspace.config.schemaRepair
        guard let model else {
            throw UsageError("persona '\(persona.id)' (\(persona.file ?? "ad hoc")) has no model: add `model: provider:model` "
                + "to its front matter, set default_model in \(workspace.paths.configFile), or pass --model")
        }
        let endpoint: ProviderEndpoint
        do { endpoint = try workspace.providers.endpoint(for: model.provider) } catch {
            throw UsageError("persona '\(persona.id)': \(error)")
        }
        return Participant(persona: persona, endpoint: endpoint, model: model, fallbacks: fallbacks(for: persona, model: model))
    }

    /// The fallback chain for a model: the persona's `fallback:` list, else the models after it in
    /// a `failover_chains` entry that contains it (a chain named after the persona first). Models
    /// whose provider cannot be used here (no key) are left out.
    func fallbacks(for persona: Persona, model: ModelRef) -> [Route] {
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

    /// A persona by id or name; an error explains a missing or broken one.
    public func find(_ name: String) throws -> Persona {
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

    // MARK: Plans

    /// A conversation among `participants` for `rounds` rounds (nil: a single parallel round, as
    /// the chat screen runs one): the judge, and in moderated mode the moderator (`moderator`,
    /// else the persona named moderator). Consensus is read from `consensusField` (`--consensus-field`,
    /// which every participant's schema must have), else from the config's where they all have it.
    public func conversation(id: String, topic: String, mode: ConversationMode, rounds: Int?, participants: [Participant],
                             judge: Participant? = nil, moderator: String? = nil, maxTokens: Int? = nil,
                             consensusField: String? = nil, council overrides: CouncilOverrides = CouncilOverrides()) throws -> DebatePlan {
        guard !topic.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw UsageError("the topic is empty") }
        guard (rounds ?? 1) >= 1 else { throw UsageError("--rounds must be at least 1") }
        guard !participants.isEmpty else { throw UsageError("a conversation needs --personas a,b,… (see `persona personas list`)") }
        func answers(_ participant: Participant, in field: String) -> Bool { participant.persona.schema?.schema["properties"]?[field] != nil }
        if let field = consensusField {
            for participant in participants where !answers(participant, in: field) {
                throw UsageError("consensus_field \(field): persona '\(participant.persona.id)' "
                    + (participant.persona.schema == nil ? "has no schema; give it one (schema: or --schema)"
                        : "has a schema without a property '\(field)'"))
            }
        }
        var moderatorMember: Participant?
        if mode == .moderated {
            do {
                moderatorMember = try supporting(moderator ?? "moderator", firstModel: participants.first?.model)
            } catch {
                throw UsageError("moderated mode needs a moderator persona (a moderator.md persona file, or --moderator NAME): \(error)")
            }
        }
        var council: CouncilPlan?
        if mode == .council {
            guard judge == nil else { throw UsageError("a council is chaired, not judged: use --chairman NAME in place of --judge") }
            guard participants.count >= CouncilPlan.minimumMembers else {
                throw UsageError("a council needs at least \(CouncilPlan.minimumMembers) members, and this one has \(participants.count): "
                    + "add personas with --personas a,b,c")
            }
            let name = overrides.chairman ?? workspace.config.chairman
            let chairman = try name.map { try supporting($0, firstModel: participants.first?.model) } ?? participants[0]
            council = CouncilPlan(chairman: chairman, reviewOrders: overrides.reviewOrders ?? workspace.config.reviewOrders,
                                  selfReview: overrides.selfReview ?? workspace.config.selfReview,
                                  seed: overrides.seed ?? UInt64.random(in: 0...UInt64.max))
        }
        let info = SessionInfo(id: id, mode: mode, topic: topic,
                               roster: participants.map { SessionInfo.Member(persona: $0.persona.id, name: $0.persona.name, model: $0.model) },
                               rounds: rounds, judge: judge?.persona.id)
        return DebatePlan(session: info, participants: participants, mode: mode, rounds: rounds ?? 1, judge: judge,
                          moderator: moderatorMember, maxTokens: maxTokens, promptCache: workspace.config.promptCache,
                          // The config's field holds where every participant answers in it.
                          consensusField: consensusField ?? workspace.config.consensusField.flatMap { field in
                              participants.allSatisfy { answers($0, in: field) } ? field : nil
                          }, council: council)
    }

    /// `ask`'s turns: the prompt to each participant at once. A one-off question is not asked
    /// again, so only the persona's pinned system prompt is marked for the provider's cache.
    public func questions(_ prompt: String, to participants: [Participant], session: String, maxTokens: Int? = nil,
                          temperature: Double? = nil, catalog: PriceCatalog?) throws -> [PlannedTurn] {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw UsageError("the prompt is empty") }
        return participants.map { participant in
            Self.turn(participant, messages: [ChatMessage(role: .user, content: prompt)], session: session, maxTokens: maxTokens,
                      temperature: temperature, promptCache: workspace.config.promptCache, cacheThroughLastMessage: false,
                      catalog: catalog)
        }
    }

    /// One turn of `speaker`: its request from `messages`, its oldest middle turns left out to fit
    /// the model's window when the price catalog knows it, and its prompt marked for the cache
    /// (through the last message when the conversation will be read back next turn).
    public static func turn(_ speaker: Participant, messages: [ChatMessage], session: String, round: Int = 1,
                            role: TranscriptMessage.Role = .persona, maxTokens: Int?, temperature: Double? = nil,
                            promptCache: PromptCacheSetting, cacheThroughLastMessage: Bool, catalog: PriceCatalog?) -> PlannedTurn {
        let persona = speaker.persona
        let price = catalog?.price(for: speaker.model)
        let maxTokens = maxTokens ?? persona.maxTokens
        let (trimmed, dropped) = PromptBuilder.trim(messages, system: persona.systemPrompt,
                                                   room: price?.promptRoom(maxOutput: maxTokens ?? price?.maxOutput.map { min($0, 4096) }))
        let request = ChatRequest(model: speaker.model.model, system: persona.systemPrompt, messages: trimmed, maxTokens: maxTokens,
                                  temperature: temperature ?? persona.temperature,
                                  promptCache: PromptCachePlan(promptCache, throughLastMessage: cacheThroughLastMessage),
                                  responseFormat: persona.schema?.responseFormat)
        return PlannedTurn(session: session, persona: persona, endpoint: speaker.endpoint, request: request, round: round, role: role,
                           droppedTurns: dropped, fallbacks: speaker.fallbacks)
    }
}
