/// Byte-level helpers for the hot path (header parsing and canonicalization): ASCII only, no Character or
/// Foundation processing.
enum ASCII {
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 }

    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 13) || (b >= 28 && b <= 31) }

    /// Trims spaces and tabs from both ends.
    static func trim(_ s: some StringProtocol) -> String {
        let sub = Substring(s)
        let u = sub.utf8
        var start = u.startIndex, end = u.endIndex
        while start < end, isSpace(u[start]) { start = u.index(after: start) }
        while end > start, isSpace(u[u.index(before: end)]) { end = u.index(before: end) }
        return String(sub[start..<end])
    }

    /// Trims spaces and tabs from both ends, without copying.
    static func trimmed(_ sub: Substring) -> Substring {
        let u = sub.utf8
        var start = u.startIndex, end = u.endIndex
        while start < end, isSpace(u[start]) { start = u.index(after: start) }
        while end > start, isSpace(u[u.index(before: end)]) { end = u.index(before: end) }
        return sub[start..<end]
    }

    /// True when every byte is a hex digit (either case).
    static func isHex(_ s: String) -> Bool {
        s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 102) }
    }

    /// Lower-cases A-Z, leaving every other byte.
    static func lowercased(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) else { return s }
        return String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// An HTTP method upper-cased: itself when it has no lower-case ASCII letter (the usual case, no copy), A-Z
    /// mapped for an ASCII one, Unicode upper-casing (as `uppercased()`) otherwise.
    static func uppercasedMethod(_ s: String) -> String {
        guard hasLowercase(s) || s.utf8.contains(where: { $0 >= 0x80 }) else { return s }
        if s.utf8.contains(where: { $0 >= 0x80 }) { return s.uppercased() }
        return String(decoding: s.utf8.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
    }

    static func hasLowercase(_ s: String) -> Bool { s.utf8.contains { $0 >= 97 && $0 <= 122 } }

    static func hasUppercase(_ s: String) -> Bool { s.utf8.contains { $0 >= 65 && $0 <= 90 } }

    /// True when `s` starts with `prefix` (lower-case ASCII), ignoring case.
    static func hasPrefixIgnoringCase(_ s: String, _ prefix: String) -> Bool {
        var a = s.utf8.makeIterator()
        for p in prefix.utf8 {
            guard let c = a.next() else { return false }
            if (c >= 65 && c <= 90 ? c + 32 : c) != p { return false }
        }
        return true
    }
}

extension Array where Element == UInt8 {
    @inline(__always) mutating func append(ascii s: String) { append(contentsOf: s.utf8) }
}
