import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Saved conversations: list, search, show, export, import, rename or remove them.",
        discussion: "A session is named by its id, a unique start of it, its name, or `last` for the newest.",
        subcommands: [List.self, Search.self, Show.self, Export.self, Import.self, Rename.self, Remove.self], defaultSubcommand: List.self)

    static let referenceHelp: ArgumentHelp = "The session: its id, a unique start of it, its name, or `last`."

    static func database(_ global: GlobalOptions) throws -> PersonaDatabase {
        try PersonaDatabase(path: global.workspace().paths.database)
    }

    static func store(_ global: GlobalOptions) throws -> SessionStore {
        SessionStore(database: try database(global))
    }

    /// The id of the session `reference` names; one that names none, or several, exits 2.
    static func find(_ reference: String, in store: SessionStore) throws -> String {
        do { return try store.find(reference) } catch let error as UsageError { throw failure(error.description, .usageOrConfig) }
    }

    /// A session, its messages, and what it cost as the ledger has it.
    static func load(_ reference: String, _ global: GlobalOptions) throws -> (SessionInfo, [TranscriptMessage], CostTotals) {
        let database = try database(global)
        let store = SessionStore(database: database)
        guard let session = try store.load(try find(reference, in: store)) else {
            throw failure("no session '\(reference)'; `persona sessions list` shows them", .usageOrConfig)
        }
        return (session.info, session.messages, try Ledger(database: database).totals(session: session.info.id))
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions, newest first, with their turns and cost.")
        @Option(help: "How many to list.") var limit = 30
        @Flag(help: "Print JSON instead of a table.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let database = try Sessions.database(global)
            let sessions = try SessionStore(database: database).list(limit: limit)
            let costs = try Ledger(database: database).totals(sessions: sessions.map(\.info.id))
            Output.write(json ? SessionsReport.listJSON(sessions, costs: costs) : SessionsReport.list(sessions, costs: costs))
        }
    }

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Messages that hold every word of the query, best first.")
        @Argument(help: "The words to find.") var query: String
        @Option(help: "How many messages to show.") var limit = 20
        @Flag(help: "Print JSON instead of a table.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let hits = try Sessions.store(global).search(query, limit: limit)
            Output.write(json ? SessionsReport.searchJSON(hits) : SessionsReport.search(hits, query: query))
        }
    }

    struct Rename: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Name a session, so that commands take the name for its id.")
        @Argument(help: Sessions.referenceHelp) var session: String
        @Argument(help: "The new name; \"\" takes the name away.") var name: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let store = try Sessions.store(global)
            let id = try Sessions.find(session, in: store)
            do { try store.rename(id, to: name.isEmpty ? nil : name) } catch let error as UsageError {
                throw failure(error.description, .usageOrConfig)
            }
            Output.write(name.isEmpty ? "session \(id) has no name now\n" : "session \(id) is named \(name)\n")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Remove a session and its messages; what it spent stays in the cost ledger.")
        @Argument(help: Sessions.referenceHelp) var session: String
        @Flag(help: "Remove without asking.") var yes = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let store = try Sessions.store(global)
            let id = try Sessions.find(session, in: store)
            guard let (info, messages) = try store.load(id) else { throw failure("no session '\(session)'", .usageOrConfig) }
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    throw failure("rm: asks before removing, and there is no terminal to ask on; add --yes", .usageOrConfig)
                }
                Output.notice("Remove session \(id) (\(SessionsReport.excerpt(info.topic)), \(messages.count) messages)? [y/N] ")
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                    return Output.write("kept session \(id)\n")
                }
            }
            let removed = try store.remove(id)
            Output.write("removed session \(id) and its \(removed) messages; its requests stay in the cost ledger\n")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session's transcript.")
        @Argument(help: Sessions.referenceHelp) var id: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (info, messages, totals) = try Sessions.load(id, global)
            Output.write(SessionsReport.show(info, messages, totals: totals))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session as Markdown (with a YAML header) or JSON.")
        @Argument(help: Sessions.referenceHelp) var id: String
        @Option(help: "markdown or json.") var format = "markdown"
        @OptionGroup var global: GlobalOptions

        func run() throws {
            guard let form = SessionsReport.ExportFormat(name: format) else {
                throw failure("--format: use markdown or json", .usageOrConfig)
            }
            let (info, messages, totals) = try Sessions.load(id, global)
            Output.write(form.render(info, messages, totals: totals))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a session exported with --format json.")
        @Argument(help: "The JSON export file.") var file: String
        @OptionGroup var global: GlobalOptions

        func validate() throws { try requireReadableFile(file, "the export to import") }

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw failure("\(file): cannot be read as UTF-8 text (the export to import)", .usageOrConfig)
            }
            do {
                let (info, messages) = try SessionsReport.importJSON(text)
                let store = try Sessions.store(global)
                guard try store.load(info.id) == nil else {
                    throw failure("session \(info.id) is already saved", .usageOrConfig)
                }
                try store.insert(info, messages: messages)
                Output.write("imported session \(info.id): \(messages.count) messages\n")
            } catch let error as SessionsReport.ImportError {
                throw failure("\(file): \(error)", .usageOrConfig)
            }
        }
    }
}
