import Testing
@testable import TallyCore

/// The fast path of `canonicalizeEvent` copies inputs that are already canonical. Its contract:
/// when it accepts, the input is a valid event and equals its canonical form (as computed by
/// the independent tree path `JSONValue(parsing:).canonicalBytes()`); and it accepts the
/// canonical forms Tally's producers write, or it would be useless.
@Suite struct CanonicalFastPathTests {
    /// A small deterministic generator (SplitMix64) so failures reproduce.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    }

    static let numbers = ["0", "-0", "7", "-12", "10", "100", "1.5", "1.50", "0.5", "-0.25", "0.000001", "0.0000001",
                          "0.0", "01", "1e2", "1E-7", "123456789012345678901", "1234567890123456789012", "12.0",
                          "-", "1.", ".5", "3.14159", "99999999999999999999.5", "0.00001", "-0.000001", "2e+21"]
    static let strings = ["", "a", "s3:GetObject", "arn:aws:s3:::bucket/key with spaces", "tab\\there", "quote\\\"d",
                          "\\u00e9", "é", "del\u{7F}", "slash\\/", "eight-by-eight-bytes-long-string-12345678", "\\n", "x\\u0001"]
    static let keys = ["a", "b", "type", "Type", "aa", "ab", "", "z", "\\u0061", "é", "ty", "types", "A"]

    func value(_ r: inout Rng, depth: Int) -> String {
        switch r.below(depth > 3 ? 3 : 6) {
        case 0: return r.pick(Self.numbers)
        case 1: return "\"" + r.pick(Self.strings) + "\""
        case 2: return r.pick(["true", "false", "null", "tru", "nul", "falsey"])
        case 3: return object(&r, depth: depth + 1, top: false)
        case 4: return "[" + (0..<r.below(4)).map { _ in value(&r, depth: depth + 1) }.joined(separator: r.below(20) == 0 ? ", " : ",") + "]"
        default: return "\"" + r.pick(Self.strings) + "\""
        }
    }

