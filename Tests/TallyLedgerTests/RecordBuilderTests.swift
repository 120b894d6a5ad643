import Testing
import TallyCore
@testable import TallyLedger

/// The leaf hash keeps its `,"seq":N,...` suffix between calls and increments the digits in
/// place: it must equal SHA-256(0x00 ‖ record bytes) for every seq and time sequence.
@Suite struct RecordBuilderTests {
    @Test func incrementalLeafEqualsTheLeafOfTheRecordBytes() {
        var b = RecordBuilder()
        let event = Array(#"{"type":"call.requested","n":1}"#.utf8)
        var seqs: [UInt64] = Array(1...120) + Array(995...1_012) + [99_999, 100_000, 100_001, 7, 8, 9, 10, 5, 9_999_999, 10_000_000]
        seqs += [UInt64.max - 1, UInt64.max]
        var time: Int64 = 1_800_000_000_000
        for (k, seq) in seqs.enumerated() {
            if k % 37 == 0 { time += 1 }
            let fast = event.withUnsafeBytes { b.leaf(event: $0, seq: seq, time: time) }
            let record = event.withUnsafeBytes { RecordBuilder.record(event: $0, seq: seq, time: time) }
            #expect(fast == LedgerHash.leaf(record), "seq \(seq)")
        }
    }
}
