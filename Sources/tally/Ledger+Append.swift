import ArgumentParser
import TallyCore
import TallyLedger
import Foundation

/// `tally ledger append` — JSON lines on stdin; prints `committed SEQ` after each durable commit.
struct LedgerAppendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append events (JSON lines on stdin, each an object with a string \"type\"; max 1 MiB per line).",
        discussion: "After each durable commit prints `committed SEQ` (the highest committed seq). A bad line stops with an error naming its line number (exit 2); everything before it stays committed."
    )
    @OptionGroup var home: HomeOptions

    func run() async throws {
        let ledger = try await Ledger.open(home: home.homePath)
        if let r = await ledger.recovery { printError("tally: recovery: \(r.description)") }
        var batcher = JSONLinesBatcher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var failure: TallyError?
        var eof = false
        while !eof && failure == nil {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = TallyError(.io, "cannot read standard input: \(String(cString: strerror(errno)))")
                break
            }
            eof = n == 0
            let (batch, error) = buffer.withUnsafeBytes { batcher.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n]), endOfInput: eof) }
            if !batch.isEmpty {
                let seq = try await ledger.append(batch)
                writeStdout(Array("committed \(seq)\n".utf8))
            }
            failure = error
        }
        try await ledger.close()
        if let failure { throw failure }
    }
}
