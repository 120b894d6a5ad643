import ArgumentParser

/// The `iam-catalog` subcommand of tally-bench (for the root command's `subcommands:` list).
struct IAMCatalogBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iam-catalog",
        abstract: "Time loading the whole IAM action catalog (limit 100 ms in release mode)."
    )

    @Option(help: "Runs to take the median of.")
    var iterations = 20

    func run() throws {
        for line in try IAMCatalogBench.run(iterations: iterations) { print(line) }
    }
}
