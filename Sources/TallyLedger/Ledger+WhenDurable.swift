public import TallyCore

extension Ledger {
    /// Appends one event like ``append(_:)-(JSONValue)``: it is group-committed with whatever else is waiting and
    /// wakes the commit thread at once (an awaited append), but its seq, once it is durable, or the error that
    /// kept it from being committed, is passed to `whenDurable` (on the commit or sync thread) instead of being
    /// returned to a task. For callers on an event loop that continue there without a task (the gateway's plain
    /// calls). Throws (and queues nothing) when the event is not a valid event or is too large.
    public nonisolated func append(_ event: JSONValue,
                                   whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
        var batch = EventBatch()
        try batch.append(event)
        try committer.checkSizes(batch)
        committer.enqueue(batch, deferred: false, whenDurable)
    }
}

extension Ledger {
    /// Appends already-canonicalised events like ``append(_:)-(EventBatch)`` (awaited: the commit thread is woken)
    /// and passes the batch's last seq to `whenDurable` once all of it is durable, or the error. Throws (and queues
    /// nothing) when the batch is empty or an event is too large.
    public nonisolated func append(_ batch: EventBatch,
                                   whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
        guard !batch.isEmpty else { throw TallyError(.badInput, "an empty batch cannot be appended") }
        try committer.checkSizes(batch)
        committer.enqueue(batch, deferred: false, whenDurable)
    }
}
