import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Prices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep the price catalog current.", subcommands: [Update.self], defaultSubcommand: Update.self)

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch LiteLLM's price list, check it, and keep it in <home>/prices; a bad download leaves the old one.")

        @Option(help: "A URL or a file to read instead of LiteLLM's list on GitHub.")
        var from: String = PriceUpdate.defaultURL

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard !from.hasPrefix("http://"), !from.hasPrefix("https://") else { return }
            try requireReadableFile(from, "--from")
        }

        func run() async throws {
            do {
                let stored = try await PriceUpdate.run(from: from, home: global.paths().home)
                Output.write("prices updated: \(stored.models) chat models from \(stored.source)\n"
                    + "  kept as \(stored.file) (sha256 \(stored.sha256), \(stored.day))\n")
            } catch {
                throw failure("prices update: \(error)", .turnFailed)
            }
        }
    }
}
