import Foundation
import TallyCore
@testable import TallyLedger

/// A fresh temporary directory for one test, removed by `cleanup()`.
struct TempHome {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tally-ledger-test-\(UUID().uuidString)").path
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Small, fast options for tests (few epoch keys).
func testOptions(epochCount: Int = 8, epochSeconds: Int64 = 3600) -> LedgerOptions {
    var o = LedgerOptions()
    o.epochCount = epochCount
    o.epochSeconds = epochSeconds
    o.origin = "test.tally/ledger"
    return o
}

/// Creates a ledger in `home` with `options`, appends each of `batches` as one commit, and closes it.
func writeLedger(_ home: TempHome, options: LedgerOptions, batches: [[JSONValue]]) async throws {
    _ = try Ledger.initialize(home: home.path, options: options)
    let ledger = try await Ledger.open(home: home.path, options: options)
    for b in batches { _ = try await ledger.append(contentsOf: b) }
    try await ledger.close()
}

func sampleEvent(_ i: Int) -> JSONValue {
    ["type": "call.requested", "n": .int(i), "service": "s3", "operation": "GetObject",
     "params": ["Bucket": .string("bucket-\(i % 7)"), "Key": .string("k/\(i)")]]
}

/// A mutable clock for tests that cross epochs.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var ms: Int64
    init(_ ms: Int64) { self.ms = ms }
    var now: Int64 { lock.lock(); defer { lock.unlock() }; return ms }
    func advance(_ d: Int64) { lock.lock(); ms += d; lock.unlock() }
}
