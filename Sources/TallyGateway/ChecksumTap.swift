import NIOCore
import Synchronization
import TallyAWS

/// The checksum an upload declares — in its aws-chunked trailer (`x-amz-trailer: x-amz-checksum-crc32` ...), or as an
/// `x-amz-checksum-*` header (`declared`) — computed over the payload as it streams and checked at the end of the body.
final class ChecksumTap: Sendable {
    let algorithm: AWSChecksumAlgorithm
    /// The value of an `x-amz-checksum-*` header (nil: the trailer carries it).
    let declared: String?
    private let hasher: Mutex<AWSChecksumHasher?>

    /// For a trailer's checksum.
    convenience init(_ algorithm: AWSChecksumAlgorithm) { self.init(algorithm, declared: nil) }

    /// For a header's checksum (`declared`: its value).
    init(_ algorithm: AWSChecksumAlgorithm, declared: String?) {
        self.algorithm = algorithm
        self.declared = declared
        hasher = Mutex(AWSChecksumHasher(algorithm))
    }

    func update(_ bytes: [UInt8]) {
        hasher.withLock { h in bytes.withUnsafeBytes { h!.update($0) } }
    }

    func update(_ buffer: ByteBuffer) {
        hasher.withLock { h in buffer.withUnsafeReadableBytes { h!.update($0) } }
    }

    /// Checks the body against the declared header value (once).
    func verifyDeclared() throws(AWSAuthError) {
        let digest = hasher.withLock { h -> [UInt8]? in h.take()?.finalize() }
        guard let digest, let declared else { throw .invalidRequest("the checksum was already checked") }
        _ = try algorithm.verify(declared, digest: digest)
    }

    /// Checks the decoded body's trailers (once); returns the canonical base64 value.
    func verify(_ trailers: [(String, String)]) throws(AWSAuthError) -> String {
        let digest = hasher.withLock { h -> [UInt8]? in h.take()?.finalize() }
        guard let digest else { throw .invalidRequest("the trailer checksum was already checked") }
        return try algorithm.verifyTrailer(trailers, digest: digest)
    }
}
