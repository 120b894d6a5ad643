import Testing
import TallyCore

@Suite struct JSONValueTests {
    func canon(_ text: String) throws -> String {
        String(decoding: try JSONValue(parsing: Array(text.utf8)).canonicalBytes(), as: UTF8.self)
    }

    func direct(_ text: String) throws -> String {
        String(decoding: try JSONCanonicalizer.canonicalBytes(of: Array(text.utf8)), as: UTF8.self)
    }

    @Test func parsesAndReads() throws {
        let v = try JSONValue(parsing: #" { "type" : "call.requested", "n": [1, 2.5, true, null], "o": {} } "#)
        #expect(v["type"]?.stringValue == "call.requested")
        #expect(v["n"] == .array([.number("1"), .number("2.5"), .bool(true), .null]))
        #expect(v["o"] == .object([:]))
        #expect(v["missing"] == nil)
        #expect(JSONValue.int(42) == .number("42"))
        let literal: JSONValue = ["a": 1, "b": [true, nil, "x"]]
        #expect(literal["a"]?.intValue == 1)
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "duplicate key \"a\""),
        (#"{"a":1} x"#, "byte 8"),
        (#""\ud800""#, "lone high surrogate"),
        (#""\udc00""#, "lone low surrogate"),
        (#""\ud800\u0041""#, "not a low surrogate"),
        ("[01]", "leading zeros"),
        ("[1.]", "decimal point"),
        ("[1e]", "exponent"),
        ("{\"a\":\"\u{01}\"}", "control character"),
        (#"[1,]"#, "expected a value"),
        (#"{"a" 1}"#, "':'"),
        (#"{'a':1}"#, "string key"),
        ("", "end of input"),
        ("nul", "invalid literal"),
        (#""abc"#, "unterminated string"),
        (#""\x""#, "invalid escape"),
        (#"[1e1234567890]"#, "exponent out of range"),
        (#"[12345678901e999999999]"#, "canonical exponent"),
    ])
    func rejectsWithPosition(input: String, expected: String) {
        do {
            _ = try JSONValue(parsing: Array(input.utf8))
            Issue.record("accepted \(input)")
        } catch let e as TallyError {
            #expect(e.code == .badInput)
            #expect(e.reason.contains(expected), "\(e.reason)")
            #expect(e.reason.contains("byte"), "\(e.reason)")
        } catch { Issue.record("unexpected \(error)") }
        // The direct canonicaliser rejects exactly the same inputs.
        #expect(throws: TallyError.self) { _ = try JSONCanonicalizer.canonicalBytes(of: Array(input.utf8)) }
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        for bad: [UInt8] in [[0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xE2, 0x82, 0x22]] {
            #expect(throws: TallyError.self) { _ = try JSONValue(parsing: bad) }
            #expect(throws: TallyError.self) { _ = try JSONCanonicalizer.canonicalBytes(of: bad) }
        }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: TallyError.self) { _ = try JSONValue(parsing: deep) }
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONValue(parsing: ok)) != nil)
    }

    @Test(arguments: [
        ("0", "0"), ("-0", "0"), ("-0.0e5", "0"), ("1", "1"), ("-12", "-12"),
        ("1.0", "1"), ("1.50", "1.5"), ("1e2", "100"), ("1E+2", "100"), ("150e-2", "1.5"),
        ("0.000001", "0.000001"), ("0.0000001", "1e-7"), ("1e20", "100000000000000000000"), ("1e21", "1e+21"),
        ("123456789012345678901", "123456789012345678901"), ("123456789012345678901234", "1.23456789012345678901234e+23"),
        ("-1.25e-10", "-1.25e-10"), ("12.34e1", "123.4"), ("0.1", "0.1"), ("100", "100"),
        ("1234.5678e-2", "12.345678"), ("1e999999999", "1e+999999999"), ("-1e-999999999", "-1e-999999999"), ("4.0e-0007", "4e-7"), ("9007199254740993", "9007199254740993"),
    ])
    func canonicalNumbers(input: String, expected: String) throws {
        #expect(try canon("[\(input)]") == "[\(expected)]")
        #expect(try direct("[\(input)]") == "[\(expected)]")
    }

    @Test func canonicalStringsAndOrder() throws {
        let input = #"{"b":"\u00e9\/\u0007\n\"\\","a":{"z":1,"y":[{"d":1,"c":2}]},"\u00e9":1,"Z":true,"é2":null}"#
        let expected = "{\"Z\":true,\"a\":{\"y\":[{\"c\":2,\"d\":1}],\"z\":1},\"b\":\"é/\\u0007\\n\\\"\\\\\",\"é\":1,\"é2\":null}"
        #expect(try canon(input) == expected)
        #expect(try direct(input) == expected)
        // Supplementary characters sort by code point (UTF-8 byte order), after U+FFFD.
        let astral = #"{"\ud83d\ude00":1,"\ufffd":2}"#
        #expect(try direct(astral) == "{\"\u{FFFD}\":2,\"😀\":1}")
        #expect(try canon(astral) == "{\"\u{FFFD}\":2,\"😀\":1}")
    }

    @Test func canonicalIsIdempotentAndMatchesTreePath() throws {
        let samples = [
            #"{"type":"call.requested","request":{"service":"s3","op":"GetObject","params":{"Bucket":"b","Key":"a/b c"}},"n":-3.50,"ok":false}"#,
            #"[{"k":"\t"}, "x", 1e-9, {"a":{"b":{"c":[]}}}]"#,
            #""just a string""#, "true", "null", "  7  ",
        ]
        for s in samples {
            let once = try direct(s)
            #expect(try canon(s) == once)
            #expect(try direct(once) == once)
        }
    }

    @Test func canonicallyEquivalentKeysAreDuplicates() {
        let nfc = "{\"\u{00E9}\":1,\"e\u{0301}\":2}"
        #expect(throws: TallyError.self) { _ = try JSONValue(parsing: nfc) }
        #expect(throws: TallyError.self) { _ = try JSONCanonicalizer.canonicalBytes(of: Array(nfc.utf8)) }
    }

    @Test func eventValidation() throws {
        func event(_ s: String) throws -> String {
            var c = JSONCanonicalizer()
            var out: [UInt8] = []
            let bytes = Array(s.utf8)
            try bytes.withUnsafeBufferPointer { try c.canonicalizeEvent($0, into: &out) }
            return String(decoding: out, as: UTF8.self)
        }
        #expect(try event(#"{"x":{"type":1},"type":"a"}"#) == #"{"type":"a","x":{"type":1}}"#)
        #expect(throws: TallyError.self) { _ = try event(#"{"x":{"type":"nested only"}}"#) }
        #expect(throws: TallyError.self) { _ = try event(#"{"type":5}"#) }
        #expect(throws: TallyError.self) { _ = try event(#"["type"]"#) }
        #expect(throws: TallyError.self) { _ = try event(#"{"type":"a""#) }
    }

    @Test func handBuiltInvalidNumbersFailValidation() {
        let v: JSONValue = .object(["type": "x", "n": .number("01")])
        #expect(throws: TallyError.self) { try v.validate() }
        #expect(String(decoding: v.canonicalBytes(), as: UTF8.self) == #"{"n":null,"type":"x"}"#)
    }

    /// A hand-built value with a bad number names where it is; valid values pass.
    @Test func validateNamesThePathOfABadNumber() throws {
        let bad: JSONValue = .object(["type": "t", "a": .array([.number("1"), .object(["n": .number("1.e5")])])])
        do {
            try bad.validate()
            Issue.record("a bad number was accepted")
        } catch let e as TallyError {
            #expect(e.reason == #"$.a[1].n: "1.e5" is not a valid JSON number"#)
        }
        try JSONValue.object(["type": "t", "a": .array([.number("-0.5e3"), .object(["n": .number("7")])])]).validate()
    }
}
