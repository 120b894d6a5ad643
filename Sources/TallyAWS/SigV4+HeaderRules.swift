import TallyCore

extension SigV4 {
    /// Headers that may appear at most once. Identification, verification and the upstream must all read the same
    /// value; a repeated copy would let the gateway identify from one and the upstream act on another
    /// (review finding 5). Every repeated `x-amz-*` header except `x-amz-meta-*` is refused as well.
    public static let singletonHeaderNames: Set<String> = [
        "host", "authorization", "date", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "x-amz-target",
        "content-type", "content-encoding", "smithy-protocol", "x-amz-decoded-content-length", "x-amz-trailer",
        "content-length", "content-md5", "range", "x-amz-copy-source",
    ]

    /// The parameters of SigV4 query authentication itself (a presigned URL's), lower case: identification takes no
    /// other `x-amz-*` query name for S3, and the gateway removes these before re-signing with header auth.
    public static let presignQueryParameters: Set<String> = [
        "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
        "x-amz-signature", "x-amz-security-token",
    ]

    /// Query parameters that may appear at most once: the query protocol's `Action` / `Version` and the presigned
    /// authentication parameters.
    public static let singletonQueryParameters: Set<String> = [
        "Action", "Version", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
        "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
    ]

    /// Transport headers an SDK may send unsigned and that the gateway may pass on (or rebuild) for the upstream:
    /// they do not change which operation runs or on what.
    /// `content-type` is among them: AWS does not require it to be signed and the JavaScript SDK v2 never signs it
    /// (its `unsignableHeaders`); identification does not trust it (a form body's `Action` is read whatever the
    /// Content-Type says), and the body it describes is signed.
    public static let forwardableUnsignedHeaderNames: Set<String> = [
        "user-agent", "expect", "accept-encoding", "accept", "amz-sdk-invocation-id", "amz-sdk-request",
        "x-amzn-trace-id", "content-length", "content-type",
    ]

    /// Standard HTTP headers S3 accepts unsigned (real S3 does not require them in SignedHeaders, and browsers and
    /// download tools add them to presigned URLs): forwardable for S3 even when unsigned. Never `x-amz-*`.
    public static let s3ForwardableUnsignedHeaderNames: Set<String> = [
        "content-md5", "cache-control", "content-disposition", "content-encoding", "content-language",
        "expires", "range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
    ]

    /// The request's own authentication headers: the gateway replaces them when re-signing, never forwards them.
    public static let authenticationHeaderNames: Set<String> = [
        "host", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
    ]

    /// Refuses repeated singleton headers (``singletonHeaderNames``, `x-amz-*` except `x-amz-meta-*`) and repeated
    /// singleton query parameters (``singletonQueryParameters``) with `InvalidRequest` (400).
    ///
    /// AWS does not document its answer to repeated headers; SDKs never send them. Tally refuses before
    /// identification, so no component can pick a different copy than another.
    public static func checkNoDuplicates(_ head: HTTPRequestHead) throws(AWSAuthError) {
        var seen = NameSet()
        for n in head.lowercasedNames {
            guard (n.hasPrefix("x-amz-") && !n.hasPrefix("x-amz-meta-")) || singletonHeaderNames.contains(n) else { continue }
            if !seen.insert(n) {
                throw .invalidRequest("The header '\(n)' appears more than once in the request; it must be sent once")
            }
        }
        guard let q = head.query, !q.isEmpty else { return }
        var seenQ = NameSet()
        for item in head.queryItems where singletonQueryParameters.contains(item.name) {
            if !seenQ.insert(item.name) {
                throw .invalidRequest("The query parameter '\(item.name)' appears more than once in the request; it must be sent once")
            }
        }
    }

