import Foundation
import Synchronization
import Testing
import TallyCore
@testable import TallyLedger

/// `append(_:whenDurable:)` (the gateway's write-ahead path): each callback reports its own seq once the
/// record is durable, in order; an invalid event throws and queues nothing; after close it reports failure.
@Suite struct AppendCallbackTests {
    @Test func callbacksReportDurableSeqsInOrder() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let o = testOptions()
        _ = try Ledger.initialize(home: home.path, options: o)
        let ledger = try await Ledger.open(home: home.path, options: o)
        let base = try await ledger.size
        let seen = Mutex<[UInt64]>([])
        for i in 0..<50 {
            let seq: UInt64 = try await withCheckedThrowingContinuation { c in
                do {
                    try ledger.append(sampleEvent(i)) { result in
                        if case .success(let s) = result { seen.withLock { $0.append(s) } }
                        c.resume(with: result)
                    }
                } catch { c.resume(throwing: error) }
            }
            // Durable when reported: the committed size already covers it.
            #expect(try await ledger.size >= seq)
        }
        #expect(seen.withLock { $0 } == Array((base + 1)...(base + 50)))
        #expect(throws: (any Error).self) { try ledger.append(.string("not an object")) { _ in Issue.record("queued an invalid event") } }
        try await ledger.close()
        let failed: Bool = await withCheckedContinuation { c in
            do { try ledger.append(sampleEvent(99)) { c.resume(returning: (try? $0.get()) == nil) } } catch { c.resume(returning: true) }
        }
        #expect(failed, "an append after close must not be acknowledged")
        let report = try LedgerVerifier(home: home.path).run()
        #expect(report.ok && report.records == base + 50)
    }
}
