public import Foundation
import TallyCore

/// How the request body is covered by the signature (the `x-amz-content-sha256` value).
public enum SigV4PayloadMode: Sendable, Hashable {
    /// No `x-amz-content-sha256` declared: the canonical request uses the hex SHA-256 of the body
    /// (every service except S3; S3 header auth requires the header).
    case notDeclared
    /// A declared hex SHA-256 of the body, lower-cased (the body must then match it); the canonical request uses
    /// the header as sent (``SigV4Auth/declaredContentSHA256``).
    case sha256(String)
    /// `UNSIGNED-PAYLOAD`: the body is not covered.
    case unsigned
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked body without chunk signatures, with trailers.
    case streamingUnsignedTrailer
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body, every chunk signed.
    case streamingSigned
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks plus a signed trailer.
    case streamingSignedTrailer

    /// The literal that goes into the canonical request (nil for ``notDeclared``: hash the body).
    public var literal: String? {
        switch self {
        case .notDeclared: return nil
        case .sha256(let h): return h
        case .unsigned: return "UNSIGNED-PAYLOAD"
        case .streamingUnsignedTrailer: return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        case .streamingSigned: return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        case .streamingSignedTrailer: return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        }
    }

    /// True for the aws-chunked modes (the body must go through ``AWSChunkedDecoder``).
    public var isChunked: Bool {
        switch self {
        case .streamingUnsignedTrailer, .streamingSigned, .streamingSignedTrailer: return true
        default: return false
        }
    }

    /// True when chunk signatures are present and must be verified.
    public var hasChunkSignatures: Bool { self == .streamingSigned || self == .streamingSignedTrailer }

    /// Parses an `x-amz-content-sha256` value.
    public static func parse(_ value: String) throws(AWSAuthError) -> SigV4PayloadMode {
        switch value {
        case "UNSIGNED-PAYLOAD": return .unsigned
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": return .streamingUnsignedTrailer
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": return .streamingSigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": return .streamingSignedTrailer
        case "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER":
            throw AWSAuthError(code: "InvalidArgument",
                               message: "x-amz-content-sha256 \(value): SigV4a (ECDSA) payload signing is not supported",
                               httpStatus: 400)
        default:
            guard value.utf8.count == 64, Hex.decode(value) != nil else {
                throw AWSAuthError(code: "InvalidArgument",
                                   message: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                                    + "STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) or a valid sha256 value; got '\(value)'",
                                   httpStatus: 400)
            }
            return .sha256(value.lowercased())
        }
    }
}

/// The parsed SigV4 authentication of a request (header or presigned query), before verification.
public struct SigV4Auth: Sendable, Hashable {
    /// The access key id from the credential scope.
    public var accessKeyId: String
    /// The scope date, `yyyyMMdd`.
    public var scopeDate: String
    /// The scope region, e.g. `us-east-1`.
    public var region: String
    /// The scope service (the signing name: `s3`, `sts`, `monitoring`, ...).
    public var service: String
    /// The full timestamp (`X-Amz-Date`), `yyyyMMdd'T'HHmmss'Z'`.
    public var amzDate: String
    /// The timestamp as a date.
    public var date: Date
    /// The signed header names, lower-case, in the order given.
    public var signedHeaders: [String]
    /// The signature, lower-case hex (64 characters).
    public var signature: String
    /// True for presigned query authentication (`X-Amz-Signature` in the query).
    public var isPresigned: Bool
    /// `X-Amz-Expires` of a presigned URL (seconds, ≤ 604800).
    public var expires: Int?
    /// `X-Amz-Security-Token` (header or query), if sent.
    public var securityToken: String?
    /// How the payload is covered.
    public var payloadMode: SigV4PayloadMode
    /// The `x-amz-content-sha256` header exactly as sent (trimmed), if any.
    public var declaredContentSHA256: String? = nil

    /// `yyyyMMdd/region/service/aws4_request`.
    public var credentialScope: String { "\(scopeDate)/\(region)/\(service)/aws4_request" }

    /// True when the request uses S3's canonicalization (path as sent, `x-amz-content-sha256`):
    /// ``SigV4/usesS3Canonicalization(service:path:)`` of its scope's service and its path.
    public internal(set) var isS3: Bool = false

    /// The payload hash to pass to ``SigV4/verify(_:auth:secretAccessKey:payloadHash:now:)``.
    ///
    /// - Services other than S3: always `bodySHA256Hex`, the hex SHA-256 of the body the caller computed (nil when
    ///   it has none: then the request cannot be verified). The signature must bind the body (review finding 7);
    ///   a declared hex `x-amz-content-sha256` is compared with it by `verify` (`XAmzContentSHA256Mismatch`).
    /// - S3: the declared `x-amz-content-sha256` literal when there is one (the streamed body is then checked
    ///   against a declared hex digest with ``PayloadSHA256Check``), `UNSIGNED-PAYLOAD` for presigned URLs.
    public func payloadHashForVerification(bodySHA256Hex: String?) -> String? {
        if !isS3 { return bodySHA256Hex }
        if case .sha256 = payloadMode, let declaredContentSHA256 { return declaredContentSHA256 }
        if let literal = payloadMode.literal { return literal }
        if isPresigned && isS3 { return "UNSIGNED-PAYLOAD" }
        return bodySHA256Hex
    }
}

/// The result of a successful verification: what later steps need (aws-chunked chunk signatures chain from
/// the seed signature and use the same signing key).
public struct VerifiedSigV4: Sendable {
    /// The verified access key id.
    public var accessKeyId: String
    /// `X-Amz-Date` of the request.
    public var amzDate: String
    /// `yyyyMMdd/region/service/aws4_request`.
    public var credentialScope: String
    /// The region of the scope.
    public var region: String
    /// The service (signing name) of the scope.
    public var service: String
    /// The derived signing key (HMAC chain of the secret; secret-equivalent for one day/region/service).
    public var signingKey: [UInt8]
    /// The request signature: the seed of the aws-chunked signature chain.
    public var seedSignature: String
    /// How the payload is covered.
    public var payloadMode: SigV4PayloadMode
    /// The signed header names, lower-case (what ``forwardableHeaders(of:)`` keeps).
    public var signedHeaders: [String] = []
    /// True when the request was authenticated by a presigned URL.
    public var isPresigned = false

    /// Creates a signing context (also used by the re-signer for ``AWSChunkedEncoder``).
    public init(accessKeyId: String, amzDate: String, credentialScope: String, region: String, service: String,
                signingKey: [UInt8], seedSignature: String, payloadMode: SigV4PayloadMode) {
        self.accessKeyId = accessKeyId
        self.amzDate = amzDate
        self.credentialScope = credentialScope
        self.region = region
        self.service = service
        self.signingKey = signingKey
        self.seedSignature = seedSignature
        self.payloadMode = payloadMode
    }
}
