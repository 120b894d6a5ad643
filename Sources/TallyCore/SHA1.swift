internal import COpenSSL

/// SHA-1 through libcrypto's EVP interface, streaming. Only for checksums others define with it (S3's
/// `x-amz-checksum-sha1`), never for security decisions of Tally's own.
public struct SHA1: ~Copyable {
    public static let digestSize = 20
    private let ctx: OpaquePointer

    public init() {
        guard let ctx = EVP_MD_CTX_new(), EVP_DigestInit_ex(ctx, EVP_sha1(), nil) == 1 else {
            fatalError("libcrypto: EVP_DigestInit_ex(sha1) failed")
        }
        self.ctx = ctx
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    }

    /// Finishes and returns the 20-byte digest. The hasher is consumed.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var len: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &len) }
        return out
    }
}
