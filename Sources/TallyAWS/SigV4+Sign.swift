public import Foundation
import TallyCore

extension SigV4 {
    /// Headers never signed by the re-signer: hop-by-hop and transport headers an HTTP client may rewrite
    /// (botocore's list plus `content-length`, `accept-encoding` and the SDK bookkeeping headers).
    public static let unsignedHeaderNames: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id", "content-length",
        "accept-encoding", "amz-sdk-invocation-id", "amz-sdk-request", "x-forwarded-for", "x-forwarded-proto",
        "x-forwarded-host", "via", "accept",
    ]

    /// Signs a request for the upstream with header auth.
    ///
    /// The caller sets `Host` to the upstream's host first. This replaces `Authorization`, `X-Amz-Date` and
    /// `X-Amz-Security-Token` (set when `credentials.sessionToken` is present, removed otherwise), sets
    /// `X-Amz-Content-SHA256` to `payloadHash` for S3 (preserve the client's mode: a hex digest,
    /// `UNSIGNED-PAYLOAD`, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, or `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` with
    /// the body re-encoded by ``AWSChunkedEncoder`` from the returned context), and signs every header except
    /// ``unsignedHeaderNames``.
    ///
    /// - Returns: the signing context (seed signature and key) for ``AWSChunkedEncoder``.
    @discardableResult
    public static func sign(_ head: inout HTTPRequestHead, credentials: AWSCredentials, region: String, service: String,
                            payloadHash: String, date: Date) -> VerifiedSigV4 {
        sign(&head, credentials: credentials, region: region, service: service, payloadHash: payloadHash, date: date, keyCache: nil)
    }

    /// ``sign(_:credentials:region:service:payloadHash:date:)`` taking the signing key from `keyCache` when given.
    @discardableResult
    public static func sign(_ head: inout HTTPRequestHead, credentials: AWSCredentials, region: String, service: String,
                            payloadHash: String, date: Date, keyCache: SigningKeyCache?) -> VerifiedSigV4 {
        let amzDate = AmzDate.format(date)
        head.setHeader("Authorization", nil)
        head.setHeader("X-Amz-Date", amzDate)
        head.setHeader("X-Amz-Security-Token", credentials.sessionToken)
        if usesS3Canonicalization(service: service, path: head.path) { head.setHeader("X-Amz-Content-SHA256", payloadHash) }
        var names = Set<String>()
        for n in head.lowercasedNames where !unsignedHeaderNames.contains(n) { names.insert(n) }
        names.insert("host")
        let signed = names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let scopeDate = String(amzDate.prefix(8))
        let scope = "\(scopeDate)/\(region)/\(service)/aws4_request"
        let canonical = canonicalRequestBytes(head, signedHeaders: signed, payloadHash: payloadHash, service: service,
                                         presigned: false)
        let key = keyCache?.signingKey(secretAccessKey: credentials.secretAccessKey, date: scopeDate, region: region, service: service)
            ?? signingKey(secretAccessKey: credentials.secretAccessKey, date: scopeDate, region: region, service: service)
        let sig = signature(signingKey: key, stringToSign: stringToSign(amzDate: amzDate, credentialScope: scope,
                                                                        canonicalRequestBytes: canonical))
        head.setHeader("Authorization", "\(algorithm) Credential=\(credentials.accessKeyId)/\(scope), "
                       + "SignedHeaders=\(signed.joined(separator: ";")), Signature=\(sig)")
        let mode = (try? SigV4PayloadMode.parse(payloadHash)) ?? .notDeclared
        return VerifiedSigV4(accessKeyId: credentials.accessKeyId, amzDate: amzDate, credentialScope: scope,
                             region: region, service: service, signingKey: key, seedSignature: sig, payloadMode: mode)
    }

    /// Presigns a request (query auth), for tests and tools: adds the `X-Amz-*` query parameters to
    /// `head.query` and signs `host` only, with `UNSIGNED-PAYLOAD` for S3 and the empty-body hash otherwise.
    public static func presign(_ head: inout HTTPRequestHead, credentials: AWSCredentials, region: String,
                               service: String, expires: Int, date: Date) {
        let amzDate = AmzDate.format(date)
        let scopeDate = String(amzDate.prefix(8))
        let scope = "\(scopeDate)/\(region)/\(service)/aws4_request"
        var params = [("X-Amz-Algorithm", algorithm), ("X-Amz-Credential", "\(credentials.accessKeyId)/\(scope)"),
                      ("X-Amz-Date", amzDate), ("X-Amz-Expires", String(expires)), ("X-Amz-SignedHeaders", "host")]
        if let t = credentials.sessionToken { params.append(("X-Amz-Security-Token", t)) }
        let extra = params.map { "\($0.0)=\(URIEncoding.encode($0.1))" }.joined(separator: "&")
        head.query = (head.query.map { $0.isEmpty ? "" : $0 + "&" } ?? "") + extra
        let payload = usesS3Canonicalization(service: service, path: head.path) ? "UNSIGNED-PAYLOAD" : emptySHA256
        let canonical = canonicalRequestBytes(head, signedHeaders: ["host"], payloadHash: payload, service: service,
                                         presigned: true)
        let key = signingKey(secretAccessKey: credentials.secretAccessKey, date: scopeDate, region: region, service: service)
        let sig = signature(signingKey: key, stringToSign: stringToSign(amzDate: amzDate, credentialScope: scope,
                                                                        canonicalRequestBytes: canonical))
        head.query! += "&X-Amz-Signature=\(sig)"
    }
}
