import Foundation

/// Where Persona keeps its files: `--home`, else `$PERSONA_HOME`, else `~/.persona`.
public struct PersonaPaths: Sendable, Equatable {
    public var home: String
    public var configFile: String
    /// True when `--config` named the file, which then must exist.
    public var configExplicit: Bool

    public var personasDirectory: String { home + "/personas" }
    public var database: String { home + "/persona.db" }

    public static func resolve(home: String?, config: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> PersonaPaths {
        let cwd = FileManager.default.currentDirectoryPath
        let homeDirectory = home.map { Config.resolvePath($0, relativeTo: cwd) }
            ?? environment["PERSONA_HOME"].flatMap { $0.isEmpty ? nil : Config.resolvePath($0, relativeTo: cwd) }
            ?? Config.resolvePath("~/.persona", relativeTo: cwd)
        let configFile = config.map { Config.resolvePath($0, relativeTo: cwd) } ?? homeDirectory + "/config.yaml"
        return PersonaPaths(home: homeDirectory, configFile: configFile, configExplicit: config != nil)
    }
}

/// The personas that ship with Persona, in the `personas/` folder of the checkout it was built from.
public enum BundledPersonas {
    /// Finds the folder by walking up from the executable to the package root (`Package.swift`
    /// beside `personas/`). `PERSONA_BUNDLED_PERSONAS` overrides it.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let override = environment["PERSONA_BUNDLED_PERSONAS"] { return override.isEmpty ? nil : override }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var directory = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? executable.path).deletingLastPathComponent()
        for _ in 0..<8 {
            let candidate = directory.appendingPathComponent("personas")
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path),
               FileManager.default.fileExists(atPath: candidate.path) {
                return candidate.path
            }
            directory.deleteLastPathComponent()
        }
        return nil
    }
}

/// Config, personas and providers, loaded together, with every problem found on the way.
public struct Workspace: Sendable {
    public var paths: PersonaPaths
    public var config: Config
    public var personas: [Persona]
    public var configIssues: [ConfigIssue]
    public var personaIssues: [ConfigIssue]
    public var environment: [String: String]
    /// The folders personas were searched in, in order.
    public var personaDirectories: [String]
    /// The model chosen because nothing named one, and why; nil when the config or a flag did.
    public var defaultChoice: DefaultChoice?

    public var local: LocalServer { LocalServer(home: paths.home) }
    public var providers: ProviderDirectory { ProviderDirectory(config: config, environment: environment, local: local) }

    /// The personas `persona` opens with when neither `--personas` nor `default_personas` names any.
    public static let starterRoster = ["skeptic", "optimist", "pragmatist"]

    /// Fills in what no config or flag said: a default model (a key's provider, Ollama, or the
    /// local server, started on demand) and the starter roster.
    public mutating func resolveDefaults(personaNames: [String], modelFlag: String?, startLocal: Bool) async throws {
        if config.defaultPersonas.isEmpty {
            config.defaultPersonas = Self.starterRoster.filter { persona(named: $0) != nil }
        }
        guard modelFlag == nil, config.defaultModel == nil else { return }
        let names = personaNames.isEmpty ? config.defaultPersonas : personaNames
        // Unknown names are reported later with their own error; they need no model now.
        guard names.contains(where: { name in persona(named: name).map { $0.model == nil } ?? false }) else { return }
        let (catalog, _) = PriceCatalog.load(config: config, pricesFile: nil, home: paths.home)
        let choice = try await DefaultModel.resolve(directory: providers, local: local, startLocal: startLocal, catalog: catalog)
        config.defaultModel = choice.model
        defaultChoice = choice
    }
    public var issues: [ConfigIssue] { configIssues + personaIssues }
    public var configHasErrors: Bool { configIssues.contains { $0.severity == .error } }

    public static func load(paths: PersonaPaths, environment: [String: String] = ProcessInfo.processInfo.environment,
                            bundledPersonas: String? = BundledPersonas.directory()) -> Workspace {
        var config = Config()
        var configIssues: [ConfigIssue] = []
        if FileManager.default.fileExists(atPath: paths.configFile) {
            do {
                let text = try String(contentsOfFile: paths.configFile, encoding: .utf8)
                let directory = URL(fileURLWithPath: paths.configFile).deletingLastPathComponent().path
                (config, configIssues) = Config.parse(text, file: paths.configFile, baseDirectory: directory)
            } catch {
                configIssues.append(ConfigIssue(.error, file: paths.configFile, line: nil, field: nil, message: "cannot be read: \(error.localizedDescription)"))
            }
        } else if paths.configExplicit {
            configIssues.append(ConfigIssue(.error, file: paths.configFile, line: nil, field: nil,
                                            message: "no such file (given with --config)"))
        }
        var directories = [paths.personasDirectory] + config.personasDirs
        if let bundledPersonas { directories.append(bundledPersonas) }
        var unique: [String] = []
        for directory in directories where !unique.contains(directory) { unique.append(directory) }
        var (personas, personaIssues) = PersonaLoader.load(from: unique)
        // A tool is known only once the config's MCP servers are: a persona naming an unknown one does not load.
        personas.removeAll { persona in
            let problems = persona.tools.compactMap { ToolBox.problem(with: $0, servers: Set(config.mcpServers.keys)) }
            for problem in problems {
                personaIssues.append(ConfigIssue(.error, file: persona.file ?? "", line: persona.toolsLine, field: "tools", message: problem))
            }
            return !problems.isEmpty
        }
        for name in config.defaultPersonas where find(name, in: personas) == nil {
            configIssues.append(ConfigIssue(.error, file: paths.configFile, line: config.lines["default_personas"], field: "default_personas",
                                            message: "no persona \(ConfigIssue.echo(name)); known: " + personas.map(\.id).joined(separator: ", ")))
        }
        // Known before anything is printed or stored, so that no key is.
        Secrets.register(Secrets.values(config: config, environment: environment))
        return Workspace(paths: paths, config: config, personas: personas, configIssues: configIssues,
                         personaIssues: personaIssues, environment: environment, personaDirectories: unique)
    }

    /// `--tools` and `--max-tool-steps`: every persona of the run may also call `names`.
    public mutating func addTools(_ names: [String], maxSteps: Int?) throws {
        if let maxSteps {
            guard (1...100).contains(maxSteps) else { throw UsageError("--max-tool-steps: \(maxSteps) is out of range (1…100)") }
            config.tools.maxSteps = maxSteps
        }
        let servers = Set(config.mcpServers.keys)
        if let problem = names.compactMap({ ToolBox.problem(with: $0, servers: servers) }).first {
            throw UsageError("--tools: \(problem)")
        }
        personas = personas.map { persona in
            var persona = persona
            persona.tools += names.filter { !persona.tools.contains($0) }
            return persona
        }
    }

    /// A persona by id or by name, ignoring case, as `@name` finds it.
    public func persona(named query: String) -> Persona? { Self.find(query, in: personas) }

    /// By id first, then by any handle `@name` accepts (`The Skeptic`, `TheSkeptic`, `skeptic`).
    static func find(_ query: String, in personas: [Persona]) -> Persona? {
        let wanted = query.trimmingCharacters(in: .whitespaces).lowercased()
        return personas.first { $0.id == wanted } ?? personas.first { PersonaHandle.matches(wanted, id: $0.id, name: $0.name) }
    }
}
