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

    /// Reference for Resource patterns: a `*` followed by more of its segment cannot cross `:`.
    static func arnReference(_ p: [Character], _ s: [Character]) -> Bool {
        guard let c = p.first else { return s.isEmpty }
        if c == "*" {
            let segmentStar = p.count > 1 && p[1] != ":"
            if arnReference(Array(p.dropFirst()), s) { return true }
            guard let d = s.first, !(segmentStar && d == ":") else { return false }
            return arnReference(p, Array(s.dropFirst()))
        }
        guard let d = s.first else { return false }
        return (c == "?" || c == d) && arnReference(Array(p.dropFirst()), Array(s.dropFirst()))
    }

    @Test func resourcePatternsKeepMidSegmentStarsInTheirSegment() {
        #expect(WildcardPattern(arnResource: "arn:aws:sqs:us-*-1:123:q").matches("arn:aws:sqs:us-east-1:123:q"))
        #expect(!WildcardPattern(arnResource: "arn:aws:sqs:us-*-1:123:q").matches("arn:aws:sqs:us-east:x-1:123:q"))
        #expect(WildcardPattern("arn:aws:sqs:us-*-1:123:q").matches("arn:aws:sqs:us-east:x-1:123:q"))  // plain glob would
        // A star that ends its segment may run past colons.
        #expect(WildcardPattern(arnResource: "arn:aws:s3:::b*").matches("arn:aws:s3:::b:x:y"))
        #expect(WildcardPattern(arnResource: "arn:aws:iam::*:role/x").matches("arn:aws:iam::123:role/x"))
        #expect(WildcardPattern(arnResource: "arn:aws:lambda:*:*:function:f*").matches("arn:aws:lambda:us-east-1:1:function:f:prod"))
        var g = SeededGenerator(seed: 7)
        let alphabet: [Character] = ["a", "b", ":", "/", "é"]
        for _ in 0..<3000 {
            let p = (0..<Int(g.next() % 7)).map { _ -> Character in
                let r = g.next() % 7
                return r == 0 ? "*" : r == 1 ? "?" : alphabet[Int(g.next() % UInt64(alphabet.count))]
            }
            let s = (0..<Int(g.next() % 8)).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }
            #expect(WildcardPattern(arnResource: String(p)).matches(String(s)) == Self.arnReference(p, s), "\(String(p)) ~ \(String(s))")
        }
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
