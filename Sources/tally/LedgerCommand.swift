import ArgumentParser

/// `tally ledger`
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Write, read, verify and prove the tamper-evident ledger.",
        subcommands: [
            LedgerAppendCommand.self, LedgerVerifyCommand.self, LedgerCheckpointCommand.self,
            LedgerCatCommand.self, LedgerProveCommand.self, LedgerVerifyProofCommand.self, LedgerCompactCommand.self,
        ]
    )
}
