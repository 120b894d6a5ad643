import TallyCore

extension SigV4 {
    /// The canonical URI: for S3 the path exactly as sent; for every other service the path with dot segments
    /// and empty segments removed (as botocore does) and every byte outside the unreserved set encoded again
    /// (so `%20` on the wire becomes `%2520`: AWS's double encoding).
    public static func canonicalURI(path: String, service: String) -> String {
        if usesS3Canonicalization(service: service) { return path.isEmpty ? "/" : path }
        let normalized = removeDotSegments(path.isEmpty ? "/" : path)
        return URIEncoding.encode(normalized, keepSlash: true)
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
        var pairs: [(String, String)] = []
        for (name, value) in QueryString.rawPairs(query) {
            if excludeSignature && name == "X-Amz-Signature" { continue }
            pairs.append((URIEncoding.encode(bytes: URIEncoding.decodeBytes(name)),
                          URIEncoding.encode(bytes: URIEncoding.decodeBytes(value))))
        }
        pairs.sort { a, b in
            a.0 == b.0 ? a.1.utf8.lexicographicallyPrecedes(b.1.utf8) : a.0.utf8.lexicographicallyPrecedes(b.0.utf8)
        }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// A header value in canonical form: leading/trailing whitespace trimmed, inner runs of whitespace
    /// folded to one space.
    public static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" })
            .joined(separator: " ")
    }

    /// `name:value\n` for each signed header (values of repeated headers joined with `,`).
    public static func canonicalHeaders(_ head: HTTPRequestHead, signedHeaders: [String]) -> String {
        var out = ""
        for name in signedHeaders {
            let values = head.values(of: name).map(trimAll)
            out += name + ":" + values.joined(separator: ",") + "\n"
        }
        return out
    }

    /// The full canonical request:
    /// `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED;HEADERS\nPAYLOADHASH`.
    public static func canonicalRequest(_ head: HTTPRequestHead, signedHeaders: [String], payloadHash: String,
                                        service: String, presigned: Bool) -> String {
        head.method.uppercased() + "\n"
            + canonicalURI(path: head.path, service: service) + "\n"
            + canonicalQuery(head.query, excludeSignature: presigned) + "\n"
            + canonicalHeaders(head, signedHeaders: signedHeaders) + "\n"
            + signedHeaders.joined(separator: ";") + "\n"
            + payloadHash
    }
}
