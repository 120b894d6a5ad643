import ArgumentParser

/// `tally-bench` — release-mode benchmarks. Each prints Tally's figures beside the physical
/// limits measured in the same run on the same bytes. Add subcommands (iam, gateway, …) here.
@main
struct TallyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally-bench",
        abstract: "Tally benchmarks (build with -c release).",
        subcommands: [LedgerBench.self, CommitLatencyBench.self, IAMCatalogBenchCommand.self, IAMEvalBenchCommand.self, AWSRequestBench.self, PassthroughProxyBench.self, PacedLoadBench.self]
    )
}
