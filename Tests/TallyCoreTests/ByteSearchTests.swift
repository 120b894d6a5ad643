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
}
