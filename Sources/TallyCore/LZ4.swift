internal import CLZ4
internal import CTallyShim

/// LZ4 block compression, used for ledger blocks. Blocks are written by Tally's own encoder
/// (CTallyShim/lz4_block.c: greedy like liblz4's fast mode, with a 65,536-entry table that finds
/// more of the ledger's repeated JSON) and read by liblz4; the format is standard LZ4 blocks.
public enum LZ4 {
    /// The worst-case compressed size for `count` input bytes.
    public static func compressBound(_ count: Int) -> Int { Int(LZ4_compressBound(Int32(count))) }

    /// Compresses `source` into a new array (one LZ4 block).
    public static func compress(_ source: UnsafeRawBufferPointer) throws -> [UInt8] {
        let bound = compressBound(source.count)
        return try [UInt8](unsafeUninitializedCapacity: max(bound, 1)) { out, n in
            n = 0
            n = try compress(source, into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[0..<bound]))
        }
    }

    /// Compresses `source` into `destination` (at least `compressBound(source.count)` bytes) as one
    /// LZ4 block; returns the compressed length.
    public static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let input = source.baseAddress, source.count > 0 else {
            guard destination.count > 0 else { throw TallyError(.compression, "LZ4 destination of 0 bytes") }
            destination[0] = 0  // the empty block: one token, no literals
            return 1
        }
        let written = tally_lz4_compress(input.assumingMemoryBound(to: UInt8.self), source.count,
                                         destination.baseAddress!.assumingMemoryBound(to: UInt8.self), destination.count)
        guard written > 0 else {
            throw TallyError(.compression, "LZ4 compression failed on \(source.count) bytes (destination \(destination.count) bytes)")
        }
        return written
    }

    /// Compresses `source` with liblz4's LZ4_compress_default (acceleration 1) into `destination`
    /// (at least `compressBound(source.count)` bytes); returns the compressed length. The
    /// benchmark's reference for LZ4 throughput and size.
    public static func compressReference(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        let written = LZ4_compress_default(
            source.baseAddress?.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        guard written > 0 || source.count == 0 else {
            throw TallyError(.compression, "LZ4_compress_default failed on \(source.count) bytes")
        }
        return Int(written)
    }

    public static func compress<C: ContiguousBytes>(_ source: C) throws -> [UInt8] {
        try source.withUnsafeBytes { try compress($0) }
    }

    /// The default LZ4HC compression level (9): about 26% smaller than `compress` on ledger
    /// events and several times slower; the output is the same LZ4 block format.
    public static let highCompressionDefaultLevel = 9

    /// Compresses `source` with LZ4_compress_HC at `level` (1...12) into a new array.
    public static func compressHC(_ source: UnsafeRawBufferPointer, level: Int = highCompressionDefaultLevel) throws -> [UInt8] {
        let bound = compressBound(source.count)
        return try [UInt8](unsafeUninitializedCapacity: max(bound, 1)) { out, n in
            let written = LZ4_compress_HC(
                source.baseAddress?.assumingMemoryBound(to: CChar.self),
                UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(source.count), Int32(bound), Int32(level))
            guard written > 0 || source.count == 0 else {
                n = 0
                throw TallyError(.compression, "LZ4_compress_HC failed on \(source.count) bytes")
            }
            n = Int(written)
        }
    }

    /// Decompresses a block whose decompressed size is exactly `originalSize`.
    /// Throws on malformed input (LZ4_decompress_safe never reads or writes out of bounds).
    public static func decompress(_ source: UnsafeRawBufferPointer, originalSize: Int) throws -> [UInt8] {
        guard originalSize >= 0 else { throw TallyError(.compression, "negative decompressed size") }
        return try [UInt8](unsafeUninitializedCapacity: max(originalSize, 1)) { out, n in
            n = 0
            try decompress(source, into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[0..<originalSize]))
            n = originalSize
        }
    }

    /// Decompresses a block into `out`, which must hold exactly its decompressed size (reusing a
    /// buffer avoids fresh pages for every block). Throws on malformed input.
    public static func decompress(_ source: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws {
        guard out.count > 0 else {
            guard source.count == 1, source[0] == 0 else { throw TallyError(.compression, "LZ4 block is corrupt (expected an empty block)") }
            return
        }
        let got = LZ4_decompress_safe(
            source.baseAddress?.assumingMemoryBound(to: CChar.self),
            out.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(out.count))
        guard got == Int32(out.count) else {
            throw TallyError(.compression, "LZ4 block is corrupt (decoded \(got) of \(out.count) bytes)")
        }
    }

    public static func decompress<C: ContiguousBytes>(_ source: C, originalSize: Int) throws -> [UInt8] {
        try source.withUnsafeBytes { try decompress($0, originalSize: originalSize) }
    }
}
