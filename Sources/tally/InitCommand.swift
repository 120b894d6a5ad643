import ArgumentParser

/// `tally init` — owned by the ledger work (issue 2).
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a new Tally home.")
    @OptionGroup var home: HomeOptions
    func run() async throws { throw ValidationError("not implemented yet") }
}
