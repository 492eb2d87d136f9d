import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The price catalog: context window and USD per million tokens.")

    @Option(help: "Only this provider's models.")
    var provider: String?

    @Option(help: "Also import prices from a LiteLLM model_prices_and_context_window.json file.")
    var prices: String?

    @Flag(help: "List the models in the ledger that have no price, with the entry to add under prices:.")
    var unpriced = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let prices { try requireReadableFile(prices, "--prices") }
    }

    func run() throws {
        let workspace = global.workspace()
        let (catalog, issues) = PriceCatalog.load(config: workspace.config, pricesFile: prices, home: workspace.paths.home)
        for issue in issues { Output.error("prices: \(issue)") }
        if let provider {
            let known = Set(catalog.all.map(\.key.provider) + workspace.providers.names).sorted()
            guard known.contains(provider.lowercased()) else {
                throw failure("--provider: no provider '\(provider)'; known: \(known.joined(separator: ", "))", .usageOrConfig)
            }
        }
        guard unpriced else { return Output.write(ModelsReport.render(catalog, provider: provider, json: json)) }
        do {
            Output.write(try ModelsReport.unpriced(try Ledger(path: workspace.paths.database), catalog: catalog, json: json))
        } catch {
            throw failure("\(error)", .turnFailed)
        }
    }
}
