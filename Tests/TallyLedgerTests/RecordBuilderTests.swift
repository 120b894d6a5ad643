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

    /// Leaves two at a time (`leafPair`, hashed together) equal the leaf of each record's bytes,
    /// across digit-count changes, time changes inside a pair and events of different lengths.
    @Test func pairedLeavesEqualTheLeavesOfTheRecordBytes() {
        var b = RecordBuilder()
        let events = [Array(#"{"type":"call.requested","n":1}"#.utf8),
                      Array((#"{"pad":""# + String(repeating: "x", count: 517) + #"","type":"t"}"#).utf8)]
        let seqs: [UInt64] = Array(1...40) + Array(95...104) + Array(9_998...10_003) + [UInt64.max - 1, UInt64.max]
        var time: Int64 = 1_800_000_000_000
        var k = 0
        while k + 1 < seqs.count {
            let (s0, s1) = (seqs[k], seqs[k + 1])
            let t0 = time, t1 = k % 3 == 0 ? time + 1 : time
            time = t1
            let (e0, e1) = (events[k % 2], events[(k / 2) % 2])
            let (l0, l1) = e0.withUnsafeBytes { a in e1.withUnsafeBytes { c in b.leafPair(a, seq: s0, time: t0, c, seq: s1, time: t1) } }
            #expect(l0 == LedgerHash.leaf(e0.withUnsafeBytes { RecordBuilder.record(event: $0, seq: s0, time: t0) }), "seq \(s0)")
            #expect(l1 == LedgerHash.leaf(e1.withUnsafeBytes { RecordBuilder.record(event: $0, seq: s1, time: t1) }), "seq \(s1)")
            k += 2
        }
    }
}
