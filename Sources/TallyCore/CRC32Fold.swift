internal import CTallyShim

/// CRC-32 (IEEE) folding with carry-less multiplication (PCLMULQDQ), for the ledger's block CRCs.
/// It advances a CRC register over a prefix of the bytes; the caller finishes the tail (fewer than
/// 16 bytes, or everything when the CPU lacks the instruction) with its table implementation.
public enum CRC32Fold {
    /// True when this CPU can fold (x86-64 with PCLMULQDQ and SSE4.1).
    public static var isAvailable: Bool { tally_crc32_fold_available() != 0 }

    /// Advances `register` (the inverted CRC state, as inside zlib's `crc32`) over a prefix of
    /// `bytes` and returns the prefix length: a multiple of 16, or 0 when `bytes` is shorter than
    /// 64 or the CPU cannot fold.
    @inline(__always)
    public static func advance(_ register: inout UInt32, over bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress, bytes.count >= 64 else { return 0 }
        return tally_crc32_fold(&register, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// The seven folding constants the C code uses (x^544, x^480, x^160, x^96, x^64 mod P, P, mu),
    /// so a test can recompute them from the polynomial.
    public static var constants: [UInt64] {
        var out = [UInt64](repeating: 0, count: 7)
        out.withUnsafeMutableBufferPointer { tally_crc32_fold_constants($0.baseAddress!) }
        return out
    }
}
