import Testing
@testable import TallyAWS

/// `QueryString.rawPairs` splits on the bytes `&` and `=`.
@Suite struct QueryStringTests {
    private func pairs(_ q: String) -> [String] { QueryString.rawPairs(q).map { "\($0.name)|\($0.value)" } }

    @Test func splitsPairsAndValues() {
        #expect(pairs("") == [])
        #expect(pairs("a") == ["a|"])
        #expect(pairs("a=") == ["a|"])
        #expect(pairs("=b") == ["|b"])
        #expect(pairs("a=1&b=2") == ["a|1", "b|2"])
        #expect(pairs("a=b=c") == ["a|b=c"])
        #expect(pairs("&&a=1&&b&") == ["a|1", "b|"])
        #expect(pairs("k%C3%A9=v%20w&x=%2F") == ["k%C3%A9|v%20w", "x|%2F"])
        #expect(pairs("é=ü&ñ") == ["é|ü", "ñ|"])
    }

    /// The in-place byte scan against a plain reference split of the UTF-8 bytes, on random strings of separators,
    /// ASCII and non-ASCII (a combining mark right after `&` or `=` too, which a split by Character would not see as a
    /// separator); names and values compared byte for byte (String `==` would equate canonically equivalent text).
    @Test func byteScanEqualsAReferenceSplit() {
        func reference(_ q: String) -> [[UInt8]] {
            var out: [[UInt8]] = []
            for piece in Array(q.utf8).split(separator: 0x26, omittingEmptySubsequences: true) {
                if let eq = piece.firstIndex(of: 0x3D) {
                    out.append(Array(piece[..<eq]) + [0x7C] + Array(piece[(eq + 1)...]))
                } else {
                    out.append(Array(piece) + [0x7C])
                }
            }
            return out
        }
        let alphabet = ["&", "=", "a", "Z", "0", "%2F", "+", "é", "ü", "日本", "🙂", "-", ".", "\u{301}", "e\u{301}"]
        var state: UInt64 = 0xBADC_0FFE
        for _ in 0..<5_000 {
            var q = ""
            state = state &* 6364136223846793005 &+ 1442695040888963407
            for k in 0..<Int(state >> 59) { q += alphabet[Int((state >> UInt64(k * 2 % 60)) & 0xFFFF) % alphabet.count] }
            #expect(pairs(q).map { Array($0.utf8) } == reference(q), "\(q)")
        }
    }

    @Test func decodedPairsDecodePercentEscapes() {
        let d = QueryString.decodedPairs("X-Amz-Credential=AKID%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&x=a+b")
        #expect(d.map(\.name) == ["X-Amz-Credential", "x"])
        #expect(d.map(\.value) == ["AKID/20261126/us-east-1/s3/aws4_request", "a+b"])
    }
}

/// The canonical query takes a name or value as it is when it is already in canonical form; that shortcut must
/// give exactly what decoding and re-encoding gives, for every mix of unreserved bytes, reserved bytes, upper- and
/// lower-case escapes, escapes of unreserved bytes and malformed escapes.
@Suite struct CanonicalQueryShortcutTests {
    @Test func shortcutEqualsDecodeThenEncode() {
        let alphabet = ["a", "Z", "0", "-", "_", ".", "~", "/", "+", " ", "=", "%", "%2F", "%2f", "%41", "%7E", "%20",
                        "%C3%A9", "%c3", "%G1", "%2", "é", "*"]
        var state: UInt64 = 0x00C0_FFEE
        var shortcut = 0
        for _ in 0..<20_000 {
            var s = ""
            state = state &* 6364136223846793005 &+ 1442695040888963407
            for k in 0..<Int(state >> 60) { s += alphabet[Int((state >> UInt64(k * 4)) & 0xFFFF) % alphabet.count] }
            let sub = Substring(s)
            let slow = URIEncoding.encode(bytes: URIEncoding.decodeBytes(sub))
            #expect(SigV4.canonicalComponent(sub) == slow, "\(s)")
            if URIEncoding.isCanonicalEncoding(sub) {
                shortcut += 1
                #expect(s == slow, "\(s) taken as canonical but is \(slow)")
            }
        }
        #expect(shortcut > 500, "the shortcut was taken only \(shortcut) times")
        #expect(URIEncoding.isCanonicalEncoding("ASIA0000%2F20261127%2Fus-east-1%2Fs3%2Faws4_request"))
        #expect(!URIEncoding.isCanonicalEncoding("a%2fb"))
        #expect(!URIEncoding.isCanonicalEncoding("%41"))
        #expect(!URIEncoding.isCanonicalEncoding("a+b"))
    }
}
