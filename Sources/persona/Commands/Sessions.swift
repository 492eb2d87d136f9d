import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Saved conversations: list them, show one, export one, or import an export.",
        subcommands: [List.self, Show.self, Export.self, Import.self], defaultSubcommand: List.self)

    static func database(_ global: GlobalOptions) throws -> PersonaDatabase {
        try PersonaDatabase(path: global.workspace().paths.database)
    }

    static func store(_ global: GlobalOptions) throws -> SessionStore {
        SessionStore(database: try database(global))
    }

    /// A session, its messages, and what it cost as the ledger has it.
    static func load(_ id: String, _ global: GlobalOptions) throws -> (SessionInfo, [TranscriptMessage], CostTotals) {
        let database = try database(global)
        guard let session = try SessionStore(database: database).load(id) else {
            throw failure("no session '\(id)'; `persona sessions list` shows them", .usageOrConfig)
        }
        return (session.info, session.messages, try Ledger(database: database).totals(session: session.info.id))
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sessions, newest first, with their turns and cost.")
        @Option(help: "How many to list.") var limit = 30
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let database = try Sessions.database(global)
            let sessions = try SessionStore(database: database).list(limit: limit)
            Output.write(SessionsReport.list(sessions, costs: try Ledger(database: database).totals(sessions: sessions.map(\.info.id))))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session's transcript.")
        @Argument(help: "The session id (a unique prefix will do).") var id: String
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (info, messages, totals) = try Sessions.load(id, global)
            Output.write(SessionsReport.show(info, messages, totals: totals))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session as Markdown (with a YAML header) or JSON.")
        @Argument(help: "The session id (a unique prefix will do).") var id: String
        @Option(help: "markdown or json.") var format = "markdown"
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let (info, messages, totals) = try Sessions.load(id, global)
            switch format {
            case "markdown", "md": Output.write(SessionsReport.exportMarkdown(info, messages, totals: totals))
            case "json": Output.write(SessionsReport.exportJSON(info, messages, totals: totals))
            default:
                throw failure("--format: use markdown or json", .usageOrConfig)
            }
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
