import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Votes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Your votes and the council's verdicts, as JSON lines: export or import.",
        subcommands: [Export.self, Import.self])

    static func store(_ global: GlobalOptions) throws -> VoteStore {
        VoteStore(database: try PersonaDatabase(path: global.workspace().paths.database))
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every vote, one JSON line each, oldest first, to stdout or a file.")
        @Option(name: .shortAndLong, help: "Write to this file instead of stdout.") var output: String?
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let text = try Votes.store(global).votes().map { VoteLine.line($0) + "\n" }.joined()
            guard let output else { return Output.write(text) }
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: output)) } catch {
                throw failure("cannot write \(output): \(error.localizedDescription)", .turnFailed)
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store the votes of an export; votes already held are skipped. Nothing is stored if a line is bad.")
        @Argument(help: "The JSON lines file.") var file: String
        @OptionGroup var global: GlobalOptions

        func validate() throws { try requireReadableFile(file, "the votes to import") }

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw failure("cannot read \(file)", .usageOrConfig) }
            var votes: [Vote] = []
            var problems: [String] = []
            for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                guard !line.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
                do { votes.append(try VoteLine.parse(String(line))) } catch {
                    problems.append("\(file):\(index + 1): \(error)")
                }
            }
            guard problems.isEmpty else {
                throw failure(problems.prefix(20).joined(separator: "\n") + (problems.count > 20 ? "\n… \(problems.count - 20) more" : "")
                    + "\nnothing was imported", .usageOrConfig)
            }
            let added = try Votes.store(global).record(votes)
            Output.write("imported \(added) vote\(added == 1 ? "" : "s")" + (votes.count > added ? ", skipped \(votes.count - added) already held" : "") + "\n")
        }
    }
}
