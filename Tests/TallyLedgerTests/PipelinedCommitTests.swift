import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// Under sustained load the commit thread hands each group's fdatasync to the sync thread and
/// goes on with the next group: acknowledgements must still come in order with the right seqs,
/// across segment rollovers, and the result must verify with every checkpoint in place.
@Suite struct PipelinedCommitTests {
    /// Creates a ledger with `options`, submits `batch(round)` for each round while `more(round, ledger)`
    /// holds (pausing after rounds where `pause(round)`), checks every acknowledgement, runs
    /// `during(ledger)` before closing, then checks verify (with `minSegments` segments and a checkpoint
    /// every `options.checkpointEveryRecords`) and that a reopened ledger appends the next seq.
    func runLoad(_ o: LedgerOptions, batch: (Int) throws -> EventBatch, pause: (Int) -> Bool = { _ in false },
                 more: (Int, Ledger) -> Bool, during: (Ledger) -> Void, minSegments: Int) async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: o)
        let ledger = try await Ledger.open(home: home.path, options: o)
        var tickets: [(CommitTicket, UInt64)] = []
        var expected: UInt64 = 0
        var round = 0
        while more(round, ledger) {
            let b = try batch(round)
            expected += UInt64(b.count)
            tickets.append((ledger.submit(b), expected))
            if pause(round) { usleep(100) }
            round += 1
        }
        for (t, last) in tickets { #expect(try await t.value == last) }
        #expect(try await ledger.size == expected)
        during(ledger)
        try await ledger.close()

        let report = try LedgerVerifier(home: home.path).run()
        #expect(report.ok && report.records == expected, "\(report.problems.map(\.text))")
        #expect(report.segments >= minSegments && report.checkpoints >= Int(expected / o.checkpointEveryRecords),
                "\(report.segments) segments, \(report.checkpoints) checkpoints")
        let reopened = try await Ledger.open(home: home.path, options: o)
        #expect(await reopened.recovery == nil)
        #expect(try await reopened.append(sampleEvent(0)) == expected + 1)
        try await reopened.close()
    }

    @Test func sustainedLoadAcrossRolloversVerifies() async throws {
        var o = testOptions()
        o.segmentMaxBytes = 16 << 10
        o.checkpointEveryRecords = 700
        // Small submissions spread over time so that some arrive while a group is being written (which
        // is when its sync is handed off); keep going (bounded) until that has happened several times.
        try await runLoad(o, batch: { round in
            var b = EventBatch()
            for i in 0..<(1 + round % 23) { try b.append(sampleEvent(round * 100 + i)) }
            return b
        }, pause: { $0 % 4 == 0 }, more: { round, ledger in
            round < 300 || (ledger.committer.handedOffSyncs < 5 && round < 5_000)
        }, during: { ledger in
            #expect(ledger.committer.handedOffSyncs > 0, "the sync thread was never used")
        }, minSegments: 4)
    }

    /// Large batches submitted back to back take the full pipeline: the commit thread hashes group by
    /// group while the write thread compresses and writes (rolling segments over) and the sync thread
    /// syncs. Seqs, acknowledgements, checkpoints and the segment chain must come out as if written inline.
    @Test func largeBatchesTakeTheWritePipelineAndVerify() async throws {
        var o = testOptions()
        o.segmentMaxBytes = 16 << 10
        o.blockMaxBytes = 24 << 10
        o.checkpointEveryRecords = 1_000
        // Built beforehand, so they are submitted faster than they are committed and queue up: the
        // commit thread then takes several large batches at once, which is what engages the pipeline.
        let prebuilt = try (0..<60).map { round in
            var b = EventBatch()
            for i in 0..<(400 + round % 7) { try b.append(sampleEvent(round * 1_000 + i)) }
            return b
        }
        try await runLoad(o, batch: { prebuilt[$0 % prebuilt.count] }, more: { round, ledger in
            round < 40 || (ledger.committer.handedOffWrites < 3 && round < 2_000)
        }, during: { ledger in
            #expect(ledger.committer.handedOffWrites >= 1, "the write thread was never used")
        }, minSegments: 6)
    }

    /// A clock that stands still until it has been read `after` times since `arm`, then jumps ten days on
    /// (past the last epoch of a two-epoch ledger): the next group the commit thread prepares fails.
    final class JumpClock: @unchecked Sendable {
        private let lock = NSLock()
        private let base: Int64
        private var left: Int?
        init(_ base: Int64) { self.base = base }
        func arm(after reads: Int) { lock.lock(); left = reads; lock.unlock() }
        var now: Int64 {
            lock.lock(); defer { lock.unlock() }
            guard let l = left else { return base }
            if l > 0 { left = l - 1; return base }
            return base + 10 * 86_400_000
        }
    }

    /// Large appends taken at once go through the pipeline group by group; when the clock runs past the
    /// last epoch between two groups, the group that fails to prepare fails with the groups after it, and
    /// the groups already handed to the write thread are acknowledged or failed once, by that thread (each
    /// append's continuation was resumed twice before: a crash). Every acknowledged seq is in the ledger,
    /// and the ledger verifies.
    @Test func aGroupThatFailsToPrepareAfterHandOffsFailsOnlyOnce() async throws {
        let batches = try (0..<8).map { round in
            var b = EventBatch()
            for i in 0..<1_500 { try b.append(sampleEvent(round * 10_000 + i)) }
            return b
        }
        var mixed = 0
        for reads in 0..<24 {
            let home = TempHome()
            defer { home.cleanup() }
            let clock = JumpClock(1_800_000_000_000)
            var o = testOptions(epochCount: 2)
            o.clock = { clock.now }
            _ = try Ledger.initialize(home: home.path, options: o)
            let ledger = try await Ledger.open(home: home.path, options: o)
            clock.arm(after: reads)
            let results = await withTaskGroup(of: Result<UInt64, any Error>.self) { group in
                for b in batches {
                    group.addTask {
                        do { return .success(try await ledger.append(b)) } catch { return .failure(error) }
                    }
                }
                var all: [Result<UInt64, any Error>] = []
                for await r in group { all.append(r) }
                return all
            }
            try? await ledger.close()
            let acknowledged = results.compactMap { try? $0.get() }
            for case .failure(let e) in results { #expect(e is TallyError, "\(e)") }
            if !acknowledged.isEmpty && acknowledged.count < results.count { mixed += 1 }
            let count = try LedgerReader(home: home.path).count()
            #expect(acknowledged.allSatisfy { $0 <= count }, "an acknowledged seq is missing from the ledger")
            let report = try LedgerVerifier(home: home.path).run()
            #expect(report.ok, "\(report.problems.map(\.text))")
        }
        #expect(mixed > 0, "no run had both acknowledged and failed appends")
    }
}

#if canImport(Glibc)
import Glibc
#endif
