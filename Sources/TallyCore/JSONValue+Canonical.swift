/// The ledger's canonical JSON form (specified in docs/LEDGER-FORMAT.md, "Canonical JSON"):
///
/// - no whitespace; object members sorted by the UTF-8 bytes of their (unescaped) keys, which is
///   the same as Unicode code point order; no duplicate keys;
/// - strings as UTF-8 with the minimal escapes: `\"`, `\`, `\b`, `\f`, `\n`, `\r`, `\t`, and
///   `\u00xx` (lower-case hex) for the other characters below U+0020; nothing else is escaped;
/// - numbers: the exact decimal value (never rounded to binary64), laid out like ECMAScript's
///   Number::toString: with digits `s` (no leading or trailing zeros, k of them) and exponent `n`
///   such that the value is s × 10^(n−k): `k ≤ n ≤ 21` → s then n−k zeros; `0 < n ≤ 21` → s with a
///   point after n digits; `−6 < n ≤ 0` → "0." then −n zeros then s; otherwise d[.ddd]e±(n−1).
///   Zero (and minus zero) is `0`;
/// - `true`, `false`, `null` as themselves.
public enum JSONCanonicalForm {
    /// Appends the canonical escaped form of one Unicode scalar (inside a string).
    @inline(__always)
    static func appendEscaped(scalar v: UInt32, to out: inout [UInt8]) {
        if v >= 0x20 && v != 0x22 && v != 0x5C { appendUTF8(v, to: &out); return }
        appendEscapedASCII(UInt8(v), to: &out)
    }

    @inline(__always)
    static func appendEscapedASCII(_ c: UInt8, to out: inout [UInt8]) {
        out.append(0x5C)
        switch c {
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x08: out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "f"))
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "t"))
        default:
            let hex = Array("0123456789abcdef".utf8)
            out.append(UInt8(ascii: "u")); out.append(0x30); out.append(0x30)
            out.append(hex[Int(c >> 4)]); out.append(hex[Int(c & 0xF)])
        }
    }

    /// A byte a canonical string escapes: a control byte, `"` or `\`.
    @inline(__always)
    static func needsEscape(_ c: UInt8) -> Bool { c < 0x20 || c == 0x22 || c == 0x5C }

    /// Appends a quoted, canonically escaped string; one with nothing to escape (the common case) in one copy.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        let done: Bool? = s.utf8.withContiguousStorageIfAvailable { raw in
            guard !raw.contains(where: needsEscape) else { return false }
            out.append(0x22)
            out.append(contentsOf: raw)
            out.append(0x22)
            return true
        }
        if done != true { appendString(s.utf8, to: &out) }
    }

    /// Whether `a` sorts before `b` by their UTF-8 bytes (the canonical member order).
    @inline(__always)
    static func utf8Precedes(_ a: String, _ b: String) -> Bool {
        let fast: Bool? = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                // Inline: keys are short and usually differ early, where a memcmp call costs more.
                let n = min(x.count, y.count)
                var i = 0
                while i < n {
                    if x[i] != y[i] { return x[i] < y[i] }
                    i += 1
                }
                return x.count < y.count
            }
        } ?? nil
        return fast ?? a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Appends a quoted, canonically escaped string given its raw (valid) UTF-8 bytes.
    static func appendString<C: Collection<UInt8>>(_ raw: C, to out: inout [UInt8]) {
        out.append(0x22)
        for c in raw {
            if needsEscape(c) { appendEscapedASCII(c, to: &out) } else { out.append(c) }
        }
        out.append(0x22)
    }

    /// Appends the canonical form of a number given as valid JSON number text.
    /// Returns false (appending nothing) when the text is not a valid JSON number.
    @discardableResult
    public static func appendNumber(_ text: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        // Fast path: a plain integer with at most 21 digits, not "-0".
        var i = 0
        let negative = text.count > 0 && text[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        let intStart = i
        while i < text.count, isDigit(text[i]) { i += 1 }
        let intEnd = i
        let intDigits = intEnd - intStart
        guard intDigits > 0, !(intDigits > 1 && text[intStart] == UInt8(ascii: "0")) else { return false }
        if i == text.count && intDigits <= 21 {
            if negative && intDigits == 1 && text[intStart] == UInt8(ascii: "0") { out.append(0x30); return true }
            out.append(contentsOf: text)
            return true
        }
        // General path: collect digits and the exponent.
        var fracStart = i, fracEnd = i
        if i < text.count, text[i] == UInt8(ascii: ".") {
            i += 1
            fracStart = i
            while i < text.count, isDigit(text[i]) { i += 1 }
            fracEnd = i
            guard fracEnd > fracStart else { return false }
        }
        var exponent = 0
        if i < text.count, text[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < text.count, text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-") {
                expNegative = text[i] == UInt8(ascii: "-"); i += 1
            }
            let expStart = i
            while i < text.count, isDigit(text[i]) {
                exponent = exponent * 10 + Int(text[i] - 0x30)
                if exponent > 999_999_999 { return false }
                i += 1
            }
            guard i > expStart else { return false }
            if expNegative { exponent = -exponent }
        }
        guard i == text.count else { return false }
        var digits: [UInt8] = []
        digits.reserveCapacity(intDigits + fracEnd - fracStart)
        digits.append(contentsOf: UnsafeBufferPointer(rebasing: text[intStart..<intEnd]))
        digits.append(contentsOf: UnsafeBufferPointer(rebasing: text[fracStart..<fracEnd]))
        var power = exponent - (fracEnd - fracStart)
        var lead = 0
        while lead < digits.count, digits[lead] == 0x30 { lead += 1 }
        if lead == digits.count { out.append(0x30); return true }
        var trail = digits.count
        while digits[trail - 1] == 0x30 { trail -= 1; power += 1 }
        let s = digits[lead..<trail]
        let k = s.count
        let n = power + k
        // The canonical exponent must itself be acceptable input (at most 9 digits).
        if abs(n - 1) > 999_999_999 { return false }
        if negative { out.append(UInt8(ascii: "-")) }
        if k <= n && n <= 21 {
            out.append(contentsOf: s)
            for _ in 0..<(n - k) { out.append(0x30) }
        } else if 0 < n && n <= 21 {
            out.append(contentsOf: s.prefix(n))
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: s.dropFirst(n))
        } else if -6 < n && n <= 0 {
            out.append(0x30); out.append(UInt8(ascii: "."))
            for _ in 0..<(-n) { out.append(0x30) }
            out.append(contentsOf: s)
        } else {
            out.append(s[s.startIndex])
            if k > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: s.dropFirst())
            }
            out.append(UInt8(ascii: "e"))
            out.append(n - 1 >= 0 ? UInt8(ascii: "+") : UInt8(ascii: "-"))
            out.append(contentsOf: String(abs(n - 1)).utf8)
        }
        return true
    }

    /// The canonical form of a number given as text; nil when it is not a valid JSON number.
    public static func number(_ text: String) -> String? {
        var text = text
        var out: [UInt8] = []
        let ok = text.withUTF8 { appendNumber($0, to: &out) }
        return ok ? String(decoding: out, as: UTF8.self) : nil
    }
}

