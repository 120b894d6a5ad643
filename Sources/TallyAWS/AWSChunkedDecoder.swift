import TallyCore

/// Incremental decoder of `Content-Encoding: aws-chunked` bodies (S3 streaming uploads).
///
/// Feed bytes as they arrive (split anywhere); decoded payload bytes come out. In the signed modes every chunk
/// signature is verified (`AWS4-HMAC-SHA256-PAYLOAD` chained from the seed signature), as is the trailer
/// signature (`AWS4-HMAC-SHA256-TRAILER`) in ``SigV4PayloadMode/streamingSignedTrailer``. Memory is bounded:
/// unsigned chunks pass straight through; a signed chunk is held until its signature checks (so unverified bytes
/// are never released) and may be at most ``maximumSignedChunkSize`` bytes.
public struct AWSChunkedDecoder: Sendable {
    /// The largest signed chunk accepted (held in memory until verified). SDKs use 8–128 KiB.
    public static let maximumSignedChunkSize = 8 << 20

    /// Creates a decoder for `mode` (one of the aws-chunked modes); `verified` is required for the signed modes.
    /// `decodedContentLength` (`x-amz-decoded-content-length`), when given, is checked at the end.
    public init(mode: SigV4PayloadMode, verified: VerifiedSigV4?, decodedContentLength: Int? = nil) {
        self.mode = mode
        self.verified = verified
        self.expectedLength = decodedContentLength
        self.previousSignature = verified?.seedSignature ?? ""
    }

    let mode: SigV4PayloadMode
    let verified: VerifiedSigV4?
    let expectedLength: Int?
    var previousSignature: String
    /// Decoded payload bytes produced so far.
    public private(set) var decodedCount = 0

    /// Feeds the next bytes of the body; returns the payload bytes decoded (and verified) so far.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(AWSAuthError) -> [UInt8] {
        throw .invalidRequest("aws-chunked decoding is not implemented yet")
    }

    /// Ends the body: throws when it is incomplete; returns the trailers (lower-case names).
    public mutating func finish() throws(AWSAuthError) -> [(String, String)] {
        throw .invalidRequest("aws-chunked decoding is not implemented yet")
    }
}
