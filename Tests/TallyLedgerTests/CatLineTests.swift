import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// `tally ledger cat`'s line format (``LedgerReader/catLine(seq:time:event:into:)``) and the record-time text it
/// (and the record hash) uses.
@Suite struct CatLineTests {
    private func line(_ event: String, seq: UInt64 = 7, time: Int64 = 1_800_000_000_123) -> String {
        var out: [UInt8] = []
        Array(event.utf8).withUnsafeBytes { LedgerReader.catLine(seq: seq, time: time, event: $0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func theEventsMembersFollowSeqAndTime() {
        #expect(line(#"{"a":1,"type":"x"}"#) == #"{"seq":7,"time":"2027-01-15T08:00:00.123Z","a":1,"type":"x"}"# + "\n")
        #expect(line("{}", seq: 18_446_744_073_709_551_615, time: 0)
                == #"{"seq":18446744073709551615,"time":"1970-01-01T00:00:00.000Z"}"# + "\n")
    }

    @Test func anEventWithItsOwnTopLevelSeqOrTimeIsWrapped() {
        #expect(line(#"{"seq":1,"type":"x"}"#) == #"{"seq":7,"time":"2027-01-15T08:00:00.123Z","event":{"seq":1,"type":"x"}}"# + "\n")
        #expect(line(#"{"time":"t","type":"x"}"#)
                == #"{"seq":7,"time":"2027-01-15T08:00:00.123Z","event":{"time":"t","type":"x"}}"# + "\n")
    }

    @Test func seqOrTimeDeeperDownOrInsideAStringIsNotAConflict() {
        #expect(line(#"{"a":{"seq":1},"type":"x"}"#) == #"{"seq":7,"time":"2027-01-15T08:00:00.123Z","a":{"seq":1},"type":"x"}"# + "\n")
        #expect(line(#"{"note":"\"time\":","type":"x"}"#)
                == #"{"seq":7,"time":"2027-01-15T08:00:00.123Z","note":"\"time\":","type":"x"}"# + "\n")
    }

    /// The record time's text is part of every record's hash: it must not change. Compared with Foundation's own
    /// formatting over the whole supported range (years 0000–9999 are written with four digits).
    @Test func recordTimesMatchAnIndependentFormatter() {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.calendar = Calendar(identifier: .iso8601)
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
        var g = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, 1, 999, 1000, 59_999, 86_399_999, 86_400_000, 951_782_400_000, 1_800_000_000_123,
                                253_402_300_799_999]
        for _ in 0..<2000 { samples.append(Int64.random(in: 0...253_402_300_799_999, using: &g)) }
        for ms in samples {
            let expected = f.string(from: Date(timeIntervalSince1970: Double(ms / 1000))).replacingOccurrences(
                of: ".000Z", with: String(format: ".%03dZ", Int(ms % 1000)))
            #expect(LedgerTime.string(ms) == expected, "\(ms)")
        }
    }
}
