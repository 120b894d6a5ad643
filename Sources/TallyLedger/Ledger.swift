import Dispatch
import Foundation
public import TallyCore

/// The tamper-evident ledger of one Tally home, open for appending.
///
/// Appends from any number of tasks are group-committed by one commit thread: everything that
/// arrives while a batch is being written and fsync'd goes into the next batch, so concurrent
/// callers share fsyncs. A caller's `append` returns only once its record is durable.
public actor Ledger {
    nonisolated let committer: Committer
    /// What `open` repaired, if anything.
    public let recovery: RecoveryReport?
    /// The checkpoint origin (also the epoch keys' signed-note name).
    public nonisolated let origin: String

    private init(committer: Committer, recovery: RecoveryReport?, origin: String) {
        self.committer = committer
        self.recovery = recovery
        self.origin = origin
    }

    /// Opens an existing ledger for appending; repairs a torn, uncommitted tail and reports it in `recovery`.
    public static func open(home: String, options: LedgerOptions = .init()) async throws -> Ledger {
        let (writer, report) = try LedgerWriter.open(paths: LedgerPaths(home: home), options: options)
        let committer = Committer(writer: writer, maxEventBytes: options.maxEventBytes)
        committer.start()
        return Ledger(committer: committer, recovery: report, origin: writer.epochs.origin)
    }

    /// Appends one event (a JSON object with a string "type"); returns its seq once it is durable
    /// (fsync'd, group-committed with whatever other appends are waiting). The event is
    /// canonicalised in the caller's task; only the commit thread serialises.
    public nonisolated func append(_ event: JSONValue) async throws -> UInt64 {
        var batch = EventBatch()
        try batch.append(event)
        return try await append(batch)
    }

    /// Appends many; returns the last seq once all are durable.
    public nonisolated func append(contentsOf events: [JSONValue]) async throws -> UInt64 {
        var batch = EventBatch()
        for e in events { try batch.append(e) }
        return try await append(batch)
    }

    /// Appends already-canonicalised events (the fast path used by `ledger append` and the
    /// benchmark); returns the last seq once all are durable. The batch's events are given
    /// consecutive seqs.
    public nonisolated func append(_ batch: EventBatch) async throws -> UInt64 {
        guard !batch.isEmpty else { return try committer.currentSize() }
        try committer.checkSizes(batch)
        return try await withCheckedThrowingContinuation { cont in
            committer.enqueue(batch, deferred: false) { cont.resume(with: $0) }
        }
    }

    /// Queues one event for a group commit that nobody waits for: it is written and fsync'd with
    /// the next awaited append, or on its own at most ``deferredCommitDelay`` after it was queued
    /// (or when the ledger closes), whichever comes first. `whenDurable` runs on the commit thread
    /// with its seq once it is durable, or with the error that kept it from being committed.
    /// Throws (and queues nothing) when the event is not a valid event.
    ///
    /// For records that must be kept but need not be durable before the caller goes on (the
    /// gateway's `call.completed`, written after the response): they then cost no fsync of their own.
    public nonisolated func appendDeferred(_ event: JSONValue,
                                           whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
        try enqueue(event, deferred: true, whenDurable)
    }

    /// Validates and canonicalises one event in the caller, then queues it.
    private nonisolated func enqueue(_ event: JSONValue, deferred: Bool,
                                     _ whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
        var batch = EventBatch()
        try batch.append(event)
        try committer.checkSizes(batch)
        committer.enqueue(batch, deferred: deferred, whenDurable)
    }

    /// The longest a deferred append (``appendDeferred(_:whenDurable:)``) waits for an awaited one to share its fsync.
    public static let deferredCommitDelay: Duration = .milliseconds(10)

    /// Queues `batch` for the next group commit right away (in call order) and returns a ticket
    /// to await its durability later, so a producer can prepare the next batch meanwhile.
    public nonisolated func submit(_ batch: EventBatch) -> CommitTicket {
        let ticket = CommitTicket()
        do { try committer.checkSizes(batch) } catch {
            ticket.complete(.failure(error))
            return ticket
        }
        if batch.isEmpty {
            ticket.complete(Result { try committer.currentSize() })
            return ticket
        }
        committer.enqueue(batch, deferred: false) { ticket.complete($0) }
        return ticket
    }

    /// The number of committed records.
    public var size: UInt64 { get throws { try committer.currentSize() } }

    /// Writes a final checkpoint and releases the ledger.
    public func close() async throws {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
            committer.close(cont)
        }
    }
}

