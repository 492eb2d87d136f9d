import Foundation
import PersonaKit

/// Where the monitor's snapshots come from: `persona.db` of a Persona home, opened once it
/// exists, and read again on every call. A missing, locked or damaged ledger is a message to
/// show, and the next call tries again.
public final class MonitorSource {
    public let path: String
    public let budgets: MonitorBudgets
    private var reader: MonitorReader?
    /// How long a read waits for a lock another process holds before the screen says so.
    static let lockTimeout: TimeInterval = 0.2

    public init(workspace: Workspace) throws {
        path = workspace.paths.database
        let config = workspace.config
        var clients: [String: Int64] = [:]
        for key in config.serve.keys {
            guard let dollars = key.dailyUSD, case .success(let picos) = Money.cap(dollars: dollars) else { continue }
            clients[key.name] = picos
        }
        budgets = MonitorBudgets(daily: try AccountingSetup.caps(config.budget).daily, clients: clients,
                                 warnAtPermille: ChatSetup.permille(config.budget.warnAt))
    }

    public func read(now: Date = Date()) -> Result<MonitorSnapshot, MonitorProblem> {
        // Opening would create the file; a home that has spent nothing yet is waited for instead.
        guard FileManager.default.fileExists(atPath: path) else {
            return .failure(MonitorProblem("no ledger yet at \(path): nothing has been sent from this Persona home; waiting for it"))
        }
        do {
            let reader = try self.reader ?? MonitorReader(ledger: Ledger(database: PersonaDatabase(path: path, lockTimeout: Self.lockTimeout)))
            self.reader = reader
            return .success(try reader.snapshot(budgets: budgets, now: now))
        } catch {
            reader = nil
            return .failure(MonitorProblem("\(error)"))
        }
    }
}

public struct MonitorProblem: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}
