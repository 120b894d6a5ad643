import Foundation

/// `host[:port]` of the upstream as it goes into the Host header (default ports omitted).
func upstreamAuthority(_ url: URL) -> String {
    let host = url.host ?? "localhost"
    let bracketed = host.contains(":") ? "[\(host)]" : host
    guard let port = url.port else { return bracketed }
    let scheme = url.scheme?.lowercased()
    if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) { return bracketed }
    return "\(bracketed):\(port)"
}

/// `scheme://authority` without a trailing slash.
func upstreamBaseURL(_ url: URL) -> String { "\(url.scheme?.lowercased() ?? "http")://\(upstreamAuthority(url))" }

/// An upstream base URL's parts as forwarding uses them (Host header, URL prefix, pool key), read from the `URL` once:
/// Foundation's `URL` accessors cost about a microsecond per call on the hot path.
struct UpstreamTarget: Sendable {
    /// The Host header value (``upstreamAuthority(_:)``).
    let authority: String
    /// `scheme://authority` (``upstreamBaseURL(_:)``).
    let baseURL: String
    let origin: UpstreamOrigin

    init(_ url: URL) {
        authority = upstreamAuthority(url)
        baseURL = upstreamBaseURL(url)
        origin = UpstreamOrigin(url)
    }
}

/// application/x-www-form-urlencoded value encoding (RFC 3986 unreserved kept).
func formEncode(_ s: String) -> String {
    var out = ""
    for byte in s.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.append(Character(UnicodeScalar(byte)))
        default:
            out += String(format: "%%%02X", byte)
        }
    }
    return out
}

/// The text of the first `<tag>...</tag>`.
func xmlTag(_ tag: String, in text: String) -> String? {
    xmlTags(tag, in: text, limit: 1).first
}

/// Every `<tag>value</tag>` of `text` (at most `limit`), in order (IAM List answers).
func xmlTags(_ tag: String, in text: String, limit: Int = .max) -> [String] {
    var out: [String] = []
    var rest = text[...]
    while out.count < limit, let open = rest.range(of: "<\(tag)>"),
          let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) {
        out.append(String(rest[open.upperBound..<close.lowerBound]))
        rest = rest[close.upperBound...]
    }
    return out
}