/// The commit thread and its queue.
///
/// Everything queued while a commit is being written and fsync'd goes into the next commit: small
/// batches are merged into one (one block, one write), large ones are written one by one, and one
/// fdatasync covers them all. Deferred entries do not wake the thread; they ride along with the next
/// awaited commit or are committed once the oldest has waited `Ledger.deferredCommitDelay`.
final class Committer: @unchecked Sendable {
    typealias Done = @Sendable (Result<UInt64, any Error>) -> Void
    private struct Entry {
        var batch: EventBatch
        var done: Done
    }

    private let cond = NSCondition()
    private var writer: LedgerWriter?
    private var queue: [Entry] = []
    /// Entries in `queue` that a caller is waiting for.
    private var awaited = 0
    /// Bytes of events in `queue`.
    private var queuedBytes = 0
    /// When the oldest deferred entry in `queue` was queued (nanoseconds of `DispatchTime`), if any.
    private var oldestDeferred: UInt64?
    private var closeRequest: CheckedContinuation<Void, any Error>?
    private var closed = false
    private var failure: (any Error)?
    private var committedSize: UInt64
    let maxEventBytes: Int
    /// Queued batches up to this many bytes together are merged into one commit.
    static let mergeLimit = 256 << 10
    static let deferredDelayNanos = UInt64(Ledger.deferredCommitDelay.components.seconds) * 1_000_000_000
        + UInt64(Ledger.deferredCommitDelay.components.attoseconds / 1_000_000_000)

    init(writer: LedgerWriter, maxEventBytes: Int) {
        self.writer = writer
        self.committedSize = writer.size
        self.maxEventBytes = maxEventBytes
    }

    func start() {
        let t = Thread { [self] in self.run() }
        t.name = "tally-ledger-commit"
        t.start()
    }

    func currentSize() throws -> UInt64 {
        cond.lock(); defer { cond.unlock() }
        return committedSize
    }

    /// Throws when an event of `batch` exceeds the size limit.
    func checkSizes(_ batch: EventBatch) throws {
        for i in 0..<batch.count where batch.ends[i] - batch.start(of: i) > maxEventBytes {
            throw TallyError(.badInput, "event \(i + 1) of the batch is \(batch.ends[i] - batch.start(of: i)) bytes; the limit is \(maxEventBytes)")
        }
    }

    func enqueue(_ batch: EventBatch, deferred: Bool, _ done: @escaping Done) {
        cond.lock()
        if closed || closeRequest != nil {
            cond.unlock()
            done(.failure(TallyError(.badUsage, "the ledger is closed")))
            return
        }
        if let failure {
            cond.unlock()
            done(.failure(failure))
            return
        }
        queue.append(Entry(batch: batch, done: done))
        queuedBytes += batch.bytes.count
        var wake = false
        if deferred {
            if oldestDeferred == nil {
                oldestDeferred = DispatchTime.now().uptimeNanoseconds
                wake = true  // the thread may be asleep until a far duty: let it set its deadline
            }
        } else {
            awaited += 1
            wake = awaited == 1
        }
        cond.unlock()
        // Signalled after unlocking, so the woken commit thread does not at once block on the lock this
        // thread still holds (the state it waits for was changed under the lock: no wake-up is lost).
        if wake { cond.signal() }
    }

    func close(_ cont: CheckedContinuation<Void, any Error>) {
        cond.lock()
        if closed { cond.unlock(); cont.resume(); return }
        closeRequest = cont
        cond.signal()
        cond.unlock()
    }