    func object(_ r: inout Rng, depth: Int, top: Bool) -> String {
        var ks = (0..<r.below(6)).map { _ in r.pick(Self.keys) }
        if top && r.below(4) != 0 { ks.append("type") }
        if r.below(2) == 0 { ks.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
        let members = ks.map { k -> String in
            let v = (top && k == "type" && r.below(5) != 0) ? "\"call.requested\"" : value(&r, depth: depth)
            return "\"\(k)\"" + (r.below(30) == 0 ? " : " : ":") + v
        }
        return "{" + members.joined(separator: ",") + "}" + (r.below(40) == 0 ? " " : "")
    }

    func fast(_ s: String) -> Bool {
        Array(s.utf8).withUnsafeBufferPointer { CanonicalEventCheck.isCanonicalEvent($0) }
    }

    /// The tree path's verdict on `s` as an event: its canonical text, or nil if it is not a valid event.
    func treeCanonicalEvent(_ s: String) -> String? {
        guard let v = try? JSONValue(parsing: Array(s.utf8)), case .object(let o) = v, case .string = o["type"] else { return nil }
        return String(decoding: v.canonicalBytes(), as: UTF8.self)
    }

    @Test func acceptsOnlyValidEventsThatAreTheirOwnCanonicalForm() {
        var r = Rng(state: 0x7A11_7A11)
        var accepted = 0, canonicalASCII = 0, canonicalASCIIAccepted = 0
        for _ in 0..<40_000 {
            let s = object(&r, depth: 0, top: true)
            let tree = treeCanonicalEvent(s)
            if fast(s) {
                accepted += 1
                #expect(tree == s, "fast path accepted \(s) but its canonical form is \(tree ?? "invalid")")
            }
            // Completeness: canonical outputs without escapes, non-ASCII or exponents must take the fast path.
            if let t = tree, t.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x5C }), !t.contains("e+"), !t.contains("e-") {
                canonicalASCII += 1
                if fast(t) { canonicalASCIIAccepted += 1 } else { Issue.record("fast path refused canonical \(t)") }
            }
        }
        #expect(accepted > 1_000, "fast path accepted only \(accepted) inputs")
        #expect(canonicalASCII > 2_000, "only \(canonicalASCII) canonical ASCII events were generated")
        #expect(canonicalASCIIAccepted == canonicalASCII)
    }

    /// The check works sixteen bytes at a time: a closing quote, or a byte that forces the full path
    /// (backslash, control, non-ASCII), is found at every position of strings of every length around
    /// those boundaries, in keys and values, and in the input's tail.
    @Test func everyPositionAroundVectorBoundaries() {
        for length in 0..<70 {
            let plain = String((0..<length).map { Character(UnicodeScalar(UInt8(0x61 + $0 % 26))) })
            #expect(fast(#"{"type":"\#(plain)"}"#), "length \(length)")
            #expect(fast(#"{"\#(plain)z":1,"type":"t"}"#) == (plain + "z" < "type"), "key of length \(length + 1)")
            for position in 0..<length {
                for bad: UInt8 in [0x5C, 0x01, 0x1F, 0x80, 0xC3, 0xFF, 0x0A, 0x22] {
                    var bytes = Array(plain.utf8)
                    bytes[position] = bad
                    let event = Array(#"{"type":""#.utf8) + bytes + Array(#""}"#.utf8)
                    let accepted = event.withUnsafeBufferPointer { CanonicalEventCheck.isCanonicalEvent($0) }
                    #expect(!accepted, "byte \(bad) at \(position) of a \(length)-byte string")
                }
            }
        }
    }

    /// Lines up to 4 KiB use a quote bitmap built in the vector pass (64 bytes per word), longer
    /// ones scan for quotes: events whose quotes fall on every position around the word edges, and
    /// lines on both sides of the 4 KiB threshold, with a bad byte or a missing closing quote.
    @Test func quoteMapAroundWordEdgesAndTheLongLineThreshold() {
        let frame = #"{"pad":"","type":"t"}"#.utf8.count
        for n in Array(frame...200) + Array(4080...4110) {
            let pad = String(repeating: "p", count: n - frame)
            let event = #"{"pad":"\#(pad)","type":"t"}"#
            #expect(event.utf8.count == n)
            #expect(fast(event), "length \(n)")
            #expect(!fast(String(event.dropLast(2)) + "}"), "closing quote of type dropped, length \(n)")
            #expect(!fast(#"{"pad":"\#(pad)","type":"t"#), "unterminated, length \(n - 2)")
            for position in Set([8, 8 + pad.count / 2, 8 + max(pad.count - 1, 0)]) where position < 8 + pad.count {
                var bytes = Array(event.utf8)
                bytes[position] = 0x5C
                #expect(!bytes.withUnsafeBufferPointer { CanonicalEventCheck.isCanonicalEvent($0) }, "backslash at \(position) of \(n)")
                bytes[position] = 0x22  // a quote ends the string early: the rest is not JSON
                #expect(!bytes.withUnsafeBufferPointer { CanonicalEventCheck.isCanonicalEvent($0) }, "quote at \(position) of \(n)")
            }
        }
    }

    @Test func knownCases() {
        #expect(fast(#"{"a":[1,-2,0.5,1.25,"x",true,false,null,{}],"type":"t"}"#))
        #expect(fast(#"{"type":"t","z":{"b":{"c":[]}}}"#))
        #expect(!fast(#"{"type":"t","a":1}"#))            // unsorted
        #expect(!fast(#"{"a":1,"a":2,"type":"t"}"#))      // duplicate
        #expect(!fast(#"{"type":1}"#))                     // non-string type
        #expect(!fast(#"{"x":{"type":"t"}}"#))             // nested type only
        #expect(!fast(#"{"type":"t"} "#))                  // trailing whitespace
        #expect(!fast(#"{"n":1e2,"type":"t"}"#))           // exponent
        #expect(!fast(#"{"n":-0,"type":"t"}"#))            // -0 is 0
        #expect(!fast(#"{"n":1.0,"type":"t"}"#))           // 1.0 is 1
        #expect(!fast(#"{"n":0.0000001,"type":"t"}"#))     // 1e-7
        #expect(!fast(#"{"s":"a\/b","type":"t"}"#))        // escape
        #expect(!fast("{\"s\":\"\u{1}\",\"type\":\"t\"}"))  // raw control byte (invalid)
        #expect(!fast(#"{"type":"t""#))                    // unterminated
        let deep = "{\"type\":\"t\",\"x\":" + String(repeating: "[", count: 520) + String(repeating: "]", count: 520) + "}"
        #expect(!fast(deep))
        // Through the public API the result is the same either way.
        var c = JSONCanonicalizer()
        for s in [#"{"a":[1,0.5],"type":"t"}"#, #"{"type":"t","a":[1,0.50]}"#] {
            var out: [UInt8] = []
            Array(s.utf8).withUnsafeBufferPointer { try? c.canonicalizeEvent($0, into: &out) }
            #expect(String(decoding: out, as: UTF8.self) == #"{"a":[1,0.5],"type":"t"}"#)
        }
    }
}
