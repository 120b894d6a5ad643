import ArgumentParser

/// `tally iam`
struct IAMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iam",
        abstract: "Query the IAM action catalog and evaluate policies.",
        subcommands: []
    )
}
