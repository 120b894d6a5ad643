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
        var options = try LedgerOptions.forHome(home.homePath)
        options.onLockWait = sayWaitingForLock
        let ledger = try await Ledger.open(home: home.homePath, options: options)
        if let r = await ledger.recovery { printError("tally: recovery: \(r.description)") }
        var batcher = JSONLinesBatcher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var failure: TallyError?
        var eof = false
        // Up to four batches in flight: the next chunks are read and canonicalised while earlier
        // ones are hashed, compressed, written and fsync'd. "committed N" lines come out in order.
        var inFlight: [CommitTicket] = []
        func drain(keeping n: Int) async throws {
            while inFlight.count > n {
                let seq = try await inFlight.removeFirst().value
                writeStdout(Array("committed \(seq)\n".utf8))
            }
        }
        while !eof && failure == nil {
            // Never sit in read() with an acknowledgement pending: an interactive writer may be
            // waiting for "committed N" before it sends more.
            if !inFlight.isEmpty {
                var pfd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 0) == 0 { try await drain(keeping: 0) }
            }
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = TallyError(.io, "cannot read standard input: \(String(cString: strerror(errno)))")
                break
            }
            eof = n == 0
            let (batch, error) = buffer.withUnsafeBytes { batcher.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n]), endOfInput: eof) }
            if !batch.isEmpty {
                inFlight.append(ledger.submit(batch))
                try await drain(keeping: 3)
            }
            failure = error
        }
        try await drain(keeping: 0)
        try await ledger.close()
        if let failure { throw failure }
    }
}
