public import TallyCore

/// A SHA-256 digest held inline (no heap allocation), for hot loops over millions of records.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    public init() {}

    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        Swift.withUnsafeMutableBytes(of: &self) { $0.copyBytes(from: bytes) }
    }

    /// The 32 bytes.
    public var bytes: [UInt8] { Swift.withUnsafeBytes(of: self) { Array($0) } }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    /// SHA-256 of `bytes`.
    @inline(__always)
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> Digest {
        var d = Digest()
        Swift.withUnsafeMutableBytes(of: &d) { SHA256.digest(bytes, into: $0.baseAddress!) }
        return d
    }

    public static func sha256<C: ContiguousBytes>(_ bytes: C) -> Digest { bytes.withUnsafeBytes { sha256($0) } }

    /// SHA-256(prefix ‖ a ‖ b): Merkle nodes (prefix 0x01) and the chain (prefix 0x02).
    @inline(__always)
    static func combine(_ prefix: UInt8, _ a: Digest, _ b: Digest) -> Digest {
        var d = Digest()
        var buf: (Digest, Digest) = (a, b)  // two 32-byte values, contiguous
        Swift.withUnsafeBytes(of: &buf) { ab in
            Swift.withUnsafeMutableBytes(of: &d) {
                SHA256.digestPair(prefix: prefix, ab.baseAddress!, ab.baseAddress! + 32, into: $0.baseAddress!)
            }
        }
        return d
    }

    /// `combine` of two triples at once (`SHA256.digestPair2`).
    @inline(__always)
    static func combine2(_ p0: UInt8, _ a0: Digest, _ b0: Digest, _ p1: UInt8, _ a1: Digest, _ b1: Digest) -> (Digest, Digest) {
        var d0 = Digest(), d1 = Digest()
        var buf: (Digest, Digest, Digest, Digest) = (a0, b0, a1, b1)  // contiguous 32-byte values
        Swift.withUnsafeBytes(of: &buf) { v in
            Swift.withUnsafeMutableBytes(of: &d0) { o0 in
                Swift.withUnsafeMutableBytes(of: &d1) { o1 in
                    SHA256.digestPair2(prefix: p0, v.baseAddress!, v.baseAddress! + 32, into: o0.baseAddress!,
                                       prefix: p1, v.baseAddress! + 64, v.baseAddress! + 96, into: o1.baseAddress!)
                }
            }
        }
        return (d0, d1)
    }

    /// SHA-256(0x00 ‖ record): an RFC 6962 leaf.
    @inline(__always)
    static func leaf(_ record: UnsafeRawBufferPointer) -> Digest {
        var d = Digest()
        var zero: UInt8 = 0
        Swift.withUnsafeBytes(of: &zero) { z in
            Swift.withUnsafeMutableBytes(of: &d) { SHA256.digest(z, record, into: $0.baseAddress!) }
        }
        return d
    }
}

/// The hash functions of the ledger (docs/LEDGER-FORMAT.md, "Hashes").
public enum LedgerHash {
    /// RFC 6962 leaf hash: SHA-256(0x00 ‖ record).
    public static func leaf(_ record: UnsafeRawBufferPointer) -> Digest { Digest.leaf(record) }

    public static func leaf<C: ContiguousBytes>(_ record: C) -> Digest { record.withUnsafeBytes { leaf($0) } }

    /// RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right).
    @inline(__always) public static func node(_ l: Digest, _ r: Digest) -> Digest { Digest.combine(0x01, l, r) }

    /// The record chain: chain_i = SHA-256(0x02 ‖ chain_{i−1} ‖ leaf_i), chain_0 = 32 zero bytes.
    @inline(__always) public static func chain(_ prev: Digest, _ leaf: Digest) -> Digest { Digest.combine(0x02, prev, leaf) }

    /// The root of the empty tree: SHA-256 of the empty string.
    public static let emptyRoot = Digest.sha256([UInt8]())
}