    /// Waits (holding `cond`) until there is something to commit now, a close, or a timed duty.
    private func waitForWork() {
        while closeRequest == nil && awaited == 0 {
            var wait = writer.map { Double($0.millisecondsUntilNextDuty()) / 1000 } ?? 60
            if let oldestDeferred {
                let now = DispatchTime.now().uptimeNanoseconds
                let due = oldestDeferred &+ Self.deferredDelayNanos
                if now >= due { return }
                wait = min(wait, Double(due - now) / 1e9)
            }
            if !cond.wait(until: Date().addingTimeInterval(wait)) { return }
        }
        // Group commit: while a small group's fdatasync is in flight, let the next small group grow
        // rather than start a sync of its own. Otherwise, once one sync is in flight, every arrival
        // would be written and handed off at once, each with its own fdatasync of one or two records.
        // (Large work, or work behind writes in flight, goes through the pipeline instead.)
        while closeRequest == nil && syncsInFlight > 0 && writesInFlight == 0 && queuedBytes < inlineBatchBytes {
            _ = cond.wait(until: Date().addingTimeInterval(0.05))
        }
    }

    private func run() {
        while true {
            cond.lock()
            waitForWork()
            let work = queue
            queue.removeAll(keepingCapacity: true)
            queuedBytes = 0
            awaited = 0
            oldestDeferred = nil
            let closing = closeRequest
            cond.unlock()

            guard let writer else { return }
            cond.lock(); let earlierFailure = failure; cond.unlock()
            if let earlierFailure, !work.isEmpty {
                // A sync failed after these were queued: nothing more is written or acknowledged.
                for e in work { e.done(.failure(earlierFailure)) }
            } else if !work.isEmpty {
                // Entries work[..<handedOff] belong to the write thread, which acknowledges or fails them.
                var handedOff = 0
                do {
                    // Under load (several large batches taken at once, or earlier groups still being
                    // written): hash group by group here and hand each group's compression and write to
                    // the write thread, which hands its fdatasync on to the sync thread; this thread goes
                    // on with the next group, and each group is acknowledged as soon as it is durable.
                    // Otherwise write here, and sync here too unless more appends arrived meanwhile (then
                    // the sync thread syncs while this thread takes them): a lone append's shortest path.
                    let bytes = work.reduce(0) { $0 + $1.batch.bytes.count }
                    cond.lock()
                    let pipeline = (work.count > 1 && bytes >= inlineBatchBytes) || writesInFlight > 0
                    cond.unlock()
                    if pipeline {
                        try forEachGroup(of: work, writer) { range, prepared, lasts in
                            cond.lock(); writesInFlight += 1; handedOffWritesValue += 1; cond.unlock()
                            handOffWrite(Array(work[range]), prepared, lasts, writer)
                            handedOff = range.upperBound
                        }
                    } else {
                        var lasts: [UInt64] = []
                        try forEachGroup(of: work, writer) { _, prepared, groupLasts in
                            if let prepared { try writer.write(prepared) }
                            lasts += groupLasts
                        }
                        cond.lock()
                        // An earlier group's handed-off sync may have failed while this group was being written: then
                        // nothing after it may be synced, acknowledged or covered by a checkpoint (a later fdatasync
                        // would succeed, Linux reporting a write-back error once, and the checkpoint would then sign
                        // records that may never reach the disk).
                        if let failure {
                            cond.unlock()
                            throw failure
                        }
                        let handOff = awaited > 0 || syncsInFlight > 0
                        if handOff { syncsInFlight += 1; handedOffSyncsValue += 1 }
                        cond.unlock()
                        if handOff {
                            try handOffSync(work, lasts, writer, upTo: writer.size)
                        } else {
                            try writer.syncAndCheckpoint()
                            cond.lock(); committedSize = writer.size; cond.unlock()
                            for (i, e) in work.enumerated() { e.done(.success(lasts[i])) }
                        }
                    }
                } catch {
                    // The writer's state is uncertain after a failed write: fail this and every later append.
                    // (A group that fails to prepare after earlier ones were handed off fails only itself and
                    // those after it: the handed-off ones are failed by the write thread, which reads `failure`.)
                    cond.lock(); if failure == nil { failure = error }; cond.unlock()
                    for e in work[handedOff...] { e.done(.failure(error)) }
                }
            }
            do {
                cond.lock(); let durable = committedSize; let bad = failure != nil; cond.unlock()
                if !bad {
                    // Checkpoints only ever cover records that are durable.
                    try writer.writePendingCheckpoints(durableUpTo: durable)
                    if writer.timedDutyDue() {
                        drainSyncs()
                        cond.lock(); let ok = failure == nil; cond.unlock()
                        if ok {
                            try writer.writePendingCheckpoints()
                            try writer.checkpointIfDue(force: false)
                            try writer.eraseExpiredKeys()
                        }
                    }
                }
            } catch {
                cond.lock(); failure = error; cond.unlock()
            }
            if let closing {
                drainSyncs()
                var result: Result<Void, any Error> = .success(())
                if failure == nil {
                    do { try writer.checkpointIfDue(force: true) } catch { result = .failure(error) }
                }
                // Before the caller resumes: a background compaction has ended and the lock is released.
                writer.release()
                cond.lock()
                self.writer = nil
                closed = true
                closeRequest = nil
                let leftovers = queue
                queue.removeAll()
                cond.unlock()
                for e in leftovers { e.done(.failure(TallyError(.badUsage, "the ledger is closed"))) }
                closing.resume(with: result)
                return
            }
        }
    }

