import ArgumentParser

struct Completions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a shell completion script: bash, zsh or fish.",
        discussion: """
            bash: persona completions bash > ~/.local/share/bash-completion/completions/persona
            zsh:  persona completions zsh > "${fpath[1]}/_persona"
            fish: persona completions fish > ~/.config/fish/completions/persona.fish
            """)

    @Argument(help: "bash, zsh or fish.")
    var shell: String

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else {
            throw failure("completions: no shell '\(shell)'; use bash, zsh or fish", .usageOrConfig)
        }
        Output.write(PersonaCommand.completionScript(for: kind))
    }
}
