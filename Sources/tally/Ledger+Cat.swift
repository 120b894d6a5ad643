import ArgumentParser
import TallyCore
import TallyLedger

/// `tally ledger cat` — the events as JSON lines, each with its "seq" (and "time").
struct LedgerCatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cat", abstract: "Print events as JSON lines, each with its \"seq\" and \"time\".")
    @OptionGroup var home: HomeOptions
    @Option(help: "First seq (default 1).") var from: UInt64 = 1
    @Option(help: "Last seq (default: the end).") var to: UInt64?

    func run() async throws {
        guard from >= 1 else { throw TallyError(.badUsage, "--from \(from): seqs start at 1") }
        if let to, to < from { throw TallyError(.badUsage, "--to \(to) is before --from \(from)") }
        let reader = try LedgerReader(home: home.homePath)
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        do {
            try reader.forEachRecord(from: from, to: to) { seq, time, event in
                LedgerReader.catLine(seq: seq, time: time, event: event, into: &out)
                if out.count >= 1 << 20 { writeStdout(out); out.removeAll(keepingCapacity: true) }
                return true
            }
        } catch {
            // The records read before the damage are printed (they were held back and lost; session 12 probe).
            writeStdout(out)
            throw error
        }
        writeStdout(out)
    }
}
