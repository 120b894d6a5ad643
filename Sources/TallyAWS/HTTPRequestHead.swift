/// A request as it arrived on the wire: method, path and query still percent-encoded exactly as sent,
/// headers in arrival order (names in any case; a repeated header appears once per line).
public struct HTTPRequestHead: Sendable {
    /// The HTTP method, e.g. `GET`.
    public var method: String
    /// The raw path as sent, e.g. `/demo-bucket/my%20key` (never decoded).
    public var path: String
    /// The raw query string as sent, without the leading `?`; nil when the target has no `?`.
    public var query: String? { didSet { decodedQuery = QueryString.decodedPairs(query ?? "") } }
    /// ``queryItems``, decoded once (authentication, duplicate checks and identification all read them).
    private var decodedQuery: [(name: String, value: String)]
    /// Header fields in arrival order.
    public var headers: [(name: String, value: String)] {
        get { fields }
        set {
            fields = newValue
            names = newValue.map { ASCII.lowercased($0.name) }
        }
    }
    private var fields: [(name: String, value: String)]
    /// The header names lower-cased, index for index with ``headers`` (lowered once, read by every check).
    public var lowercasedNames: [String] { names }
    private var names: [String]

    /// Creates a request head from its parts.
    public init(method: String, path: String, query: String?, headers: [(name: String, value: String)]) {
        self.method = method
        self.path = path
        self.query = query
        self.decodedQuery = QueryString.decodedPairs(query ?? "")
        self.fields = headers
        self.names = headers.map { ASCII.lowercased($0.name) }
    }

    /// Creates a request head from a request target (`/path?query`), split at the first `?`.
    public init(method: String, target: String, headers: [(name: String, value: String)]) {
        if let q = target.firstIndex(of: "?") {
            self.init(method: method, path: String(target[..<q]), query: String(target[target.index(after: q)...]),
                      headers: headers)
        } else {
            self.init(method: method, path: target, query: nil, headers: headers)
        }
    }

    /// Every value of the header `name` (case-insensitive), in order.
    public func values(of name: String) -> [String] {
        fields.indices.compactMap { asciiCaseInsensitiveEquals(names[$0], name) ? fields[$0].value : nil }
    }

    /// The first value of the header `name` (case-insensitive), or nil.
    public func value(of name: String) -> String? {
        names.firstIndex { asciiCaseInsensitiveEquals($0, name) }.map { fields[$0].value }
    }

    /// Replaces every occurrence of header `name` with one field (or removes it when `value` is nil).
    public mutating func setHeader(_ name: String, _ value: String?) {
        let lower = ASCII.lowercased(name)
        var i = 0
        while i < names.count {
            if names[i] == lower { fields.remove(at: i); names.remove(at: i) } else { i += 1 }
        }
        if let value {
            fields.append((name: name, value: value))
            names.append(lower)
        }
    }

    /// The request target as sent: path plus `?query` when present.
    public var target: String { query.map { "\(path)?\($0)" } ?? path }

    /// The query parameters, percent-decoded (`+` is kept literally), in order.
    public var queryItems: [(name: String, value: String)] { decodedQuery }
}

/// Whether two header names (ASCII tokens) are equal in any ASCII letter case: compared byte by byte, with no lowered
/// copy and no Unicode case mapping.
@inline(__always)
public func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    if a == b { return true }
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            for i in 0..<x.count where x[i] != y[i] {
                let lc = (x[i] >= 65 && x[i] <= 90) ? x[i] + 32 : x[i]
                let ld = (y[i] >= 65 && y[i] <= 90) ? y[i] + 32 : y[i]
                if lc != ld { return false }
            }
            return true
        }
    }
}

/// Another name for ``HTTPRequestHead``, for files that also import NIOHTTP1 (whose `HTTPRequestHead` would be
/// ambiguous there).
public typealias AWSRequestHead = HTTPRequestHead
