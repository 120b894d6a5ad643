import ArgumentParser

/// `tally gateway` — owned by the gateway work (issue 4).
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Run the AWS API gateway.")
    @OptionGroup var home: HomeOptions
    func run() async throws { throw ValidationError("not implemented yet") }
}
