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

    // Fixed-arity forms for the hot loops: a variadic call allocates its argument array on the
    // heap on every call, which costs as much as hashing a short message.

    /// SHA-256(a) into `out` (32 bytes).
    @inline(__always)
    public static func digest(_ a: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        var ctx = SHA256_CTX()
        SHA256_Init(&ctx)
        if a.count > 0 { SHA256_Update(&ctx, a.baseAddress, a.count) }
        SHA256_Final(out.assumingMemoryBound(to: UInt8.self), &ctx)
    }

    /// SHA-256(a ‖ b) into `out` (32 bytes).
    @inline(__always)
    public static func digest(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        var ctx = SHA256_CTX()
        SHA256_Init(&ctx)
        if a.count > 0 { SHA256_Update(&ctx, a.baseAddress, a.count) }
        if b.count > 0 { SHA256_Update(&ctx, b.baseAddress, b.count) }
        SHA256_Final(out.assumingMemoryBound(to: UInt8.self), &ctx)
    }

    /// SHA-256(a ‖ b ‖ c) into `out` (32 bytes).
    @inline(__always)
    public static func digest(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer,
                              into out: UnsafeMutableRawPointer) {
        var ctx = SHA256_CTX()
        SHA256_Init(&ctx)
        if a.count > 0 { SHA256_Update(&ctx, a.baseAddress, a.count) }
        if b.count > 0 { SHA256_Update(&ctx, b.baseAddress, b.count) }
        if c.count > 0 { SHA256_Update(&ctx, c.baseAddress, c.count) }
        SHA256_Final(out.assumingMemoryBound(to: UInt8.self), &ctx)
    }
}
