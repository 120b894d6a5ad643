import ArgumentParser

/// `tally replay` — owned by the gateway work (issue 4).
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Show a session's calls in order.")
    @OptionGroup var home: HomeOptions
    func run() async throws { throw ValidationError("not implemented yet") }
}
