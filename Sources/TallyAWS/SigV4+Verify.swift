public import Foundation
import TallyCore

extension SigV4 {
    /// Verifies the signature of a parsed request with the credential's secret.
    ///
    /// Checks, in order: the clock (header auth: more than 15 minutes away from `now` → `RequestTimeTooSkewed`;
    /// presigned: expired → `AccessDenied` "Request has expired", more than 15 minutes in the future →
    /// `RequestTimeTooSkewed`), that a declared hex `x-amz-content-sha256` equals a hex `payloadHash` the caller
    /// computed (`XAmzContentSHA256Mismatch`), then the signature (`SignatureDoesNotMatch`, constant-time).
    ///
    /// - Parameter payloadHash: the value for the last line of the canonical request; use
    ///   ``SigV4Auth/payloadHashForVerification(bodySHA256Hex:)``.
    public static func verify(_ head: HTTPRequestHead, auth: SigV4Auth, secretAccessKey: String, payloadHash: String,
                              now: Date) throws(AWSAuthError) -> VerifiedSigV4 {
        try verify(head, auth: auth, secretAccessKey: secretAccessKey, payloadHash: payloadHash, now: now, keyCache: nil)
    }

    /// ``verify(_:auth:secretAccessKey:payloadHash:now:)`` taking the signing key from `keyCache` when given.
    public static func verify(_ head: HTTPRequestHead, auth: SigV4Auth, secretAccessKey: String, payloadHash: String,
                              now: Date, keyCache: SigningKeyCache?) throws(AWSAuthError) -> VerifiedSigV4 {
        let delta = auth.date.timeIntervalSince(now)
        if auth.isPresigned {
            if delta > maximumSkew {
                throw .requestTimeTooSkewed(requestTime: auth.amzDate, serverTime: AmzDate.format(now))
            }
            let expiry = auth.date.addingTimeInterval(TimeInterval(auth.expires ?? maximumPresignedExpiry))
            if now > expiry {
                throw .accessDenied("Request has expired (X-Amz-Date \(auth.amzDate), X-Amz-Expires \(auth.expires ?? 0), "
                                    + "server time \(AmzDate.format(now)))")
            }
        } else if abs(delta) > maximumSkew {
            throw .requestTimeTooSkewed(requestTime: auth.amzDate, serverTime: AmzDate.format(now))
        }
        if !auth.isS3, payloadHash.utf8.count != 64 || Hex.decode(payloadHash) == nil {
            // Non-S3 signatures must bind the body: the caller passes the hex SHA-256 it computed.
            throw .invalidRequest("\(auth.service) requests are verified against the hex SHA-256 of the body; "
                                  + "got payload hash '\(payloadHash)'")
        }
        if case .sha256(let declared) = auth.payloadMode, payloadHash.utf8.count == 64,
           payloadHash.lowercased() != declared {
            throw .contentSHA256Mismatch(provided: declared, computed: payloadHash.lowercased())
        }
        var payloadHash = payloadHash
        if case .sha256 = auth.payloadMode, let raw = auth.declaredContentSHA256 { payloadHash = raw }   // as sent
        let canonical = canonicalRequestBytes(head, signedHeaders: auth.signedHeaders, payloadHash: payloadHash,
                                         service: auth.service, presigned: auth.isPresigned)
        let sts = stringToSign(amzDate: auth.amzDate, credentialScope: auth.credentialScope, canonicalRequestBytes: canonical)
        let key = keyCache?.signingKey(secretAccessKey: secretAccessKey, date: auth.scopeDate, region: auth.region, service: auth.service)
            ?? signingKey(secretAccessKey: secretAccessKey, date: auth.scopeDate, region: auth.region, service: auth.service)
        let expected = signature(signingKey: key, stringToSign: sts)
        guard constantTimeEquals(Array(expected.utf8), Array(auth.signature.utf8)) else {
            throw .signatureDoesNotMatch()
        }
        var verified = VerifiedSigV4(accessKeyId: auth.accessKeyId, amzDate: auth.amzDate, credentialScope: auth.credentialScope,
                                     region: auth.region, service: auth.service, signingKey: key, seedSignature: expected,
                                     payloadMode: auth.payloadMode)
        verified.signedHeaders = auth.signedHeaders
        verified.isPresigned = auth.isPresigned
        return verified
    }

    /// Verifies with the body hash the caller computed: the preferred entry point.
    ///
    /// - Parameter bodySHA256Hex: the hex SHA-256 of the body as received. Required for every service except S3
    ///   (whose streamed bodies are checked against the declared `x-amz-content-sha256` with ``PayloadSHA256Check``
    ///   or by ``AWSChunkedDecoder``); nil there refuses the request, so a caller cannot forget to bind the body.
    public static func verify(_ head: HTTPRequestHead, auth: SigV4Auth, secretAccessKey: String, bodySHA256Hex: String?,
                              now: Date, keyCache: SigningKeyCache? = nil) throws(AWSAuthError) -> VerifiedSigV4 {
        guard let payloadHash = auth.payloadHashForVerification(bodySHA256Hex: bodySHA256Hex) else {
            throw .invalidRequest("\(auth.service) requests need the hex SHA-256 of the body for verification")
        }
        return try verify(head, auth: auth, secretAccessKey: secretAccessKey, payloadHash: payloadHash, now: now,
                          keyCache: keyCache)
    }
}

/// Checks a body streamed through the gateway against the declared `x-amz-content-sha256` hex value,
/// without buffering it: feed every byte, then call ``finish()``.
public final class PayloadSHA256Check {
    private var hasher = SHA256()
    private let declared: String
    /// The number of bytes fed so far.
    public private(set) var byteCount = 0

    /// Creates a check against a declared lower- or upper-case hex SHA-256.
    public init(declared: String) { self.declared = declared.lowercased() }

    /// Adds body bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bytes)
        byteCount += bytes.count
    }

    /// Adds body bytes.
    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Throws `XAmzContentSHA256Mismatch` when the body's digest differs from the declared one.
    /// Returns the computed hex digest. Call once.
    @discardableResult
    public func finish() throws(AWSAuthError) -> String {
        let h = SHA256()
        let digest = Hex.encode(swap(&hasher, h))
        guard digest == declared else { throw .contentSHA256Mismatch(provided: declared, computed: digest) }
        return digest
    }

    private func swap(_ current: inout SHA256, _ replacement: consuming SHA256) -> [UInt8] {
        let old = exchange(&current, with: replacement)
        return old.finalize()
    }
}
