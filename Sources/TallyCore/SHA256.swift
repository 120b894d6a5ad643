internal import COpenSSL

/// SHA-256 through libcrypto's EVP interface (uses SHA-NI where the CPU has it).
public struct SHA256: ~Copyable {
    public static let digestSize = 32
    private let ctx: OpaquePointer

    public init() {
        guard let ctx = EVP_MD_CTX_new(), EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
            fatalError("libcrypto: EVP_DigestInit_ex(sha256) failed")
        }
        self.ctx = ctx
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    }

    public mutating func update<C: ContiguousBytes>(_ bytes: C) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(byte: UInt8) {
        withUnsafeBytes(of: byte) { update($0) }
    }

    /// Finishes and returns the 32-byte digest. The hasher is consumed.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &len) }
        return out
    }

    /// One-shot digest of a byte buffer (libcrypto's fast path, no context allocation).
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buf, n in
            var len: UInt32 = 0
            _ = EVP_Digest(bytes.baseAddress, bytes.count, buf.baseAddress, &len, EVP_sha256(), nil)
            n = 32
        }
    }

    public static func hash<C: ContiguousBytes>(_ bytes: C) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Writes the digest of `bytes` into `out` (32 bytes), allocation-free, for hot loops.
    public static func hash(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        _ = SHA256_lowlevel(bytes, out)
    }
}

@inline(__always)
private func SHA256_lowlevel(_ bytes: UnsafeRawBufferPointer, _ out: UnsafeMutableRawPointer) -> Int32 {
    var len: UInt32 = 0
    return EVP_Digest(bytes.baseAddress, bytes.count, out.assumingMemoryBound(to: UInt8.self), &len, EVP_sha256(), nil)
}
