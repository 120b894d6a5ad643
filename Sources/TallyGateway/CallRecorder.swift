import Foundation
import TallyCore
import TallyLedger

/// Where call events go: the ledger (``TallyLedger/Ledger`` conforms in `Ledger+CallLog.swift`).
protocol CallLog: Sendable {
    /// Appends one event and returns its sequence number once it is durable.
    func append(_ event: JSONValue) async throws -> UInt64
    /// Queues one event for a group commit nobody waits for (committed with the next awaited append or
    /// within a few milliseconds); `whenDurable` runs once it is durable or failed. Throws for an invalid event.
    func appendDeferred(_ event: JSONValue, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws
    /// Appends one event like ``append(_:)`` (waking the group commit at once) and passes its seq to `whenDurable`
    /// once it is durable, or the error. Throws (nothing queued) for an invalid event.
    func append(_ event: JSONValue, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws
    /// Appends canonicalised events as one group (awaited) and passes the last seq to `whenDurable` once all are
    /// durable, or the error. Throws (nothing queued) for an empty batch or an event over the size limit.
    func append(_ batch: EventBatch, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws
}

/// Appends call events to the ledger and times the durable commit.
struct CallRecorder: Sendable {
    let ledger: any CallLog
    let metrics: GatewayMetrics

    /// Appends `event` and returns once it is durable (group commit). Throws when the ledger cannot commit.
    @discardableResult
    func record(_ event: JSONValue) async throws -> UInt64 {
        let start = ContinuousClock.now
        let seq = try await ledger.append(event)
        metrics.recordCommit(seconds: seconds(since: start))
        return seq
    }

    /// Appends `event` and calls `whenDurable` (on a ledger thread) once it is durable, or with the error that kept
    /// it from being committed (also when the event is refused up front).
    func record(_ event: JSONValue, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) {
        let start = ContinuousClock.now
        let metrics = self.metrics
        do {
            try ledger.append(event) { result in
                if case .success = result { metrics.recordCommit(seconds: seconds(since: start)) }
                whenDurable(result)
            }
        } catch {
            whenDurable(.failure(error))
        }
    }

    /// Appends `batch` (canonicalised events of several calls) and calls `whenDurable` once all are durable, or
    /// with the error.
    func record(_ batch: EventBatch, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
        let start = ContinuousClock.now
        let metrics = self.metrics
        try ledger.append(batch) { result in
            if case .success = result { metrics.recordCommit(seconds: seconds(since: start)) }
            whenDurable(result)
        }
    }

    /// Queues `event` (e.g. `call.completed`, after the response) to be committed with the next group
    /// commit without waiting for it; `background` tracks it until it is durable so shutdown waits for it.
    func recordDeferred(_ event: JSONValue, background: BackgroundRecords,
                        whenFailed: @escaping @Sendable (any Error) -> Void) {
        background.enter()
        do {
            try ledger.appendDeferred(event) { result in
                if case .failure(let error) = result { whenFailed(error) }
                background.leave()
            }
        } catch {
            whenFailed(error)
            background.leave()
        }
    }
}

/// Seconds elapsed since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
