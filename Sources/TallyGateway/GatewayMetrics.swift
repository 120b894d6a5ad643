public import Foundation
import Synchronization

/// The gateway's Prometheus metrics, served as text at `/_tally/metrics`.
///
/// A small in-module registry (counters and fixed-bucket histograms behind one mutex):
/// calls by service and outcome, denials by reason, end-to-end latency, upstream latency
/// and ledger commit latency.
public final class GatewayMetrics: Sendable {
    private let state = Mutex(State())

    public init() {}

    /// Latency buckets in seconds (Prometheus `le` bounds).
    static let buckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Histogram {
        var counts = [UInt64](repeating: 0, count: GatewayMetrics.buckets.count)
        var sum = 0.0
        var count: UInt64 = 0
        mutating func observe(_ seconds: Double) {
            if let i = GatewayMetrics.buckets.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
            sum += seconds
            count += 1
        }
    }

    struct State {
        var calls: [String: UInt64] = [:]          // "service|outcome"
        var denials: [String: UInt64] = [:]        // reason
        var requestLatency = Histogram()
        var upstreamLatency = Histogram()
        var commitLatency = Histogram()
        var inFlight = 0
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
    }

    /// A call finished: `outcome` is "forwarded", "denied" or "error".
    func recordCall(service: String, outcome: String, seconds: Double, bytesIn: UInt64 = 0, bytesOut: UInt64 = 0) {
        state.withLock {
            $0.calls["\(service)|\(outcome)", default: 0] += 1
            $0.requestLatency.observe(seconds)
            $0.bytesIn += bytesIn
            $0.bytesOut += bytesOut
        }
    }

    func recordDenial(reason: String) { state.withLock { $0.denials[reason, default: 0] += 1 } }
    func recordCommit(seconds: Double) { state.withLock { $0.commitLatency.observe(seconds) } }
    func recordUpstream(seconds: Double) { state.withLock { $0.upstreamLatency.observe(seconds) } }
    func inFlight(_ delta: Int) { state.withLock { $0.inFlight += delta } }

    /// The Prometheus text exposition format (version 0.0.4).
    public func render() -> String {
        let s = state.withLock { $0 }
        var out = ""
        out += "# HELP tally_gateway_calls_total Calls handled by the gateway, by service and outcome.\n"
        out += "# TYPE tally_gateway_calls_total counter\n"
        for (key, value) in s.calls.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            out += "tally_gateway_calls_total{service=\"\(escape(parts[0]))\",outcome=\"\(escape(parts.count > 1 ? parts[1] : ""))\"} \(value)\n"
        }
        out += "# HELP tally_gateway_denials_total Calls denied (authentication, guardrails, ledger), by reason.\n"
        out += "# TYPE tally_gateway_denials_total counter\n"
        for (key, value) in s.denials.sorted(by: { $0.key < $1.key }) {
            out += "tally_gateway_denials_total{reason=\"\(escape(key))\"} \(value)\n"
        }
        out += "# HELP tally_gateway_in_flight Calls currently being handled.\n# TYPE tally_gateway_in_flight gauge\n"
        out += "tally_gateway_in_flight \(s.inFlight)\n"
        out += "# HELP tally_gateway_bytes_total Body bytes from agents (in) and to agents (out).\n# TYPE tally_gateway_bytes_total counter\n"
        out += "tally_gateway_bytes_total{direction=\"in\"} \(s.bytesIn)\ntally_gateway_bytes_total{direction=\"out\"} \(s.bytesOut)\n"
        out += histogram("tally_gateway_request_duration_seconds", "End-to-end call latency in the gateway.", s.requestLatency)
        out += histogram("tally_gateway_upstream_duration_seconds", "Upstream latency (request sent to response head).", s.upstreamLatency)
        out += histogram("tally_gateway_ledger_commit_seconds", "Time to durably commit a ledger record (group commit).", s.commitLatency)
        return out
    }

    private func histogram(_ name: String, _ help: String, _ h: Histogram) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative: UInt64 = 0
        for (i, bound) in Self.buckets.enumerated() {
            cumulative += h.counts[i]
            out += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(h.sum)\n\(name)_count \(h.count)\n"
        return out
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