extension JSONValue {
    /// The ledger's canonical bytes for this value (see ``JSONCanonicalForm``).
    ///
    /// A `.number` whose text is not valid JSON is written as `null`; ``validate()`` reports such
    /// values, and the ledger refuses events that do not validate.
    public func canonicalBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        appendCanonical(to: &out)
        return out
    }

    /// Appends the canonical bytes to `out`.
    public func appendCanonical(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(var text):
            let ok = text.withUTF8 { JSONCanonicalForm.appendNumber($0, to: &out) }
            if !ok { out.append(contentsOf: "null".utf8) }
        case .string(let s):
            JSONCanonicalForm.appendString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                e.appendCanonical(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { JSONCanonicalForm.utf8Precedes($0.key, $1.key) }
            for (i, m) in sorted.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONCanonicalForm.appendString(m.key, to: &out)
                out.append(UInt8(ascii: ":"))
                m.value.appendCanonical(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Throws `TallyError(.badInput)` when a `.number` anywhere inside holds text that is not a
    /// valid JSON number (values built by hand rather than parsed).
    public func validate(path: String = "$") throws {
        if let (below, text) = firstInvalidNumber() {
            throw TallyError(.badInput, "\(path)\(below): \"\(text)\" is not a valid JSON number")
        }
    }

    /// The path below this value and the text of a `.number` that is not a valid JSON number, or nil (the path is
    /// only built for the error).
    private func firstInvalidNumber() -> (String, String)? {
        switch self {
        case .number(let text):
            return JSONCanonicalForm.number(text) == nil ? ("", text) : nil
        case .array(let elements):
            for (i, e) in elements.enumerated() {
                if let (below, text) = e.firstInvalidNumber() { return ("[\(i)]" + below, text) }
            }
        case .object(let members):
            for (k, v) in members {
                if let (below, text) = v.firstInvalidNumber() { return (".\(k)" + below, text) }
            }
        default: break
        }
        return nil
    }
}
