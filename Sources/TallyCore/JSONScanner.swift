/// The byte-level JSON scanner shared by the tree parser (`JSONValue(parsing:)`) and the
/// direct canonicaliser (`JSONCanonicalizer`). Strict RFC 8259: no comments, no trailing commas,
/// no leading zeros, no raw control characters or invalid UTF-8 in strings, no lone surrogates.
struct JSONScanner {
    /// Deepest nesting of arrays and objects accepted.
    static let maxDepth = 512

    let buf: UnsafeBufferPointer<UInt8>
    var pos: Int = 0
    var depth: Int = 0

    init(_ buf: UnsafeBufferPointer<UInt8>) { self.buf = buf }

    func error(_ message: String, at position: Int? = nil) -> TallyError {
        TallyError(.badInput, "invalid JSON at byte \(position ?? pos): \(message)")
    }

    @inline(__always) var atEnd: Bool { pos >= buf.count }
    @inline(__always) var current: UInt8 { buf[pos] }

    @inline(__always) mutating func skipWhitespace() {
        while pos < buf.count {
            let c = buf[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { return }
        }
    }

    func describeCurrent() -> String {
        guard pos < buf.count else { return "end of input" }
        let c = buf[pos]
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x\(String(c, radix: 16))"
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard pos < buf.count, buf[pos] == byte else { throw error("expected \(what), found \(describeCurrent())") }
        pos += 1
    }

    mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth)") }
    }

    mutating func leave() { depth -= 1 }

    /// Consumes `true`, `false` or `null` (the first byte is already known to match).
    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let start = pos
        guard pos + n <= buf.count else { throw error("invalid literal", at: start) }
        let w = word.utf8Start
        for i in 0..<n where buf[pos + i] != w[i] { throw error("invalid literal", at: start) }
        pos += n
    }

    /// Validates a number at `pos`; returns its byte range.
    mutating func scanNumber() throws -> Range<Int> {
        let start = pos
        if pos < buf.count, buf[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < buf.count, isDigit(buf[pos]) else { throw error("a number needs a digit", at: pos) }
        if buf[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < buf.count, isDigit(buf[pos]) { throw error("leading zeros are not allowed in numbers", at: start) }
        } else {
            while pos < buf.count, isDigit(buf[pos]) { pos += 1 }
        }
        if pos < buf.count, buf[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < buf.count, isDigit(buf[pos]) else { throw error("a digit must follow the decimal point") }
            while pos < buf.count, isDigit(buf[pos]) { pos += 1 }
        }
        if pos < buf.count, buf[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < buf.count, buf[pos] == UInt8(ascii: "+") || buf[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < buf.count, isDigit(buf[pos]) else { throw error("a digit must follow the exponent marker") }
            var significant = 0
            var seenNonZero = false
            while pos < buf.count, isDigit(buf[pos]) {
                if buf[pos] != UInt8(ascii: "0") { seenNonZero = true }
                if seenNonZero { significant += 1 }
                pos += 1
            }
            if significant > 9 { throw error("number exponent out of range", at: start) }
        }
        return start..<pos
    }

    /// Fast path: when the string at `pos` has only bytes that are copied verbatim (no escape,
    /// control or non-ASCII byte), returns the index of its closing quote without consuming;
    /// otherwise nil.
    @inline(__always)
    func plainStringEnd() -> Int? {
        let base = buf.baseAddress!
        let end = buf.count
        var p = pos + 1
        while p < end {
            let c = base[p]
            if c == 0x22 { return p }
            if c == 0x5C || c < 0x20 || c >= 0x80 { return nil }
            p += 1
        }
        return nil
    }

    /// Scans the string whose opening quote is at `pos`.
    ///
    /// With `canonical` false, appends the decoded UTF-8 to `out`; with `canonical` true, appends
    /// the canonical escaped form (without quotes). Returns true when every decoded byte is ASCII.
    @discardableResult
    mutating func scanString(into out: inout [UInt8], canonical: Bool) throws -> Bool {
        let open = pos
        pos += 1  // opening quote
        var ascii = true
        while true {
            // Fast run of bytes that are copied verbatim in both forms.
            let runStart = pos
            let end = buf.count
            let base = buf.baseAddress!
            while pos < end {
                let c = base[pos]
                if c == 0x22 || c == 0x5C || c < 0x20 || c >= 0x80 { break }
                pos += 1
            }
            if pos > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<pos])) }
            guard pos < buf.count else { throw error("unterminated string", at: open) }
            let c = buf[pos]
            if c == 0x22 { pos += 1; return ascii }
            if c < 0x20 { throw error("raw control character 0x\(String(c, radix: 16)) in a string (escape it)") }
            if c >= 0x80 {
                ascii = false
                let n = try utf8SequenceLength()
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[pos..<pos + n]))
                pos += n
                continue
            }
            // Backslash escape.
            let escStart = pos
            guard pos + 1 < buf.count else { throw error("unterminated escape", at: escStart) }
            let e = buf[pos + 1]
            pos += 2
            var scalar: UInt32
            switch e {
            case UInt8(ascii: "\""): scalar = 0x22
            case UInt8(ascii: "\\"): scalar = 0x5C
            case UInt8(ascii: "/"): scalar = 0x2F
            case UInt8(ascii: "b"): scalar = 0x08
            case UInt8(ascii: "f"): scalar = 0x0C
            case UInt8(ascii: "n"): scalar = 0x0A
            case UInt8(ascii: "r"): scalar = 0x0D
            case UInt8(ascii: "t"): scalar = 0x09
            case UInt8(ascii: "u"):
                let hi = try hex4(at: escStart)
                if hi >= 0xD800 && hi <= 0xDBFF {
                    guard pos + 1 < buf.count, buf[pos] == 0x5C, buf[pos + 1] == UInt8(ascii: "u") else {
                        throw error("lone high surrogate \\u\(String(hi, radix: 16)) (not followed by a low surrogate)", at: escStart)
                    }
                    let lowStart = pos
                    pos += 2
                    let lo = try hex4(at: lowStart)
                    guard lo >= 0xDC00 && lo <= 0xDFFF else {
                        throw error("high surrogate \\u\(String(hi, radix: 16)) followed by \\u\(String(lo, radix: 16)), not a low surrogate", at: escStart)
                    }
                    scalar = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if hi >= 0xDC00 && hi <= 0xDFFF {
                    throw error("lone low surrogate \\u\(String(hi, radix: 16))", at: escStart)
                } else {
                    scalar = hi
                }
            default:
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: escStart)
            }
            if scalar >= 0x80 { ascii = false }
            if canonical { JSONCanonicalForm.appendEscaped(scalar: scalar, to: &out) } else { appendUTF8(scalar, to: &out) }
        }
    }

    private mutating func hex4(at escStart: Int) throws -> UInt32 {
        guard pos + 4 <= buf.count else { throw error("truncated \\u escape", at: escStart) }
        var v: UInt32 = 0
        for i in 0..<4 {
            let c = buf[pos + i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit in \\u escape", at: escStart)
            }
            v = v << 4 | d
        }
        pos += 4
        return v
    }

    /// Length of the well-formed UTF-8 sequence at `pos` (first byte ≥ 0x80), or throws.
    private func utf8SequenceLength() throws -> Int {
        let b0 = buf[pos]
        func cont(_ i: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            pos + i < buf.count && buf[pos + i] >= lo && buf[pos + i] <= hi
        }
        switch b0 {
        case 0xC2...0xDF: if cont(1) { return 2 }
        case 0xE0: if cont(1, 0xA0), cont(2) { return 3 }
        case 0xE1...0xEC, 0xEE...0xEF: if cont(1), cont(2) { return 3 }
        case 0xED: if cont(1, 0x80, 0x9F), cont(2) { return 3 }
        case 0xF0: if cont(1, 0x90), cont(2), cont(3) { return 4 }
        case 0xF1...0xF3: if cont(1), cont(2), cont(3) { return 4 }
        case 0xF4: if cont(1, 0x80, 0x8F), cont(2), cont(3) { return 4 }
        default: break
        }
        throw error("invalid UTF-8 in a string")
    }
}

@inline(__always) func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

/// Appends the UTF-8 encoding of a Unicode scalar value.
@inline(__always) func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
    switch v {
    case 0..<0x80: out.append(UInt8(v))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
    }
}
