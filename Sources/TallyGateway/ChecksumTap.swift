import Synchronization
import TallyAWS

/// The checksum an aws-chunked upload declares in its trailer (`x-amz-trailer: x-amz-checksum-crc32` ...), computed
/// over the decoded payload as it streams and checked against the trailer at the end of the body.
final class ChecksumTap: Sendable {
    let algorithm: AWSChecksumAlgorithm
    private let hasher: Mutex<AWSChecksumHasher?>

    init(_ algorithm: AWSChecksumAlgorithm) {
        self.algorithm = algorithm
        hasher = Mutex(AWSChecksumHasher(algorithm))
    }

    func update(_ bytes: [UInt8]) {
        hasher.withLock { h in bytes.withUnsafeBytes { h!.update($0) } }
    }

    /// Checks the decoded body's trailers (once); returns the canonical base64 value.
    func verify(_ trailers: [(String, String)]) throws(AWSAuthError) -> String {
        let digest = hasher.withLock { h -> [UInt8]? in h.take()?.finalize() }
        guard let digest else { throw .invalidRequest("the trailer checksum was already checked") }
        return try algorithm.verifyTrailer(trailers, digest: digest)
    }
}
