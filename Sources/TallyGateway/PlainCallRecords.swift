import NIOCore
import Synchronization
import TallyCore
import TallyLedger

/// The `call.requested` records of the plain calls one event loop reads in one pass, handed to the ledger as one
/// group (one enqueue and one wake-up of the commit thread, one acknowledgement back to the loop) at the end of
/// the pass, rather than one by one from inside each read: queued one by one, every arrival woke the commit thread,
/// which then wrote and fsync'd groups of two or three records (five times the fdatasyncs and context switches
/// at 64 connections). A record that cannot be canonicalised fails only its own call; if the group is refused
/// (an event over the ledger's size limit), each record is appended on its own so that only that call fails.
/// Touched only on `eventLoop`.
final class PlainCallRecords: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let recorder: CallRecorder
    private var batch = EventBatch()
    private var calls: [(call: PlainCall, event: JSONValue)] = []

    init(eventLoop: any EventLoop, recorder: CallRecorder) {
        self.eventLoop = eventLoop
        self.recorder = recorder
    }

    /// Queues `call`'s `call.requested`; `call.recorded` runs on the loop once it is durable (or failed).
    func add(_ event: JSONValue, for call: PlainCall) {
        do {
            try batch.append(event)
        } catch {
            eventLoop.execute { call.recorded(.failure(error)) }
            return
        }
        calls.append((call, event))
        if calls.count == 1 { eventLoop.execute { self.flush() } }
    }

    private func flush() {
        let group = batch, waiting = calls
        batch = EventBatch()
        calls = []
        guard !waiting.isEmpty else { return }
        let eventLoop = self.eventLoop
        do {
            try recorder.record(group) { result in
                eventLoop.execute { for w in waiting { w.call.recorded(result) } }
            }
        } catch {
            for w in waiting {
                recorder.record(w.event) { result in eventLoop.execute { w.call.recorded(result) } }
            }
        }
    }
}

/// One ``PlainCallRecords`` per event loop.
final class PlainCallRecordQueues: Sendable {
    private let recorder: CallRecorder
    private let queues = Mutex<[ObjectIdentifier: PlainCallRecords]>([:])

    init(recorder: CallRecorder) { self.recorder = recorder }

    func queue(for eventLoop: any EventLoop) -> PlainCallRecords {
        let key = ObjectIdentifier(eventLoop)
        return queues.withLock { all in
            if let q = all[key] { return q }
            let q = PlainCallRecords(eventLoop: eventLoop, recorder: recorder)
            all[key] = q
            return q
        }
    }
}
