import Testing
import TallyCore

/// `ByteSearch.contains` (memmem) against a naive search over every placement of the needle.
@Suite struct ByteSearchTests {
    static func naive(_ h: [UInt8], _ n: [UInt8]) -> Bool {
        guard !n.isEmpty else { return true }
        guard h.count >= n.count else { return false }
        return (0...(h.count - n.count)).contains { Array(h[$0..<($0 + n.count)]) == n }
    }

    @Test func agreesWithANaiveSearch() {
        let needle = Array("\"credential.".utf8)
        let filler = Array(#"{"a":"b","c":"credential","d":"x"}"#.utf8)
        for length in 0..<80 {
            var hay = Array(filler.prefix(length))
            for at in [nil] + Array(0...hay.count).map(Optional.some) {
                var h = hay
                if let at { h.insert(contentsOf: needle, at: at) }
                let got = h.withUnsafeBytes { hb in needle.withUnsafeBytes { ByteSearch.contains(hb, $0) } }
                #expect(got == Self.naive(h, needle), "length \(length), needle at \(at.map(String.init) ?? "none")")
                #expect(got == (at != nil))
            }
            hay.removeAll()
        }
        let almost = Array("\"credential".utf8)  // one byte short at the very end
        #expect(!almost.withUnsafeBytes { hb in needle.withUnsafeBytes { ByteSearch.contains(hb, $0) } })
        #expect([UInt8]().withUnsafeBytes { hb in needle.withUnsafeBytes { !ByteSearch.contains(hb, $0) } })
    }

    /// `rangeOfBytes` finds the same range as a search over the string's UTF-8 view, in strings and substrings with
    /// multi-byte characters before the needle, and nothing where it is absent.
    @Test func stringRangeOfBytesAgreesWithTheUTF8View() {
        let texts = ["", "Action=List", "X-Amz-Date=1&Action=ListUsers", "é€😀&Action=x", "&Actio", "&Action"]
        for text in texts {
            for needle in ["&Action=", "Action", "é€", "😀&", "", "x"] {
                let expected: Int? = needle.isEmpty ? 0 : (0..<max(0, text.utf8.count - needle.utf8.count + 1)).first {
                    Array(text.utf8.dropFirst($0).prefix(needle.utf8.count)) == Array(needle.utf8)
                }
                let got = text.rangeOfBytes(needle)
                #expect(got.map { text.utf8.distance(from: text.startIndex, to: $0.lowerBound) } == expected, "\(text) / \(needle)")
                if let got { #expect(String(text[got]) == needle) }
                #expect(text.containsBytes(needle) == (expected != nil))
            }
        }
        let sub = "ignored|Credential=AKIA/x"[...].dropFirst(8)
        let r = sub.rangeOfBytes("Credential=")
        #expect(r.map { String(sub[$0.upperBound...]) } == "AKIA/x")
        #expect("Credential".rangeOfBytes("Credential=") == nil)
    }
}
