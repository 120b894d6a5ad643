import Testing
import TallyCore
@testable import TallyLedger

@Suite struct JSONLinesBatcherTests {
    func feed(_ b: inout JSONLinesBatcher, _ text: [UInt8], end: Bool = true) -> (EventBatch, TallyError?) {
        text.withUnsafeBytes { b.feed($0, endOfInput: end) }
    }

    @Test func largeInputIsSplitAcrossCoresInOrderAndStopsAtTheFirstBadLine() {
        var text: [UInt8] = []
        for i in 0..<6000 { text += Array(#"{"n":\#(i), "type":"t","pad":"\#(String(repeating: "x", count: 60))"}"#.utf8) + [0x0A] }
        let badLine = 4321
        var lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        lines[badLine - 1] = Array(#"{"type": 1}"#.utf8)
        text = Array(lines.joined(separator: [0x0A]))
        var b = JSONLinesBatcher(parts: 2)
        let (batch, error) = feed(&b, text)
        #expect(error?.reason.hasPrefix("line \(badLine):") == true, "\(String(describing: error))")
        #expect(batch.count == badLine - 1)
        let firstEvent = String(decoding: batch.bytes[0..<batch.ends[0]], as: UTF8.self)
        #expect(firstEvent.hasPrefix(#"{"n":0,"#))
        let last = String(decoding: batch.bytes[batch.start(of: batch.count - 1)..<batch.ends[batch.count - 1]], as: UTF8.self)
        #expect(last.hasPrefix(#"{"n":\#(badLine - 2),"#))
    }

    @Test func partialLinesWaitForMoreInputAndLimitsApply() {
        var b = JSONLinesBatcher(maxLineBytes: 100)
        var (batch, error) = feed(&b, Array(#"{"type":"a"}"#.utf8) + [0x0A] + Array(#"{"type":"#.utf8), end: false)
        #expect(batch.count == 1 && error == nil)
        (batch, error) = feed(&b, Array(#""b"}"#.utf8) + [0x0A, 0x0A, 0x20, 0x0A], end: false)
        #expect(batch.count == 1 && error == nil && b.lineNumber == 4)
        (batch, error) = feed(&b, Array(repeating: UInt8(ascii: "x"), count: 150), end: false)
        #expect(batch.count == 0 && error?.reason.contains("line 5") == true)
    }
}
