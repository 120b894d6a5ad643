internal import COpenSSL
internal import CTallyShim

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
        tally_sha256_parts3(a.baseAddress, a.count, nil, 0, nil, 0, out.assumingMemoryBound(to: UInt8.self))
    }

    /// SHA-256(a ‖ b) into `out` (32 bytes).
    @inline(__always)
    public static func digest(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        tally_sha256_parts3(a.baseAddress, a.count, b.baseAddress, b.count, nil, 0, out.assumingMemoryBound(to: UInt8.self))
    }

    /// SHA-256(a ‖ b ‖ c) into `out` (32 bytes). The C helper pads the message itself and hands
    /// libcrypto whole blocks only, so the block function runs straight over the caller's bytes.
    @inline(__always)
    public static func digest(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer,
                              into out: UnsafeMutableRawPointer) {
        tally_sha256_parts3(a.baseAddress, a.count, b.baseAddress, b.count, c.baseAddress, c.count,
                            out.assumingMemoryBound(to: UInt8.self))
    }

    /// SHA-256(a0 ‖ b0 ‖ c0) into `out0` and SHA-256(a1 ‖ b1 ‖ c1) into `out1` (32 bytes each), the
    /// two messages interleaved on the SHA extensions when the CPU has them (CTallyShim/sha256_x2.c:
    /// one message at a time leaves the SHA unit idle on its round latency), else one after the other.
    @inline(__always)
    public static func digest2(_ a0: UnsafeRawBufferPointer, _ b0: UnsafeRawBufferPointer, _ c0: UnsafeRawBufferPointer,
                               into out0: UnsafeMutableRawPointer,
                               _ a1: UnsafeRawBufferPointer, _ b1: UnsafeRawBufferPointer, _ c1: UnsafeRawBufferPointer,
                               into out1: UnsafeMutableRawPointer) {
        tally_sha256_parts3_x2(a0.baseAddress, a0.count, b0.baseAddress, b0.count, c0.baseAddress, c0.count,
                               out0.assumingMemoryBound(to: UInt8.self),
                               a1.baseAddress, a1.count, b1.baseAddress, b1.count, c1.baseAddress, c1.count,
                               out1.assumingMemoryBound(to: UInt8.self))
    }

    /// `digestPair` of two pairs at once (interleaved like `digest2`).
    @inline(__always)
    public static func digestPair2(prefix p0: UInt8, _ l0: UnsafeRawPointer, _ r0: UnsafeRawPointer, into out0: UnsafeMutableRawPointer,
                                   prefix p1: UInt8, _ l1: UnsafeRawPointer, _ r1: UnsafeRawPointer, into out1: UnsafeMutableRawPointer) {
        tally_sha256_pair_x2(p0, l0.assumingMemoryBound(to: UInt8.self), r0.assumingMemoryBound(to: UInt8.self),
                             out0.assumingMemoryBound(to: UInt8.self),
                             p1, l1.assumingMemoryBound(to: UInt8.self), r1.assumingMemoryBound(to: UInt8.self),
                             out1.assumingMemoryBound(to: UInt8.self))
    }

    /// True when `digest2` interleaves two messages on the SHA extensions (false: one after the other).
    public static var interleavesTwoMessages: Bool { tally_sha256_x2_available() != 0 }

    /// SHA-256(prefix ‖ left ‖ right) for two 32-byte values (Merkle nodes, hash chains) into `out`.
    @inline(__always)
    public static func digestPair(prefix: UInt8, _ left: UnsafeRawPointer, _ right: UnsafeRawPointer,
                                  into out: UnsafeMutableRawPointer) {
        tally_sha256_pair(prefix, left.assumingMemoryBound(to: UInt8.self), right.assumingMemoryBound(to: UInt8.self),
                          out.assumingMemoryBound(to: UInt8.self))
    }
}
