/// The right edge of an RFC 6962 Merkle tree over leaves 0..<size: one perfect-subtree root per set
/// bit of `size`, largest (leftmost) first. Appending is amortised one node hash per leaf; the
/// root costs popcount(size) − 1 hashes.
public struct MerkleFrontier: Sendable, Equatable {
    public private(set) var size: UInt64 = 0
    public private(set) var hashes: [Digest] = []

    public init() {}

    /// A frontier from stored parts; nil when the number of hashes is not popcount(size).
    public init?(size: UInt64, hashes: [Digest]) {
        guard hashes.count == size.nonzeroBitCount else { return nil }
        self.size = size
        self.hashes = hashes
    }

    public mutating func append(_ leaf: Digest) {
        var h = leaf
        var s = size
        while s & 1 == 1 {
            h = LedgerHash.node(hashes.removeLast(), h)
            s >>= 1
        }
        hashes.append(h)
        size += 1
    }

    /// `append(leaf)` and `chain = LedgerHash.chain(chain, leaf)` in one: when the append merges,
    /// the chain link and the first merge are hashed together (`SHA256.digestPair2`).
    public mutating func append(_ leaf: Digest, chain: inout Digest) {
        guard size & 1 == 1 else {
            chain = LedgerHash.chain(chain, leaf)
            append(leaf)
            return
        }
        var h: Digest
        (chain, h) = Digest.combine2(0x02, chain, leaf, 0x01, hashes.removeLast(), leaf)
        var s = size >> 1
        while s & 1 == 1 {
            h = LedgerHash.node(hashes.removeLast(), h)
            s >>= 1
        }
        hashes.append(h)
        size += 1
    }

    /// The tree head for the current size.
    public var root: Digest {
        guard var r = hashes.last else { return LedgerHash.emptyRoot }
        for h in hashes.dropLast().reversed() { r = LedgerHash.node(h, r) }
        return r
    }
}