    /// Refuses headers that influence the upstream but are not covered by the signature (review finding 6):
    /// - every `x-amz-*` header present, `X-Amz-Target` included (S3's rule, header auth and presigned URLs alike:
    ///   "There were headers present in the request which were not signed"; Tally applies it to every service:
    ///   botocore, the AWS CLI and the JavaScript, Go and Java SDKs all sign every `x-amz-*` header);
    /// - for services other than S3: `smithy-protocol` (it selects the RPC v2 CBOR protocol).
    /// `host` is required in SignedHeaders by ``parse(_:)``. `content-type` may stay unsigned: AWS accepts that and
    /// the JavaScript SDK v2 never signs it (see ``forwardableUnsignedHeaderNames``).
    static func checkSignedCoverage(_ head: HTTPRequestHead, signedHeaders: [String], service: String) throws(AWSAuthError) {
        let s3 = usesS3Canonicalization(service: service, path: head.path)
        let signed = NameSet(signedHeaders)
        var unsigned: [String] = []
        var listed = NameSet()
        for n in head.lowercasedNames {
            let mustSign = n.hasPrefix("x-amz-") || (!s3 && n == "smithy-protocol")
            if mustSign, !signed.contains(n), listed.insert(n) { unsigned.append(n) }
        }
        if !unsigned.isEmpty {
            throw .accessDenied("There were headers present in the request which were not signed: "
                                + unsigned.joined(separator: ", "))
        }
    }

    /// The agent's header fields the gateway may forward to the upstream: the signed ones, plus the transport
    /// headers of ``forwardableUnsignedHeaderNames`` (and, for S3, ``s3ForwardableUnsignedHeaderNames``), in
    /// arrival order. The request's own authentication (``authenticationHeaderNames``) is left out: the
    /// re-signer sets it. Anything else unsigned is dropped, so nobody on the path can add or change a header
    /// that the gateway's upstream signature would then make authentic.
    public static func forwardableHeaders(of head: HTTPRequestHead, signedHeaders: [String],
                                          service: String) -> [(name: String, value: String)] {
        let s3 = usesS3Canonicalization(service: service, path: head.path)
        let names = head.lowercasedNames
        let signed = NameSet(signedHeaders)
        return head.headers.indices.compactMap { i in
            let n = names[i]
            if authenticationHeaderNames.contains(n) { return nil }
            if signed.contains(n) || forwardableUnsignedHeaderNames.contains(n) { return head.headers[i] }
            return s3 && s3ForwardableUnsignedHeaderNames.contains(n) ? head.headers[i] : nil
        }
    }
}

extension SigV4Auth {
    /// ``SigV4/forwardableHeaders(of:signedHeaders:service:)`` for this request's signed headers and service.
    public func forwardableHeaders(of head: HTTPRequestHead) -> [(name: String, value: String)] {
        SigV4.forwardableHeaders(of: head, signedHeaders: signedHeaders, service: service)
    }
}

extension VerifiedSigV4 {
    /// ``SigV4/forwardableHeaders(of:signedHeaders:service:)`` for the verified request's signed headers and service.
    public func forwardableHeaders(of head: HTTPRequestHead) -> [(name: String, value: String)] {
        SigV4.forwardableHeaders(of: head, signedHeaders: signedHeaders, service: service)
    }
}

/// Names (headers, query parameters) seen in one request, for the per-request checks above. Requests carry a few dozen
/// names, so a short list compared one by one is cheapest (no hashing per name); a request may carry thousands (an
/// agent can send any number of `x-amz-*` headers, or a SignedHeaders list as long, before any signature is checked),
/// so past ``linearLimit`` names it becomes a hashed set: linear in the request's size either way, never quadratic.
struct NameSet {
    static let linearLimit = 16
    private var list: [String] = []
    private var hashed: Set<String>?

    init() {}

    init(_ names: [String]) {
        if names.count > Self.linearLimit { hashed = Set(names) } else { list = names }
    }

    func contains(_ name: String) -> Bool {
        if let hashed { return hashed.contains(name) }
        return list.contains(name)
    }

    /// Adds `name`; false when it was already there.
    mutating func insert(_ name: String) -> Bool {
        if hashed != nil { return hashed!.insert(name).inserted }
        if list.contains(name) { return false }
        list.append(name)
        if list.count > Self.linearLimit {
            hashed = Set(list)
            list = []
        }
        return true
    }
}
