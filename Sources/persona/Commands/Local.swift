import ArgumentParser
import Foundation
import PersonaApp
import PersonaKit

struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The local model (llama.cpp with Gemma 3 270M): no key, and no network once set up.",
        subcommands: [Setup.self, Start.self, Stop.self, Status.self], defaultSubcommand: Status.self)

    struct Setup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install it under <home>/local (says how long it will take; resumes if interrupted).")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            // On a terminal the installer's output is one line, rewritten as it goes; in a log, every line.
            let live = isatty(STDOUT_FILENO) == 1
            let pending = Shared(false)
            do {
                try LocalServer(home: global.paths().home).setup { line in
                    if live, line.hasPrefix("    ") {
                        Output.write("\r\u{1B}[2K" + String(line.prefix(Self.lineWidth)))
                        pending.value = true
                    } else {
                        Output.write((pending.value ? "\r\u{1B}[2K" : "") + line + "\n")
                        pending.value = false
                    }
                }
            } catch {
                if pending.value { Output.write("\n") }
                throw failure("local setup: \(error)", .turnFailed)
            }
        }

        /// Columns of the installer's line: what fits most terminals without wrapping.
        static let lineWidth = 100
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the server on a free port of 127.0.0.1.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let local = LocalServer(home: global.paths().home)
            do {
                let running = try await local.start()
                Output.write("local server running at \(running.baseURL) (pid \(running.pid)); log: \(local.log.path)\n")
            } catch {
                throw failure("local start: \(error)", .turnFailed)
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the server this home started.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            Output.write(LocalServer(home: global.paths().home).stop() ? "local server stopped\n" : "no local server was running\n")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether it is set up and running.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let local = LocalServer(home: global.paths().home)
            var lines = ["installed: " + (local.isInstalled ? "yes (\(local.model.path))" : "no (run `persona local setup`)")]
            if let running = local.running {
                lines.append("running: yes, at \(running.baseURL), pid \(running.pid)")
                lines.append("log: \(local.log.path)")
            } else {
                lines.append("running: no" + (local.isInstalled ? " (`persona local start`, or it starts when needed)" : ""))
            }
            Output.write(lines.joined(separator: "\n") + "\n")
        }
    }
}
