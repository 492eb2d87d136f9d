import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

/// Everything the commands print, with every known key hidden. A terminal closed under a running
/// command fails its writes; the run still ends as it would, with its turns recorded.
enum Output {
    static func write(_ text: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data(Secrets.redact(text).utf8))
    }

    /// A line about a run's progress (a wait, a retry, a failover), on stderr as it is.
    static func notice(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(Secrets.redact(text).utf8))
    }

    static func error(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(("persona: " + Secrets.redact(text) + "\n").utf8))
    }
}

/// The commands throw ArgumentParser's exit codes; PersonaApp's give their numbers.
typealias ExitCode = ArgumentParser.ExitCode

/// The exit codes of DESIGN.md §6, as the commands throw them.
extension ExitCode {
    static let turnFailed = ExitCode(PersonaApp.ExitCode.turnFailed)
    static let usageOrConfig = ExitCode(PersonaApp.ExitCode.usageOrConfig)
    static let budget = ExitCode(PersonaApp.ExitCode.budget)
}

/// Prints `message` as an error and returns `code`, to be thrown: `throw failure("…", .usageOrConfig)`.
func failure(_ message: String, _ code: ExitCode) -> ExitCode {
    Output.error(message)
    return code
}

/// A file named on the command line, checked before anything runs: a missing or unreadable one
/// ends the command with exit code 2 and a line that names it and the option.
func requireReadableFile(_ path: String, _ option: String) throws {
    var isFolder: ObjCBool = false
    let reason: String
    if !FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
        reason = "no such file"
    } else if isFolder.boolValue {
        reason = "is a folder, not a file"
    } else if !FileManager.default.isReadableFile(atPath: path) {
        reason = "cannot be read (permission denied)"
    } else {
        return
    }
    throw failure("\(path): \(reason) (\(option))", .usageOrConfig)
}

/// Runs `body`, printing an error it throws and exiting with its code: a usage or config problem
/// exits 2, a ledger that cannot be used exits 1 (nothing was sent). An exit code passes through.
func exitingOnFailure<Result>(_ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as LedgerError {
        throw failure("\(error); nothing was sent", .turnFailed)
    } catch {
        throw failure("\(error)", .usageOrConfig)
    }
}
