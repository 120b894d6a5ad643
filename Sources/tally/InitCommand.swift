import ArgumentParser
import TallyCore
import TallyLedger

/// `tally init` — a new home with its ledger; the verification key goes to H/ledger.pub.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a new Tally home (ledger, epoch keys, H/ledger.pub).")
    @OptionGroup var home: HomeOptions
    @OptionGroup var json: JSONOption
    @Option(help: "The checkpoint origin line (default: tally.ledger/<random>).") var origin: String?
    @Option(help: "Epoch length in seconds (forward-security granularity).") var epochSeconds: Int64 = 3600
    @Option(help: "Number of epoch keys to generate.") var epochs: Int = 8784
    @Option(help: "Write a signed checkpoint at least every N records (kept in H/ledger/settings.json for every writer).") var checkpointEvery: UInt64 = 10_000
    @Option(help: "…and at least every S seconds while records are uncheckpointed.") var checkpointInterval: Double = 1
    @Option(help: "Uncompressed bytes of events per LZ4 block.") var blockBytes: Int = 4 << 20
    @Option(help: "Start a new segment file beyond this many bytes.") var segmentBytes: Int = 8 << 20

    func run() async throws {
        var options = LedgerOptions()
        options.origin = origin
        options.epochSeconds = epochSeconds
        options.epochCount = epochs
        options.checkpointEveryRecords = checkpointEvery
        options.checkpointInterval = checkpointInterval
        options.blockMaxBytes = blockBytes
        options.segmentMaxBytes = segmentBytes
        let report = try Ledger.initialize(home: home.homePath, options: options)
        if json.json {
            printJSONObject([
                ("home", .string(report.home)), ("origin", .string(report.origin)), ("publicKey", .string(report.rootKey)),
                ("epochs", .int(report.epochCount)), ("epochSeconds", .int(report.epochSeconds)),
            ])
        } else {
            print("initialized \(report.home)")
            print("origin: \(report.origin)")
            print("verification key (keep a copy elsewhere): \(report.home)/ledger.pub")
            print("  \(report.rootKey)")
            print("epoch keys: \(report.epochCount) × \(report.epochSeconds) s")
        }
    }
}
