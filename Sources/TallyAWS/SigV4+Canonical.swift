import TallyCore

extension SigV4 {
    /// The canonical URI: for S3 the path exactly as sent; for every other service the path with dot segments
    /// and empty segments removed (as botocore does) and every byte outside the unreserved set encoded again
    /// (so `%20` on the wire becomes `%2520`: AWS's double encoding).
    public static func canonicalURI(path: String, service: String) -> String {
        if usesS3Canonicalization(service: service, path: path) { return path.isEmpty ? "/" : path }
        if path == "/" { return path }
        let normalized = removeDotSegments(path.isEmpty ? "/" : path)
        return URIEncoding.encode(normalized, keepSlash: true)
    }

    /// True when `path` is its own normal form for a service other than S3 (``removeDotSegments(_:)`` leaves it as it
    /// is): the path the signature covers is then the one sent.
    public static func isNormalPath(_ path: String) -> Bool {
        path.isEmpty || path == "/" || removeDotSegments(path) == path
    }

    /// RFC 3986 dot-segment removal, also dropping empty segments (consecutive slashes), like botocore.
    static func removeDotSegments(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var out: [Substring] = []
        for seg in path.split(separator: "/", omittingEmptySubsequences: true) {
            if seg == "." { continue }
            if seg == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(seg)
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !out.isEmpty ? "/" : ""
        return first + out.joined(separator: "/") + last
    }

    /// The canonical query string: each name and value percent-decoded then RFC 3986 encoded, sorted by encoded
    /// name then value, `name=` for an empty value; `X-Amz-Signature` is left out for presigned requests.
    public static func canonicalQuery(_ query: String?, excludeSignature: Bool) -> String {
        guard let query, !query.isEmpty else { return "" }
        var out: [UInt8] = []
        appendCanonicalQuery(query, excludeSignature: excludeSignature, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``canonicalQuery(_:excludeSignature:)`` appended to `out`.
    static func appendCanonicalQuery(_ query: String, excludeSignature: Bool, to out: inout [UInt8]) {
        var pairs: [(String, String)] = []
        for (name, value) in QueryString.rawPairs(query) {
            if excludeSignature && name == "X-Amz-Signature" { continue }
            pairs.append((canonicalComponent(name), canonicalComponent(value)))
        }
        pairs.sort { a, b in
            a.0 == b.0 ? a.1.utf8.lexicographicallyPrecedes(b.1.utf8) : a.0.utf8.lexicographicallyPrecedes(b.0.utf8)
        }
        for (i, (name, value)) in pairs.enumerated() {
            if i > 0 { out.append(38) }   // &
            out.append(ascii: name)
            out.append(61)   // =
            out.append(ascii: value)
        }
    }

    /// A query name or value decoded then RFC 3986 encoded; one already in that form (SDKs send them so) is
    /// taken as it is.
    static func canonicalComponent(_ s: Substring) -> String {
        URIEncoding.isCanonicalEncoding(s) ? String(s) : URIEncoding.encode(bytes: URIEncoding.decodeBytes(s))
    }

    /// A header value in canonical form: leading/trailing whitespace trimmed, inner runs of whitespace
    /// folded to one space (botocore's `' '.join(value.split())` for ASCII whitespace).
    public static func trimAll(_ value: String) -> String {
        var out: [UInt8] = []
        appendTrimmed(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendTrimmed(_ value: String, to out: inout [UInt8]) {
        var pending = false, any = false
        for b in value.utf8 {
            if ASCII.isWhitespace(b) {
                pending = any
            } else {
                if pending { out.append(32); pending = false }
                out.append(b)
                any = true
            }
        }
    }

    /// `name:value\n` for each signed header (values of repeated headers joined with `,`).
    public static func canonicalHeaders(_ head: HTTPRequestHead, signedHeaders: [String]) -> String {
        var out: [UInt8] = []
        appendCanonicalHeaders(head, signedHeaders: signedHeaders, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendCanonicalHeaders(_ head: HTTPRequestHead, signedHeaders: [String], to out: inout [UInt8]) {
        let names = head.lowercasedNames
        // Each signed name's values, in arrival order. A few signed names and headers (every SDK request): compared
        // one by one. Many of both (an agent may send thousands of headers and as long a SignedHeaders list, and this
        // runs before the signature is checked): the headers are indexed by name first, so the cost stays linear.
        // The names are lower case on both sides (SignedHeaders is refused otherwise), so `==` is the comparison.
        let indexed: [String: [Int]]?
        if signedHeaders.count * names.count > indexedCanonicalHeadersAbove {
            var byName: [String: [Int]] = [:]
            for (i, n) in names.enumerated() { byName[n, default: []].append(i) }
            indexed = byName
        } else {
            indexed = nil
        }
        for name in signedHeaders {
            out.append(ascii: name)
            out.append(58)   // :
            var first = true
            func value(_ i: Int) {
                if !first { out.append(44) }   // ,
                appendTrimmed(head.headers[i].value, to: &out)
                first = false
            }
            if let indexed {
                for i in indexed[name] ?? [] { value(i) }
            } else {
                for (i, n) in names.enumerated() where n == name { value(i) }
            }
            out.append(10)
        }
    }

    /// Above this many (signed name, header) pairs, ``appendCanonicalHeaders`` indexes the headers by name.
    static let indexedCanonicalHeadersAbove = 256

    /// The full canonical request:
    /// `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED;HEADERS\nPAYLOADHASH`.
    public static func canonicalRequest(_ head: HTTPRequestHead, signedHeaders: [String], payloadHash: String,
                                        service: String, presigned: Bool) -> String {
        String(decoding: canonicalRequestBytes(head, signedHeaders: signedHeaders, payloadHash: payloadHash,
                                               service: service, presigned: presigned), as: UTF8.self)
    }

    /// The canonical request as bytes (what is hashed).
    static func canonicalRequestBytes(_ head: HTTPRequestHead, signedHeaders: [String], payloadHash: String,
                                      service: String, presigned: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.append(ascii: ASCII.hasLowercase(head.method) ? head.method.uppercased() : head.method)
        out.append(10)
        out.append(ascii: canonicalURI(path: head.path, service: service))
        out.append(10)
        if let q = head.query, !q.isEmpty { appendCanonicalQuery(q, excludeSignature: presigned, to: &out) }
        out.append(10)
        appendCanonicalHeaders(head, signedHeaders: signedHeaders, to: &out)
        out.append(10)
        for (i, n) in signedHeaders.enumerated() {
            if i > 0 { out.append(59) }   // ;
            out.append(ascii: n)
        }
        out.append(10)
        out.append(ascii: payloadHash)
        return out
    }
}
