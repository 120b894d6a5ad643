internal import COpenSSL

extension SHA256 {
    /// SHA-256 of the concatenation of `parts`, written to `out` (32 bytes), through libcrypto's
    /// low-level SHA256_* entry points (the SHA-NI / assembly block function directly). Unlike the
    /// EVP one-shot, there is no provider fetch or lock per call, which dominates when hashing
    /// millions of short messages (ledger records, Merkle nodes).
    @inline(__always)
    public static func digest(_ parts: UnsafeRawBufferPointer..., into out: UnsafeMutableRawPointer) {
        var ctx = SHA256_CTX()
        SHA256_Init(&ctx)
        for p in parts where p.count > 0 { SHA256_Update(&ctx, p.baseAddress, p.count) }
        SHA256_Final(out.assumingMemoryBound(to: UInt8.self), &ctx)
    }
}
