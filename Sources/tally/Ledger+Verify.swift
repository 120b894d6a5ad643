import ArgumentParser
import TallyCore
import TallyLedger
import Foundation

/// `tally ledger verify` — exit 0 intact, 1 damage (every damaged range is listed).
struct LedgerVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify the whole ledger; exit 0 intact, 1 damage.",
        discussion: "Checks framing, checksums, decompression, seq continuity, the hash chain, the Merkle root against every signed checkpoint, checkpoint signatures and epoch certificates, and, with --witness, that the ledger is neither shorter than nor forked from checkpoints kept elsewhere."
    )
    @OptionGroup var home: HomeOptions
    @OptionGroup var json: JSONOption
    @Option(name: .customLong("public-key"), help: "The auditor's copy of ledger.pub (default H/ledger.pub).") var publicKey: String?
    @Option(name: .customLong("witness"), help: "A file of checkpoint notes kept elsewhere (repeatable).") var witness: [String] = []

    func run() async throws {
        let verifier = try LedgerVerifier(home: home.homePath, publicKeyPath: publicKey, witnesses: witness)
        let showProgress = !json.json && isatty(2) == 1
        var progress: (@Sendable (Double) -> Void)? = nil
        if showProgress {
            progress = { (f: Double) -> Void in writeStderr("\rverifying… \(Int(f * 100))%") }
        }
        let report = try verifier.run(progress: progress)
        if showProgress { writeStderr("\r\u{1B}[K") }
        if json.json {
            print(report.json.description)
        } else {
            for p in report.problems { print("DAMAGE \(p.text)") }
            for w in report.warnings { print("warning: \(w.text)") }
            if report.ok {
                print("ok: \(count(report.records, "record")), \(count(report.segments, "segment")), \(count(report.checkpoints, "signed checkpoint"))" + (report.witnesses > 0 ? ", \(count(report.witnesses, "witness checkpoint"))" : "") + " verified")
            } else {
                print("FAILED: \(report.problems.count) problem(s); \(count(report.records, "record")), \(count(report.segments, "segment")), \(count(report.checkpoints, "signed checkpoint"))")
            }
        }
        if !report.ok { throw ExitCode(1) }
    }
}

/// "1 segment", "2 segments".
func count(_ n: some BinaryInteger, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
