import ArgumentParser

/// `tally sessions`
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List agent sessions.",
        subcommands: [SessionsList.self]
    )
}
