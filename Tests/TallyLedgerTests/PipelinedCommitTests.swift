import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// Under sustained load the commit thread hands each group's fdatasync to the sync thread and
/// goes on with the next group: acknowledgements must still come in order with the right seqs,
/// across segment rollovers, and the result must verify with every checkpoint in place.
@Suite struct PipelinedCommitTests {
    @Test func sustainedLoadAcrossRolloversVerifies() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var o = testOptions()
        o.segmentMaxBytes = 16 << 10
        o.checkpointEveryRecords = 700
        _ = try Ledger.initialize(home: home.path, options: o)
        let ledger = try await Ledger.open(home: home.path, options: o)
        var tickets: [(CommitTicket, UInt64)] = []
        var expected: UInt64 = 0
        // Submissions spread over time so that some arrive while a group is being written (which is
        // when its sync is handed off); keep going (bounded) until that has happened several times.
        var round = 0
        while round < 300 || (ledger.committer.handedOffSyncs < 5 && round < 5_000) {
            var batch = EventBatch()
            for i in 0..<(1 + round % 23) { try batch.append(sampleEvent(round * 100 + i)) }
            expected += UInt64(batch.count)
            tickets.append((ledger.submit(batch), expected))
            if round % 4 == 0 { usleep(100) }
            round += 1
        }
        for (t, last) in tickets { #expect(try await t.value == last) }
        #expect(try await ledger.size == expected)
        #expect(ledger.committer.handedOffSyncs > 0, "the sync thread was never used")
        try await ledger.close()

        let report = try LedgerVerifier(home: home.path).run()
        #expect(report.ok && report.records == expected, "\(report.problems.map(\.text))")
        #expect(report.segments > 3 && report.checkpoints >= Int(expected / 700))
        let reopened = try await Ledger.open(home: home.path, options: o)
        #expect(await reopened.recovery == nil)
        #expect(try await reopened.append(sampleEvent(0)) == expected + 1)
        try await reopened.close()
    }

    /// Large batches submitted back to back take the full pipeline: this thread hashes group by
    /// group while the write thread compresses and writes (rolling segments over) and the sync thread
    /// syncs. Seqs, acknowledgements, checkpoints and the segment chain must come out as if written inline.
    @Test func largeBatchesTakeTheWritePipelineAndVerify() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var o = testOptions()
        o.segmentMaxBytes = 16 << 10
        o.blockMaxBytes = 24 << 10
        o.checkpointEveryRecords = 1_000
        _ = try Ledger.initialize(home: home.path, options: o)
        let ledger = try await Ledger.open(home: home.path, options: o)
        var tickets: [(CommitTicket, UInt64)] = []
        var expected: UInt64 = 0
        var round = 0
        while round < 40 || (ledger.committer.handedOffWrites < 5 && round < 400) {
            var batch = EventBatch()
            for i in 0..<(400 + round % 7) { try batch.append(sampleEvent(round * 1_000 + i)) }
            expected += UInt64(batch.count)
            tickets.append((ledger.submit(batch), expected))
            round += 1
        }
        for (t, last) in tickets { #expect(try await t.value == last) }
        #expect(ledger.committer.handedOffWrites >= 5, "the write thread was used \(ledger.committer.handedOffWrites) times")
        try await ledger.close()

        let report = try LedgerVerifier(home: home.path).run()
        #expect(report.ok && report.records == expected, "\(report.problems.map(\.text))")
        #expect(report.segments > 5 && report.checkpoints >= Int(expected / 1_000), "\(report.segments) segments, \(report.checkpoints) checkpoints")
        let reopened = try await Ledger.open(home: home.path, options: o)
        #expect(await reopened.recovery == nil)
        #expect(try await reopened.append(sampleEvent(0)) == expected + 1)
        try await reopened.close()
    }
}

#if canImport(Glibc)
import Glibc
#endif
