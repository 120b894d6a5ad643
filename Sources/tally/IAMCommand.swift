import ArgumentParser

/// `tally iam`
struct IAMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iam",
        abstract: "Query the IAM action catalog and evaluate policies.",
        subcommands: [IAMActionsCommand.self, IAMActionCommand.self, IAMCoverageCommand.self, IAMEvaluateCommand.self, IAMLintCommand.self]
    )
}
