import Foundation
public import TallyCore

/// The tamper-evident ledger of one Tally home, open for appending.
///
/// Appends from any number of tasks are group-committed by one commit thread: everything that
/// arrives while a batch is being written and fsync'd goes into the next batch, so concurrent
/// callers share fsyncs. A caller's `append` returns only once its record is durable.
public actor Ledger {
    private let committer: Committer
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
    /// (fsync'd, group-committed with whatever other appends are waiting).
    public func append(_ event: JSONValue) async throws -> UInt64 {
        var batch = EventBatch()
        try batch.append(event)
        return try await append(batch)
    }

    /// Appends many; returns the last seq once all are durable.
    public func append(contentsOf events: [JSONValue]) async throws -> UInt64 {
        var batch = EventBatch()
        for e in events { try batch.append(e) }
        return try await append(batch)
    }

    /// Appends already-canonicalised events (the fast path used by `ledger append` and the
    /// benchmark); returns the last seq once all are durable. The batch's events are given
    /// consecutive seqs.
    public func append(_ batch: EventBatch) async throws -> UInt64 {
        guard !batch.isEmpty else { return try committer.currentSize() }
        for i in 0..<batch.count where batch.ends[i] - batch.start(of: i) > committer.maxEventBytes {
            throw TallyError(.badInput, "event \(i + 1) of the batch is \(batch.ends[i] - batch.start(of: i)) bytes; the limit is \(committer.maxEventBytes)")
        }
        return try await withCheckedThrowingContinuation { cont in
            committer.enqueue(batch) { cont.resume(with: $0) }
        }
    }

    /// Queues `batch` for the next group commit right away (in call order) and returns a ticket
    /// to await its durability later, so a producer can prepare the next batch meanwhile.
    public nonisolated func submit(_ batch: EventBatch) -> CommitTicket {
        let ticket = CommitTicket()
        for i in 0..<batch.count where batch.ends[i] - batch.start(of: i) > committer.maxEventBytes {
            ticket.complete(.failure(TallyError(.badInput, "event \(i + 1) of the batch is \(batch.ends[i] - batch.start(of: i)) bytes; the limit is \(committer.maxEventBytes)")))
            return ticket
        }
        if batch.isEmpty {
            ticket.complete(Result { try committer.currentSize() })
            return ticket
        }
        committer.enqueue(batch) { ticket.complete($0) }
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
final class Committer: @unchecked Sendable {
    private let cond = NSCondition()
    private var writer: LedgerWriter?
    private var queue: [(EventBatch, @Sendable (Result<UInt64, any Error>) -> Void)] = []
    private var closeRequest: CheckedContinuation<Void, any Error>?
    private var closed = false
    private var failure: (any Error)?
    private var committedSize: UInt64
    let maxEventBytes: Int

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

    func enqueue(_ batch: EventBatch, _ done: @escaping @Sendable (Result<UInt64, any Error>) -> Void) {
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
        queue.append((batch, done))
        cond.signal()
        cond.unlock()
    }

    func close(_ cont: CheckedContinuation<Void, any Error>) {
        cond.lock()
        if closed { cond.unlock(); cont.resume(); return }
        closeRequest = cont
        cond.signal()
        cond.unlock()
    }

    private func run() {
        while true {
            cond.lock()
            while queue.isEmpty && closeRequest == nil {
                let wait = writer.map { Double($0.millisecondsUntilNextDuty()) / 1000 } ?? 60
                if !cond.wait(until: Date().addingTimeInterval(wait)) { break }
            }
            let work = queue
            queue.removeAll()
            let closing = closeRequest
            cond.unlock()

            guard let writer else { return }
            if !work.isEmpty {
                var lasts: [UInt64] = []
                do {
                    // One write per queued batch, one fdatasync for all of them (group commit).
                    var last: UInt64 = writer.size
                    for (i, (b, _)) in work.enumerated() {
                        last = try writer.commit(b, sync: i == work.count - 1)
                        lasts.append(last)
                    }
                    cond.lock(); committedSize = last; cond.unlock()
                    for (i, (_, c)) in work.enumerated() { c(.success(lasts[i])) }
                } catch {
                    // The writer's state is uncertain after a failed write: fail this and every later append.
                    cond.lock(); failure = error; cond.unlock()
                    for (_, c) in work { c(.failure(error)) }
                }
            }
            do {
                if failure == nil {
                    try writer.checkpointIfDue(force: false)
                    try writer.eraseExpiredKeys()
                }
            } catch {
                cond.lock(); failure = error; cond.unlock()
            }
            if let closing {
                var result: Result<Void, any Error> = .success(())
                if failure == nil {
                    do { try writer.checkpointIfDue(force: true) } catch { result = .failure(error) }
                }
                cond.lock()
                self.writer = nil
                closed = true
                closeRequest = nil
                let leftovers = queue
                queue.removeAll()
                cond.unlock()
                for (_, c) in leftovers { c(.failure(TallyError(.badUsage, "the ledger is closed"))) }
                closing.resume(with: result)
                return
            }
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
