import ArgumentParser
import TallyCore
import TallyLedger

/// `tally ledger cat` — the events as JSON lines, each with its "seq" (and "time").
struct LedgerCatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat", abstract: "Print events as JSON lines, each with its \"seq\" and \"time\".",
        discussion: "Damaged blocks are skipped, each named on stderr, and the command then exits 1 (every intact record in range is printed).")
    @OptionGroup var home: HomeOptions
    @Option(help: "First seq (default 1).") var from: UInt64 = 1
    @Option(help: "Last seq (default: the end).") var to: UInt64?

    func run() async throws {
        guard from >= 1 else { throw TallyError(.badUsage, "--from \(from): seqs start at 1") }
        if let to, to < from { throw TallyError(.badUsage, "--to \(to) is before --from \(from)") }
        let reader = try LedgerReader(home: home.homePath)
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        // Damaged blocks are skipped, each named on stderr as it is met, and the command then fails: every intact
        // record in range is printed (nothing was, past the first damaged block; session 12 probe).
        var damaged = 0
        do {
            try reader.forEachRecord(from: from, to: to, skipDamaged: { where_ in
                damaged += 1
                writeStdout(out)
                out.removeAll(keepingCapacity: true)
                printError("tally: skipped damaged ledger data: \(where_)")
            }) { seq, time, event in
                LedgerReader.catLine(seq: seq, time: time, event: event, into: &out)
                if out.count >= 1 << 20 { writeStdout(out); out.removeAll(keepingCapacity: true) }
                return true
            }
        } catch {
            writeStdout(out)  // the records read before the error
            throw error
        }
        writeStdout(out)
        if damaged > 0 {
            throw TallyError(.integrity, "\(damaged) damaged part(s) of the ledger skipped (named above); run `tally ledger verify`")
        }
    }
}
