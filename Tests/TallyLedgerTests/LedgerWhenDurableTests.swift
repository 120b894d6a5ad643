import Foundation
import Testing
import TallyCore
@testable import TallyLedger

@Suite struct LedgerWhenDurableTests {
    /// `append(_:whenDurable:)` reports each seq once durable, in order with awaited appends, and refuses an invalid
    /// event up front (nothing queued).
    @Test func callbackAppendsAreCommittedInOrder() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        let ledger = try await Ledger.open(home: home.path, options: testOptions())
        #expect(try await ledger.append(sampleEvent(1)) == 1)
        let seqs = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for i in 2...21 {
                group.addTask {
                    try await withCheckedThrowingContinuation { (c: CheckedContinuation<UInt64, any Error>) in
                        do { try ledger.append(sampleEvent(i)) { c.resume(with: $0) } } catch { c.resume(throwing: error) }
                    }
                }
            }
            var all: [UInt64] = []
            for try await s in group { all.append(s) }
            return all
        }
        #expect(Set(seqs) == Set(2...21))
        #expect(throws: TallyError.self) { try ledger.append(["no": "type"]) { _ in Issue.record("an invalid event was queued") } }
        #expect(try await ledger.append(sampleEvent(22)) == 22)
        try await ledger.close()
        let records = try LedgerReader(home: home.path).records()
        #expect(records.map(\.seq) == Array(1...22))
        // Every event committed once, whatever the order the callers reached the commit thread in.
        #expect(Set(records.map(\.event)) == Set((1...22).map(sampleEvent)))
    }
}
