/// RFC 3986 percent-encoding as SigV4 specifies it: every byte outside `A-Z a-z 0-9 - _ . ~` becomes
/// `%XX` with upper-case hex; `/` is kept when `keepSlash` is set (paths).
public enum URIEncoding {
    private static let hex = Array("0123456789ABCDEF".utf8)

    /// Encodes a string.
    public static func encode(_ s: some StringProtocol, keepSlash: Bool = false) -> String {
        encode(bytes: Array(s.utf8), keepSlash: keepSlash)
    }

    /// Encodes bytes.
    public static func encode(bytes: [UInt8], keepSlash: Bool = false) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count + 8)
        for b in bytes {
            if isUnreserved(b) || (keepSlash && b == UInt8(ascii: "/")) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when `s` is its own canonical form, `encode(bytes: decodeBytes(s))`: every byte unreserved or part of
    /// a `%XX` escape with upper-case hex of a byte that is not unreserved.
    static func isCanonicalEncoding(_ s: Substring) -> Bool {
        if let fast = s.utf8.withContiguousStorageIfAvailable({ isCanonicalEncoding(bytes: $0) }) { return fast }
        return isCanonicalEncoding(bytes: Array(s.utf8))
    }

    private static func isCanonicalEncoding(bytes u: some RandomAccessCollection<UInt8>) -> Bool {
        var i = u.startIndex
        while i != u.endIndex {
            let b = u[i]
            if isUnreserved(b) { i = u.index(after: i); continue }
            guard b == 37 else { return false }   // %
            let h = u.index(after: i)
            guard h != u.endIndex, let hi = upperHexValue(u[h]) else { return false }
            let l = u.index(after: h)
            guard l != u.endIndex, let lo = upperHexValue(u[l]), !isUnreserved(hi << 4 | lo) else { return false }
            i = u.index(after: l)
        }
        return true
    }

    @inline(__always) private static func upperHexValue(_ b: UInt8) -> UInt8? {
        if b >= 48 && b <= 57 { return b - 48 }
        if b >= 65 && b <= 70 { return b - 55 }
        return nil
    }

    @inline(__always) static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57)
            || b == 45 || b == 95 || b == 46 || b == 126
    }

    /// Percent-decodes (`%XX`); malformed escapes are kept literally; `+` stays `+` unless `plusAsSpace`.
    public static func decode(_ s: some StringProtocol, plusAsSpace: Bool = false) -> String {
        if !s.utf8.contains(where: { $0 == 37 || (plusAsSpace && $0 == 43) }) { return String(s) }
        return String(decoding: decodeBytes(s, plusAsSpace: plusAsSpace), as: UTF8.self)
    }

    /// Percent-decodes to raw bytes.
    public static func decodeBytes(_ s: some StringProtocol, plusAsSpace: Bool = false) -> [UInt8] {
        let u = Array(s.utf8)
        var out = [UInt8]()
        out.reserveCapacity(u.count)
        var i = 0
        while i < u.count {
            let c = u[i]
            if c == UInt8(ascii: "%"), i + 2 < u.count, let h = nib(u[i + 1]), let l = nib(u[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusAsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                i += 1
            }
        }
        return out
    }

    private static func nib(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }
}

/// Splitting and decoding of `a=1&b=2` strings (URL queries and form bodies).
public enum QueryString {
    /// The raw `name=value` pairs as sent (not decoded); a pair without `=` has an empty value.
    /// Split on the bytes `&` and `=` (as AWS does), scanning UTF-8 rather than Characters (this runs
    /// several times per gateway request).
    public static func rawPairs(_ query: String) -> [(name: Substring, value: Substring)] {
        // The bytes scanned in place (a native string's UTF-8 is contiguous); the pairs are cut at byte offsets, which
        // are always character boundaries here (`&` and `=` are ASCII).
        let u = query.utf8
        let fast: [(name: Substring, value: Substring)]? = u.withContiguousStorageIfAvailable { b in
            var out: [(name: Substring, value: Substring)] = []
            func at(_ offset: Int) -> String.Index { u.index(u.startIndex, offsetBy: offset) }
            var start = 0, eq = -1
            func pair(_ end: Int) -> (name: Substring, value: Substring) {
                if eq < 0 { let e = at(end); return (query[at(start)..<e], query[e..<e]) }
                return (query[at(start)..<at(eq)], query[at(eq + 1)..<at(end)])
            }
            for i in 0..<b.count {
                let c = b[i]
                if c == UInt8(ascii: "&") {
                    if i != start { out.append(pair(i)) }
                    start = i + 1
                    eq = -1
                } else if c == UInt8(ascii: "="), eq < 0 {
                    eq = i
                }
            }
            if start != b.count { out.append(pair(b.count)) }
            return out
        }
        if let fast { return fast }
        var out: [(name: Substring, value: Substring)] = []
        var start = u.startIndex
        var eq: String.Index?
        var i = u.startIndex
        func pair(_ end: String.Index) -> (name: Substring, value: Substring) {
            guard let eq else { return (query[start..<end], query[end..<end]) }
            return (query[start..<eq], query[u.index(after: eq)..<end])
        }
        while i != u.endIndex {
            let c = u[i]
            if c == UInt8(ascii: "&") {
                if i != start { out.append(pair(i)) }
                start = u.index(after: i)
                eq = nil
            } else if c == UInt8(ascii: "="), eq == nil {
                eq = i
            }
            i = u.index(after: i)
        }
        if start != u.endIndex { out.append(pair(u.endIndex)) }
        return out
    }

    /// Percent-decoded pairs of a URL query (`+` kept literally).
    public static func decodedPairs(_ query: String) -> [(name: String, value: String)] {
        rawPairs(query).map { (URIEncoding.decode($0.name), URIEncoding.decode($0.value)) }
    }

    /// Percent-decoded pairs of an `application/x-www-form-urlencoded` body (`+` means space).
    public static func formPairs(_ body: String) -> [(name: String, value: String)] {
        rawPairs(body).map { (URIEncoding.decode($0.name, plusAsSpace: true), URIEncoding.decode($0.value, plusAsSpace: true)) }
    }
}
