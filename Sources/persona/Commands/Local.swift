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
            abstract: "Install it under <home>/local (builds llama.cpp: 10 to 16 minutes on 2 cores; resumes if interrupted).")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            do {
                try LocalServer(home: global.paths().home).setup { Output.write($0 + "\n") }
            } catch {
                throw failure("local setup: \(error)", .turnFailed)
            }
        }
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