    /// Compressions and writes of prepared groups, in order, on their own thread (see `run`).
    private let writeThread = DispatchQueue(label: "tally-ledger-write")
    /// Groups prepared but not yet written (guarded by `cond`).
    private var writesInFlight = 0
    /// fdatasyncs of written groups, in order, on their own thread (see `run`).
    private let syncer = DispatchQueue(label: "tally-ledger-sync")
    /// Groups written but not yet synced (guarded by `cond`).
    private var syncsInFlight = 0
    /// How many groups were compressed and written on the write thread (for tests).
    private var handedOffWritesValue = 0
    var handedOffWrites: Int { cond.lock(); defer { cond.unlock() }; return handedOffWritesValue }
    /// How many groups were synced on the sync thread (for tests).
    private var handedOffSyncsValue = 0
    var handedOffSyncs: Int { cond.lock(); defer { cond.unlock() }; return handedOffSyncsValue }

    /// Queues the compression and write of prepared groups (the caller counted it in `writesInFlight`).
    /// Writes run in prepare order; after a failed write or sync nothing more is written, and every
    /// later acknowledgement fails.
    private func handOffWrite(_ work: [Entry], _ prepared: LedgerWriter.PreparedCommit?, _ lasts: [UInt64], _ writer: LedgerWriter) {
        let upTo = prepared?.endSize ?? writer.size
        // While writes are in flight the write thread alone touches the writer's segment state
        // (`write`, `handOffSync`); the commit thread touches only the chain and checkpoint state, and
        // does everything inline only when no write or sync is in flight.
        nonisolated(unsafe) let writer = writer
        writeThread.async { [self] in
            cond.lock(); let earlier = failure; cond.unlock()
            var error: (any Error)? = earlier
            if error == nil {
                do {
                    if let prepared { try writer.write(prepared) }
                    cond.lock(); syncsInFlight += 1; handedOffSyncsValue += 1; cond.unlock()
                    try handOffSync(work, lasts, writer, upTo: upTo)
                } catch let e { error = e }
            }
            cond.lock()
            writesInFlight -= 1
            if let error, failure == nil { failure = error }
            cond.unlock()
            cond.signal()
            if let error { for e in work { e.done(.failure(error)) } }
        }
    }

