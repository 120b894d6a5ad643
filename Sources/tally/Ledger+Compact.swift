import ArgumentParser
import TallyCore
import TallyLedger
import Foundation

/// `tally ledger compact` — recompress sealed segments with LZ4HC; hashes and signatures are unchanged.
struct LedgerCompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Merge small blocks and recompress sealed segments with LZ4HC (smaller on disk; every hash, checkpoint and proof is unchanged).",
        discussion: "Appends compress with fast LZ4, one block per commit. This rewrites every sealed segment (all but the newest): consecutive blocks are merged into blocks of up to 4 MiB of events (a gateway commits a few records per block) and compressed with LZ4HC in the same LZ4 block format, each segment atomically, under the writer lock: stop other writers first (a running gateway compacts each segment it seals by itself). Damaged segments are never rewritten (they are named, and the command exits 1). Safe to re-run; segments that are already compact are left alone."
    )
    @OptionGroup var home: HomeOptions
    @OptionGroup var json: JSONOption
    @Option(help: "LZ4HC level, 1–12 (default 9).") var level: Int = LZ4.highCompressionDefaultLevel

    func run() async throws {
        let showProgress = !json.json && isatty(2) == 1
        var progress: (@Sendable (Int, Int) -> Void)? = nil
        if showProgress {
            progress = { (done: Int, total: Int) -> Void in writeStderr("\rcompacting… \(done)/\(total) segments") }
        }
        let report = try LedgerCompaction.run(home: home.homePath, level: level, onLockWait: sayWaitingForLock, progress: progress)
        if showProgress { writeStderr("\r\u{1B}[K") }
        if json.json {
            let out: JSONValue = [
                "compacted": .array(report.compacted.map { .string($0) }),
                "skipped": .array(report.skipped.map { ["file": .string($0.file), "reason": .string($0.reason)] }),
                "bytesBefore": .int(report.bytesBefore), "bytesAfter": .int(report.bytesAfter),
            ]
            print(String(decoding: out.canonicalBytes(), as: UTF8.self))
        } else {
            for s in report.skipped where s.reason != "already compact" { print("skipped \(s.file): \(s.reason)") }
            let pct = report.bytesBefore > 0 ? Double(report.bytesAfter) / Double(report.bytesBefore) * 100 : 100
            print("compacted \(report.compacted.count) segment(s); segments now \(report.bytesAfter) bytes (\(String(format: "%.1f", pct))% of \(report.bytesBefore))")
        }
        // A segment left alone because it is damaged (or could not be rewritten) is a finding (exit 1), not a success
        // (session 12 probe).
        let left = report.skipped.filter { $0.reason != "already compact" }.count
        if left > 0 {
            printError("tally: \(left) segment(s) left as they are (damaged, or they could not be rewritten: named above); run `tally ledger verify`")
            throw ExitCode(1)
        }
    }
}
