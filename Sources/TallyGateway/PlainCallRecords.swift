import Logging
import NIOCore
import Synchronization
import TallyCore
import TallyLedger

/// The records of the plain calls of one event loop, handed to the ledger as groups: the `call.requested` records
/// read in one event-loop pass go as one group (one enqueue, one wake-up of the commit thread, one acknowledgement
/// back to the loop) at the end of the pass, rather than one by one from inside each read: queued one by one,
/// every arrival woke the commit thread, which then wrote and fsync'd groups of two or three records (five times
/// the fdatasyncs and context switches at 64 connections). `call.completed` records (which need not be durable
/// before anything) ride along with the next group, or go as a group of their own after ``completedDelay``; either
/// way graceful shutdown waits for them (``BackgroundRecords``). A record that cannot be canonicalised fails only
/// its own call; if a group is refused (an event over the ledger's size limit), each record is appended on its
/// own so that only that one fails. Touched only on `eventLoop`.
final class PlainCallRecords: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let recorder: CallRecorder
    private let background: BackgroundRecords
    private let logger: Logger
    /// The longest a `call.completed` waits for a `call.requested` to share its commit.
    static let completedDelay: TimeAmount = .milliseconds(5)

    /// A queued record: its call (for `call.requested`) and where its canonical text is in `batch.bytes`.
    private enum Entry {
        case requested(PlainCall, Range<Int>)
        case completed(Range<Int>)
    }
    private var batch = EventBatch()
    /// The event being written (canonical text, see CallEvents+Canonical.swift) before it goes into `batch`.
    private var scratch: [UInt8] = []
    private var canonicalizer = JSONCanonicalizer()
    private var entries: [Entry] = []
    private var requested = 0
    private var flushQueued = false
    private var completedTimer: Scheduled<Void>?

    init(eventLoop: any EventLoop, recorder: CallRecorder, background: BackgroundRecords, logger: Logger) {
        self.eventLoop = eventLoop
        self.recorder = recorder
        self.background = background
        self.logger = logger
    }

    /// Queues `call`'s `call.requested` (of `context`); `call.recorded` runs on the loop once it is durable (or failed).
    func addRequested(_ context: CallContext, for call: PlainCall) {
        let range: Range<Int>
        do {
            range = try append { context.appendRequestedEvent(to: &$0) }
        } catch {
            eventLoop.execute { call.recorded(.failure(error)) }
            return
        }
        entries.append(.requested(call, range))
        requested += 1
        if !flushQueued {
            flushQueued = true
            eventLoop.execute { self.flush() }
        }
    }

    /// Queues the `call.completed` of `context` and `completion`: committed with the next group, at the latest after
    /// ``completedDelay``.
    func addCompleted(_ context: CallContext, _ completion: CallCompletion) {
        background.enter()
        let range: Range<Int>
        do {
            range = try append { context.appendCompletedEvent(completion, to: &$0) }
        } catch {
            logger.error("ledger commit of call.completed failed", metadata: ["error": "\(error)"])
            background.leave()
            return
        }
        entries.append(.completed(range))
        if !flushQueued && completedTimer == nil {
            completedTimer = eventLoop.scheduleTask(in: Self.completedDelay) { self.flush() }
        }
    }

    /// Writes one event's canonical text and appends it to `batch` (the ledger's canonical check passes it through
    /// as is); returns where it is in `batch.bytes`. On error nothing is appended.
    private func append(_ write: (inout [UInt8]) -> Void) throws -> Range<Int> {
        scratch.removeAll(keepingCapacity: true)
        write(&scratch)
        let start = batch.bytes.count
        try scratch.withUnsafeBufferPointer { try batch.append(jsonText: $0, using: &canonicalizer) }
        return start..<(batch.bytes.count - 1)  // without the newline that ends each event
    }

    private func flush() {
        completedTimer?.cancel()
        completedTimer = nil
        flushQueued = false
        let group = batch, queued = entries
        batch = EventBatch()
        entries = []
        requested = 0
        guard !queued.isEmpty else { return }
        let eventLoop = self.eventLoop, background = self.background, logger = self.logger
        do {
            try recorder.record(group) { result in
                var calls: [PlainCall] = []
                for entry in queued {
                    switch entry {
                    case .requested(let call, _): calls.append(call)
                    case .completed:
                        if case .failure(let error) = result {
                            logger.error("ledger commit of call.completed failed", metadata: ["error": "\(error)"])
                        }
                        background.leave()
                    }
                }
                if !calls.isEmpty { eventLoop.execute { for call in calls { call.recorded(result) } } }
            }
            // While the group commits: re-sign each call's upstream request (sent only once the group is durable;
            // the acknowledgement runs on this loop after this task).
            for entry in queued { if case .requested(let call, _) = entry { call.prepare() } }
        } catch {
            // The group was refused (an event over the size limit): each record on its own, so only that one fails.
            func event(_ range: Range<Int>) -> Result<JSONValue, any Error> {
                Result { try JSONValue(parsing: Array(group.bytes[range])) }
            }
            for entry in queued {
                switch entry {
                case .requested(let call, let range):
                    switch event(range) {
                    case .success(let event): recorder.record(event) { result in eventLoop.execute { call.recorded(result) } }
                    case .failure(let error): eventLoop.execute { call.recorded(.failure(error)) }
                    }
                case .completed(let range):
                    if case .success(let event) = event(range) {
                        recorder.recordDeferred(event, background: background) { error in
                            logger.error("ledger commit of call.completed failed", metadata: ["error": "\(error)"])
                        }
                    }
                    background.leave()
                }
            }
        }
    }
}

/// One ``PlainCallRecords`` per event loop.
final class PlainCallRecordQueues: Sendable {
    private let recorder: CallRecorder
    private let background: BackgroundRecords
    private let logger: Logger
    private let queues = Mutex<[ObjectIdentifier: PlainCallRecords]>([:])

    init(recorder: CallRecorder, background: BackgroundRecords, logger: Logger) {
        self.recorder = recorder
        self.background = background
        self.logger = logger
    }

    func queue(for eventLoop: any EventLoop) -> PlainCallRecords {
        let key = ObjectIdentifier(eventLoop)
        return queues.withLock { all in
            if let q = all[key] { return q }
            let q = PlainCallRecords(eventLoop: eventLoop, recorder: recorder, background: background, logger: logger)
            all[key] = q
            return q
        }
    }
}