    /// Queues the fdatasync of what `work` wrote (on the write thread, right after the write); its
    /// appends are acknowledged once it is durable. The sync goes through a duplicate descriptor, so a
    /// later segment rollover (which syncs and closes the old segment itself) cannot pull the file
    /// from under it. Syncs run in order, and once one fails every later acknowledgement fails too.
    private func handOffSync(_ work: [Entry], _ lasts: [UInt64], _ writer: LedgerWriter, upTo: UInt64) throws {
        let path = writer.paths.segmentPath(writer.segIndex)
        let fd = dup(writer.segFD)
        guard fd >= 0 else {
            cond.lock(); syncsInFlight -= 1; cond.unlock()
            throw TallyError(.io, "cannot duplicate the descriptor of \(path): \(FileIO.errorText())")
        }
        syncer.async { [self] in
            var error: (any Error)?
            do { try FileIO.syncData(fd, path: path) } catch let e { error = e }
            Glibc.close(fd)
            cond.lock()
            syncsInFlight -= 1
            if error == nil, let earlier = failure { error = earlier }
            if let error { if failure == nil { failure = error } } else { committedSize = max(committedSize, upTo) }
            cond.unlock()
            cond.signal()
            for (i, e) in work.enumerated() { e.done(error.map { .failure($0) } ?? .success(lasts[i])) }
        }
    }

    /// Waits until every handed-off sync has finished.
    private func drainSyncs() {
        cond.lock(); let writing = writesInFlight > 0; cond.unlock()
        if writing { writeThread.sync {} }  // every write queues its sync before it finishes
        cond.lock(); let any = syncsInFlight > 0; cond.unlock()
        if any { syncer.sync {} }
    }

    /// Sequences and hashes `work` in order, consecutive small batches merged into one group (so one
    /// block and one write). Hands each group's entries, its prepared batch (nil when it holds no
    /// events) and each entry's last seq to `body`, one group at a time: a group is prepared only after
    /// `body` has taken the previous one.
    private func forEachGroup(of work: [Entry], _ writer: LedgerWriter,
                              _ body: (Range<Int>, LedgerWriter.PreparedCommit?, [UInt64]) throws -> Void) throws {
        var ranges: [Range<Int>] = []
        var start = 0, bytes = 0
        for (i, e) in work.enumerated() {
            if i > start && bytes + e.batch.bytes.count > Self.mergeLimit {
                ranges.append(start..<i)
                start = i
                bytes = 0
            }
            bytes += e.batch.bytes.count
        }
        ranges.append(start..<work.count)
        for range in ranges {
            var seq = writer.size
            var batch: EventBatch
            if range.count == 1 {
                batch = work[range.lowerBound].batch
            } else {
                batch = EventBatch()
                batch.reserveCapacity(bytes: work[range].reduce(0) { $0 + $1.batch.bytes.count },
                                      events: work[range].reduce(0) { $0 + $1.batch.count })
                for i in range { batch.append(contentsOf: work[i].batch) }
            }
            let prepared = batch.isEmpty ? nil : try writer.prepare(batch)
            var lasts: [UInt64] = []
            for i in range {
                seq += UInt64(work[i].batch.count)
                lasts.append(seq)
            }
            try body(range, prepared, lasts)
        }
    }
}

/// The pending durability of a submitted batch (see `Ledger.submit`).
public final class CommitTicket: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<UInt64, any Error>?
    private var waiters: [CheckedContinuation<UInt64, any Error>] = []

    init() {}

    func complete(_ r: Result<UInt64, any Error>) {
        lock.lock()
        guard result == nil else { lock.unlock(); return }
        result = r
        let w = waiters
        waiters.removeAll()
        lock.unlock()
        for c in w { c.resume(with: r) }
    }

    /// The last seq of the batch once it is durable.
    public var value: UInt64 {
        get async throws {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<UInt64, any Error>) in
                lock.lock()
                if let result {
                    lock.unlock()
                    c.resume(with: result)
                } else {
                    waiters.append(c)
                    lock.unlock()
                }
            }
        }
    }
}

