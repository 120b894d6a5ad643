import ArgumentParser

/// `tally credentials`
struct CredentialsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credentials",
        abstract: "Issue, list and revoke agent credentials.",
        subcommands: [CredentialsIssue.self, CredentialsRevoke.self, CredentialsList.self]
    )
}
