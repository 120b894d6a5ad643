import Foundation
import TallyCore

/// Where call events go: the ledger (``TallyLedger/Ledger`` conforms in `Ledger+CallLog.swift`).
protocol CallLog: Sendable {
    /// Appends one event and returns its sequence number once it is durable.
    func append(_ event: JSONValue) async throws -> UInt64
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
}

/// Seconds elapsed since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
