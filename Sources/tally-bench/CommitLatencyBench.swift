import ArgumentParser
import Foundation
import TallyCore
import TallyLedger
#if canImport(Glibc)
import Glibc
#endif

/// `tally-bench commit-latency` — the latency of one awaited `Ledger.append` (the gateway's
/// `call.requested`, ~600 bytes), optionally with a deferred append after each (its `call.completed`),
/// from `callers` concurrent tasks, beside the physical floor measured in the same run in the same
/// directory: write + fdatasync of a small append.
struct CommitLatencyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commit-latency",
                                                    abstract: "Latency of durable ledger appends vs write+fdatasync.")
    @Option(help: "Awaited appends per caller.") var appends = 2000
    @Option(help: "Concurrent callers (tasks), each appending one event at a time.") var callers = 1
    @Option(help: "Pause between a caller's appends, in microseconds (0: back to back).") var pauseMicros = 1000
    @Flag(help: "After each awaited append, also queue a deferred one (as the gateway does for call.completed).")
    var withDeferred = false
    @Option(help: "Directory for the benchmark home (default: a new temp dir under the current directory).") var dir: String?

    func run() async throws {
        let base = dir ?? FileManager.default.currentDirectoryPath + "/.bench-commit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: base) } }

        // The floor: write 512 bytes + fdatasync, appended to a file in the same directory.
        let probe = base + "/fsync-probe"
        let fd = open(probe, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { throw TallyError(.io, "cannot create \(probe)") }
        let block = [UInt8](repeating: 0x78, count: 512)
        var floor: [Double] = []
        for _ in 0..<1000 {
            let t = DispatchTime.now().uptimeNanoseconds
            _ = block.withUnsafeBytes { write(fd, $0.baseAddress, 512) }
            fdatasync(fd)
            floor.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        close(fd)

        let home = base + "/home"
        _ = try Ledger.initialize(home: home)
        let ledger = try await Ledger.open(home: home)
        let event: JSONValue = [
            "type": "call.requested", "callId": "0123456789abcdef0123456789abcdef", "accessKeyId": "ASIATLYBENCH00000000",
            "principal": "bench", "session": "ASIATLYBENCH00000000", "service": "s3", "operation": "GetObject",
            "region": "us-east-1", "method": "GET", "path": "/bench/object", "decision": "allow", "mapped": true,
            "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::bench/object"],
            "permissions": [["action": "s3:GetObject", "resources": ["arn:aws:s3:::bench/object"]]],
            "upstreamIdentity": "AKIABENCHUPSTREAM000", "payloadMode": "UNSIGNED-PAYLOAD", "sourceAddress": "127.0.0.1",
        ]
        let completed: JSONValue = [
            "type": "call.completed", "callId": "0123456789abcdef0123456789abcdef", "outcome": "ok", "status": 200,
            "latencyMs": 0.5, "bytesIn": 0, "bytesOut": 3,
        ]
        let appends = self.appends, pause = UInt64(pauseMicros), withDeferred = self.withDeferred
        let started = DispatchTime.now().uptimeNanoseconds
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var lat: [Double] = []
                    lat.reserveCapacity(appends)
                    for _ in 0..<appends {
                        let t = DispatchTime.now().uptimeNanoseconds
                        _ = try await ledger.append(event)
                        lat.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                        if withDeferred { try ledger.appendDeferred(completed) { _ in } }
                        if pause > 0 { try await Task.sleep(nanoseconds: pause * 1000) }
                    }
                    return lat
                }
            }
            var all: [Double] = []
            for try await l in group { all += l }
            return all
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let records = try await ledger.size
        try await ledger.close()

        func pct(_ xs: [Double], _ p: Double) -> String {
            let s = xs.sorted()
            return String(format: "%.3f", s[min(s.count - 1, Int(Double(s.count) * p))])
        }
        print("floor  write 512 B + fdatasync: p50 \(pct(floor, 0.5)) ms, p99 \(pct(floor, 0.99)) ms (1000 in a row)")
        print("ledger awaited append (\(callers) caller(s), \(pauseMicros) us pause\(withDeferred ? ", + 1 deferred append each" : "")): "
              + "p50 \(pct(latencies, 0.5)) ms, p99 \(pct(latencies, 0.99)) ms; "
              + String(format: "%.0f awaited appends/s, %llu records", Double(latencies.count) / seconds, records))
    }
}
