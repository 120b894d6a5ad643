import Testing
import TallyIAM

@Suite("Wildcard matcher")
struct PolicyWildcardTests {
    /// An independent, obviously-correct recursive matcher over characters.
    static func reference(_ p: Substring, _ s: Substring) -> Bool {
        guard let c = p.first else { return s.isEmpty }
        if c == "*" { return reference(p.dropFirst(), s) || (!s.isEmpty && reference(p, s.dropFirst())) }
        guard let d = s.first else { return false }
        return (c == "?" || c == d) && reference(p.dropFirst(), s.dropFirst())
    }

    @Test func knownCases() {
        let cases: [(String, String, Bool)] = [
            ("*", "", true), ("*", "anything", true), ("", "", true), ("", "a", false),
            ("s3:Get*", "s3:GetObject", true), ("s3:Get*", "s3:PutObject", false),
            ("a?c", "abc", true), ("a?c", "ac", false), ("a?c", "aéc", true),
            ("*a*b*", "xxaxxbxx", true), ("*a*b*", "xxbxxaxx", false), ("a*b*c", "abbbc", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/", true), ("arn:aws:s3:::b/*", "arn:aws:s3:::b", false),
            ("**", "x", true), ("*?", "", false), ("?*", "x", true),
        ]
        for (p, s, expected) in cases {
            #expect(WildcardPattern(p).matches(s) == expected, "\(p) ~ \(s)")
        }
        #expect(WildcardPattern("S3:GET*", caseInsensitive: true).matches("s3:getobject"))
        #expect(WildcardPattern("S3:GET*", caseInsensitive: true).matches("S3:GetObject"))
        #expect(!WildcardPattern("S3:GET*").matches("s3:GetObject"))
    }

    @Test func agreesWithAReferenceMatcherOnRandomInputs() {
        var g = SeededGenerator(seed: 42)
        let alphabet: [Character] = ["a", "b", ":", "/", "é"]
        for _ in 0..<5000 {
            let p = String((0..<Int(g.next() % 7)).map { _ -> Character in
                let r = g.next() % 8
                return r == 0 ? "*" : r == 1 ? "?" : alphabet[Int(g.next() % UInt64(alphabet.count))]
            })
            let s = String((0..<Int(g.next() % 8)).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
            #expect(WildcardPattern(p).matches(s) == Self.reference(Substring(p), Substring(s)), "\(p) ~ \(s)")
        }
    }
}
