public import Foundation
import TallyCore

/// AWS Signature Version 4: parsing, verification and signing, with the canonicalization rules of botocore
/// and AWS (S3's path-as-sent vs. other services' normalized, double-encoded path).
public enum SigV4 {
    /// The only SigV4 algorithm supported (SigV4a, ECDSA, is not).
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// Maximum clock difference accepted for header auth: 15 minutes, as AWS.
    public static let maximumSkew: TimeInterval = 15 * 60
    /// Maximum `X-Amz-Expires` of a presigned URL: 7 days.
    public static let maximumPresignedExpiry = 604_800

    /// True when a request signed for `service` to `path` uses S3's rules (no path normalization or double encoding,
    /// `x-amz-content-sha256` in the canonical request): the S3 signing names, except for the S3 on Outposts control
    /// plane (botocore's `s3outposts`: signing name `s3-outposts`, paths under `/S3Outposts/`), which signs as any
    /// REST-JSON API. (Session 13 probe: its SDK calls were refused for a missing x-amz-content-sha256, and one sent
    /// with UNSIGNED-PAYLOAD went through with a body its signature did not cover.) No S3 bucket is named
    /// `S3Outposts` (bucket names are lower-case).
    public static func usesS3Canonicalization(service: String, path: String) -> Bool {
        isS3SigningName(service) && !(service == "s3-outposts" && path.hasPrefix("/S3Outposts/"))
    }

    /// True for the signing names of S3 and its variants (Object Lambda, Outposts, Express). Whether a request uses
    /// S3's signing rules also depends on its path: ``usesS3Canonicalization(service:path:)``.
    public static func isS3SigningName(_ service: String) -> Bool {
        service == "s3" || service == "s3-object-lambda" || service == "s3-outposts" || service == "s3express"
    }

    /// `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
    public static func signingKey(secretAccessKey: String, date: String, region: String, service: String) -> [UInt8] {
        let kDate = HMACSHA256.mac(key: Array(("AWS4" + secretAccessKey).utf8), message: date)
        let kRegion = HMACSHA256.mac(key: kDate, message: region)
        let kService = HMACSHA256.mac(key: kRegion, message: service)
        return HMACSHA256.mac(key: kService, message: "aws4_request")
    }

    /// `AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex sha256(canonical request)>`.
    public static func stringToSign(amzDate: String, credentialScope: String, canonicalRequest: String) -> String {
        stringToSign(amzDate: amzDate, credentialScope: credentialScope, canonicalRequestBytes: Array(canonicalRequest.utf8))
    }

    static func stringToSign(amzDate: String, credentialScope: String, canonicalRequestBytes: [UInt8]) -> String {
        "\(algorithm)\n\(amzDate)\n\(credentialScope)\n\(Hex.encode(SHA256.hash(canonicalRequestBytes)))"
    }

    /// Hex HMAC-SHA256 of `stringToSign` under `signingKey`.
    public static func signature(signingKey: [UInt8], stringToSign: String) -> String {
        Hex.encode(HMACSHA256.mac(key: signingKey, message: stringToSign))
    }

    /// Hex SHA-256 of the empty string.
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
