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
        Swift.withUnsafeMutableBytes(of: &d) { SHA256.hash(bytes, into: $0.baseAddress!) }
        return d
    }

    public static func sha256<C: ContiguousBytes>(_ bytes: C) -> Digest { bytes.withUnsafeBytes { sha256($0) } }

    /// SHA-256(prefix ‖ a ‖ b): Merkle nodes (prefix 0x01) and the chain (prefix 0x02).
    @inline(__always)
    static func combine(_ prefix: UInt8, _ a: Digest, _ b: Digest) -> Digest {
        var buf: (UInt8, Digest, Digest) = (prefix, a, b)
        // The tuple is laid out as 1 byte then (aligned) digests; copy into a packed buffer instead.
        return Swift.withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 65) { p in
            p[0] = prefix
            Swift.withUnsafeBytes(of: &buf.1) { UnsafeMutableRawPointer(p.baseAddress! + 1).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            Swift.withUnsafeBytes(of: &buf.2) { UnsafeMutableRawPointer(p.baseAddress! + 33).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            return sha256(UnsafeRawBufferPointer(start: p.baseAddress!, count: 65))
        }
    }
}

/// The hash functions of the ledger (docs/LEDGER-FORMAT.md, "Hashes").
public enum LedgerHash {
    /// RFC 6962 leaf hash: SHA-256(0x00 ‖ record).
    public static func leaf(_ record: UnsafeRawBufferPointer) -> Digest {
        var h = SHA256()
        h.update(byte: 0)
        h.update(record)
        return Digest(h.finalize())!
    }

    public static func leaf<C: ContiguousBytes>(_ record: C) -> Digest { record.withUnsafeBytes { leaf($0) } }

    /// RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right).
    @inline(__always) public static func node(_ l: Digest, _ r: Digest) -> Digest { Digest.combine(0x01, l, r) }

    /// The record chain: chain_i = SHA-256(0x02 ‖ chain_{i−1} ‖ leaf_i), chain_0 = 32 zero bytes.
    @inline(__always) public static func chain(_ prev: Digest, _ leaf: Digest) -> Digest { Digest.combine(0x02, prev, leaf) }

    /// The root of the empty tree: SHA-256 of the empty string.
    public static let emptyRoot = Digest.sha256([UInt8]())
}
