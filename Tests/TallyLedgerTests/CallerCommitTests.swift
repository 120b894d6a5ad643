import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// `append(_:commitHereIfIdle:whenDurable:)`: an append arriving while the ledger is idle is written and synced by
/// the caller itself; everything else still goes through the commit thread, and both keep one chain.
@Suite struct CallerCommitTests {
    private func batch(_ events: [JSONValue]) throws -> EventBatch {
        var b = EventBatch()
        for e in events { try b.append(e) }
        return b
    }

    /// Waits (up to 5 s) until the commit thread waits for work, so that the next append finds the ledger idle.
    private func waitUntilIdle(_ ledger: Ledger) async throws {
        for _ in 0..<500 where !ledger.committer.isIdle { try await Task.sleep(for: .milliseconds(10)) }
        try #require(ledger.committer.isIdle, "the commit thread never became idle")
    }

    /// Appends one batch with `commitHereIfIdle`; returns its seq and whether `whenDurable` ran before the call
    /// returned (the caller committed it).
    private func appendHere(_ ledger: Ledger, _ events: [JSONValue]) async throws -> (seq: UInt64, inCaller: Bool) {
        let b = try batch(events)
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<(UInt64, Bool), any Error>) in
            let returned = Locked(false)
            do {
                try ledger.append(b, commitHereIfIdle: true) { result in
                    let inCaller = !returned.withLock { $0 }
                    c.resume(with: result.map { ($0, inCaller) })
                }
                returned.withLock { $0 = true }
            } catch { c.resume(throwing: error) }
        }
    }

    @Test func anIdleLedgerCommitsInTheCaller() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        let ledger = try await Ledger.open(home: home.path, options: testOptions())
        var inCaller = 0
        for i in 1...20 {
            try await waitUntilIdle(ledger)
            let (seq, here) = try await appendHere(ledger, [sampleEvent(i)])
            #expect(seq == UInt64(i))
            if here { inCaller += 1 }
        }
        // Each append found the ledger idle: each was durable before `append` returned, and counted as such.
        #expect(inCaller == 20)
        #expect(ledger.committer.callerCommits == 20)
        // Without the flag, the commit thread commits (the callback runs on it, after `append` returned or not).
        #expect(try await ledger.append(sampleEvent(21)) == 21)
        #expect(ledger.committer.callerCommits == 20)
        try await ledger.close()
        #expect(try LedgerVerifier(home: home.path).run().problems.isEmpty)
        #expect(try LedgerReader(home: home.path).records().map(\.event) == (1...21).map(sampleEvent))
    }

    /// Deferred events queued before an idle caller's append ride along with it (in queue order).
    @Test func deferredEventsQueuedBeforeRideAlong() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        let ledger = try await Ledger.open(home: home.path, options: testOptions())
        try await waitUntilIdle(ledger)
        let deferredSeq = Locked<UInt64?>(nil)
        try ledger.appendDeferred(sampleEvent(1)) { r in deferredSeq.withLock { $0 = try? r.get() } }
        let (seq, here) = try await appendHere(ledger, [sampleEvent(2), sampleEvent(3)])
        #expect(here)
        #expect(deferredSeq.withLock { $0 } == 1, "the deferred event was not committed with the caller's append")
        #expect(seq == 3)
        try await ledger.close()
        #expect(try LedgerReader(home: home.path).records().map(\.event) == (1...3).map(sampleEvent))
    }

    /// Every-N checkpoints queued by a caller's commit are signed and written by the commit thread right away (it is
    /// woken for them), not at its next timed duty.
    @Test func checkpointsQueuedByCallerCommitsAreWritten() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var options = testOptions()
        options.checkpointEveryRecords = 5
        options.checkpointInterval = 3600
        _ = try Ledger.initialize(home: home.path, options: options)
        let ledger = try await Ledger.open(home: home.path, options: options)
        for i in 1...12 {
            try await waitUntilIdle(ledger)
            _ = try await appendHere(ledger, [sampleEvent(i)])
        }
        #expect(ledger.committer.callerCommits == 12)
        let reader = try LedgerReader(home: home.path)
        var size: UInt64?
        for _ in 0..<300 {
            size = try checkpointSize(reader.latestCheckpoint())
            if size == 10 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(size == 10)
        try await ledger.close()
        #expect(try LedgerVerifier(home: home.path).run().problems.isEmpty)
    }

    /// A caller's commit that brings the interval checkpoint closer (the first record since the last checkpoint)
    /// wakes the commit thread, which was asleep until a farther duty.
    @Test func aCallerCommitBringsTheTimedCheckpointCloser() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var options = testOptions()
        options.checkpointInterval = 0.2
        _ = try Ledger.initialize(home: home.path, options: options)
        let ledger = try await Ledger.open(home: home.path, options: options)
        try await waitUntilIdle(ledger)
        let (seq, here) = try await appendHere(ledger, [sampleEvent(1)])
        try #require(here && seq == 1)
        let reader = try LedgerReader(home: home.path)
        var size: UInt64?
        for _ in 0..<500 {
            size = try checkpointSize(reader.latestCheckpoint())
            if size == 1 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(size == 1, "no timed checkpoint within 5 s of the caller's commit")
        try await ledger.close()
    }

    /// Callers committing themselves, callers queueing for the commit thread and deferred appends, all at once from
    /// several threads: every append gets its own seq, the chain verifies, and checkpoints cover everything.
    @Test func mixedCallersKeepOneChain() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var options = testOptions()
        options.checkpointEveryRecords = 64
        _ = try Ledger.initialize(home: home.path, options: options)
        let ledger = try await Ledger.open(home: home.path, options: options)
        let threads = 4, perThread = 300
        let seqs = Locked<[UInt64]>([])
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                let n = t * perThread + i + 1
                group.enter()
                let done: @Sendable (Result<UInt64, any Error>) -> Void = { r in
                    switch r {
                    case .success(let s): seqs.withLock { $0.append(s) }
                    case .failure(let e): failures.withLock { $0.append("\(e)") }
                    }
                    group.leave()
                }
                do {
                    switch i % 3 {
                    case 0: try ledger.appendDeferred(sampleEvent(n), whenDurable: done)
                    case 1: try ledger.append(try batch([sampleEvent(n)]), commitHereIfIdle: true, whenDurable: done)
                    default: try ledger.append(try batch([sampleEvent(n)]), commitHereIfIdle: false, whenDurable: done)
                    }
                } catch { done(.failure(error)) }
                if i % 50 == 0 { usleep(200) }
            }
        }
        group.wait()
        let total = threads * perThread
        #expect(failures.withLock { $0 } == [])
        #expect(Set(seqs.withLock { $0 }) == Set(1...UInt64(total)))
        try await ledger.close()
        #expect(try LedgerVerifier(home: home.path).run().problems.isEmpty)
        let records = try LedgerReader(home: home.path).records()
        #expect(Set(records.map(\.event)) == Set((1...total).map(sampleEvent)))
        #expect(try checkpointSize(LedgerReader(home: home.path).latestCheckpoint()) == UInt64(total))
    }

    /// A value shared with callbacks on other threads.
    private final class Locked<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Value
        init(_ value: Value) { self.value = value }
        func withLock<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
    }

    /// The tree size of a signed checkpoint note (its second line).
    private func checkpointSize(_ note: String?) -> UInt64? {
        guard let note else { return nil }
        let lines = note.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count > 1 ? UInt64(lines[1]) : nil
    }
}
