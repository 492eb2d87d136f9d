import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Costs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What your requests cost, from the ledger: summary (default), daily, by-provider, by-model or entries.")

    @Argument(help: "summary, daily, by-provider, by-model or entries.")
    var report: String = "summary"

    @Option(help: "Only requests at or after this time (ISO 8601, or a date such as 2026-11-01).")
    var since: String?

    @Option(help: "Only requests before this time.")
    var until: String?

    @Option(help: "Days that `daily` covers, up to today.")
    var days = 7

    @Option(help: "Rows that `entries` lists.")
    var limit = 20

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let workspace = global.workspace()
        guard let kind = CostsReport.Kind(rawValue: report) else {
            let kinds = CostsReport.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw failure("unknown report '\(report)'; use one of \(kinds)", .usageOrConfig)
        }
        do {
            let period = Ledger.Period(start: try since.map { try CostsReport.date($0, option: "--since") },
                                       end: try until.map { try CostsReport.date($0, option: "--until") })
            let ledger = try Ledger(path: workspace.paths.database)
            Output.write(try CostsReport.render(kind, ledger: ledger,
                                                options: CostsReport.Options(period: period, days: days, limit: limit, json: json)))
        } catch let error as UsageError {
            throw failure("\(error)", .usageOrConfig)
        } catch let error as LedgerError {
            throw failure("\(error)", .turnFailed)
        }
    }
}
