import ArgumentParser
import TallyCore
import TallyLedger

/// `tally ledger checkpoint` — prints the newest signed checkpoint (a C2SP signed note).
struct LedgerCheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkpoint", abstract: "Print the newest signed checkpoint (keep copies elsewhere as witnesses).")
    @OptionGroup var home: HomeOptions

    func run() async throws {
        let reader = try LedgerReader(home: home.homePath)
        guard let note = try reader.latestCheckpoint() else {
            throw TallyError(.notFound, "the ledger in \(home.homePath) has no checkpoint yet (append something first)")
        }
        print(note, terminator: "")
    }
}
