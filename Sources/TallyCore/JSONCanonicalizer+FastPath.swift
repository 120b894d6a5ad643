/// A validating scan that recognises events which are already in canonical form, so that
/// `ledger append` can copy them verbatim instead of rebuilding them byte by byte. Tally's own
/// producers (the gateway, ingest, reviews) write canonical JSON, so this is the common case.
///
/// The check is conservative: `true` means the input is a valid event whose canonical form is
/// exactly the input bytes; `false` means only "take the full canonicaliser" (which then either
/// rebuilds the canonical form or rejects the input with its precise error). Inputs with
/// escapes, non-ASCII bytes, exponents, whitespace or nesting deeper than the parser's limit
/// always take the full path.
struct CanonicalEventCheck {
    private let p: UnsafePointer<UInt8>
    private let n: Int
    private var i = 0
    private var depth = 0
    private var sawType = false

    private init(_ buf: UnsafeBufferPointer<UInt8>) {
        p = buf.baseAddress!
        n = buf.count
    }

    /// True when `input` is an event object (with a string "type") already in canonical form.
    static func isCanonicalEvent(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        guard input.count >= 2, input[0] == UInt8(ascii: "{") else { return false }
        var c = CanonicalEventCheck(input)
        guard c.object(topLevel: true), c.i == c.n else { return false }
        return c.sawType
    }

    private mutating func value() -> Bool {
        guard i < n else { return false }
        switch p[i] {
        case UInt8(ascii: "{"): return object(topLevel: false)
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal(0x74, 0x72, 0x75, 0x65, count: 4)   // true
        case UInt8(ascii: "f"): return literal(0x66, 0x61, 0x6C, 0x73, count: 5)   // false (last byte checked below)
        case UInt8(ascii: "n"): return literal(0x6E, 0x75, 0x6C, 0x6C, count: 4)   // null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return false
        }
    }

    @inline(__always)
    private mutating func literal(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, count: Int) -> Bool {
        guard i + count <= n, p[i] == a, p[i + 1] == b, p[i + 2] == c, p[i + 3] == d else { return false }
        if count == 5 { guard p[i + 4] == UInt8(ascii: "e") else { return false } }
        i += count
        return true
    }

    private mutating func object(topLevel: Bool) -> Bool {
        depth += 1
        guard depth <= JSONScanner.maxDepth else { return false }
        i += 1  // {
        guard i < n else { return false }
        if p[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return true }
        var prevStart = -1, prevLen = 0
        while true {
            guard i < n, p[i] == UInt8(ascii: "\"") else { return false }
            let keyStart = i + 1
            guard string() else { return false }
            let keyLen = i - 1 - keyStart
            if prevStart >= 0 {
                // Strictly increasing by unsigned bytes, shorter first on a common prefix (also rules out duplicates).
                // Compared inline: keys are short and usually differ early, where a memcmp call costs more.
                let m = min(keyLen, prevLen)
                var j = 0
                while j < m && p[keyStart + j] == p[prevStart + j] { j += 1 }
                guard j < m ? p[keyStart + j] > p[prevStart + j] : keyLen > prevLen else { return false }
            }
            prevStart = keyStart
            prevLen = keyLen
            guard i < n, p[i] == UInt8(ascii: ":") else { return false }
            i += 1
            if topLevel && keyLen == 4 && p[keyStart] == 0x74 && p[keyStart + 1] == 0x79 && p[keyStart + 2] == 0x70 && p[keyStart + 3] == 0x65 {
                guard i < n, p[i] == UInt8(ascii: "\"") else { return false }
                sawType = true
            }
            guard value(), i < n else { return false }
            let c = p[i]
            i += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { depth -= 1; return true }
            return false
        }
    }

    private mutating func array() -> Bool {
        depth += 1
        guard depth <= JSONScanner.maxDepth else { return false }
        i += 1  // [
        guard i < n else { return false }
        if p[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return true }
        while true {
            guard value(), i < n else { return false }
            let c = p[i]
            i += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { depth -= 1; return true }
            return false
        }
    }

    /// A string of printable ASCII without escapes (its own canonical form); `i` ends past the closing quote.
    private mutating func string() -> Bool {
        i += 1  // opening quote
        // Eight bytes at a time while none is a quote, a backslash, a control byte or non-ASCII.
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= n {
            let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            let quote = w ^ (0x22 &* ones), backslash = w ^ (0x5C &* ones)
            let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((w &- 0x20 &* ones) & ~w) | w
            if special & highs != 0 { break }
            i += 8
        }
        while i < n {
            let c = p[i]
            if c == UInt8(ascii: "\"") { i += 1; return true }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { return false }
            i += 1
        }
        return false
    }

    /// Numbers whose text is their canonical form: integers of at most 21 digits (not `-0`), and
    /// decimals `I.F` with `F` not ending in `0` where `I` has at most 21 digits, or `I` is `0` and
    /// `F` starts with at most five zeros. Anything with an exponent takes the full path.
    private mutating func number() -> Bool {
        var negative = false
        if p[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        let intStart = i
        guard i < n, isDigit(p[i]) else { return false }
        let zeroInt = p[i] == UInt8(ascii: "0")
        if zeroInt { i += 1 } else { while i < n, isDigit(p[i]) { i += 1 } }
        let intLen = i - intStart
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            let fracStart = i
            while i < n, isDigit(p[i]) { i += 1 }
            guard i > fracStart, p[i - 1] != UInt8(ascii: "0") else { return false }
            if zeroInt {
                var zeros = 0
                while p[fracStart + zeros] == UInt8(ascii: "0") { zeros += 1 }
                guard zeros <= 5 else { return false }
            } else {
                guard intLen <= 21 else { return false }
            }
        } else {
            guard !(zeroInt && negative), intLen <= 21 else { return false }
        }
        if i < n, p[i] | 0x20 == UInt8(ascii: "e") { return false }
        return true
    }
}

#if canImport(Glibc)
import Glibc
#endif
