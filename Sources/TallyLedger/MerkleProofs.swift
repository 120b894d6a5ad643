/// RFC 6962 / RFC 9162 Merkle tree hashes, inclusion and consistency proofs.
public enum Merkle {
    /// MTH(D[range]) over leaf hashes.
    public static func root(_ leaves: ArraySlice<Digest>) -> Digest {
        switch leaves.count {
        case 0: return LedgerHash.emptyRoot
        case 1: return leaves[leaves.startIndex]
        default:
            let k = largestPowerOfTwo(below: leaves.count)
            let mid = leaves.startIndex + k
            return LedgerHash.node(root(leaves[leaves.startIndex..<mid]), root(leaves[mid...]))
        }
    }

    public static func root(_ leaves: [Digest]) -> Digest { root(leaves[...]) }

    /// The largest power of two strictly smaller than n (n ≥ 2).
    static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// PATH(m, D[n]) of RFC 6962 §2.1.1: the inclusion proof of leaf `index` in the tree of `leaves`.
    public static func inclusionProof(index: Int, leaves: ArraySlice<Digest>) -> [Digest] {
        let n = leaves.count
        guard n > 1 else { return [] }
        let k = largestPowerOfTwo(below: n)
        let mid = leaves.startIndex + k
        if index < k {
            return inclusionProof(index: index, leaves: leaves[leaves.startIndex..<mid]) + [root(leaves[mid...])]
        }
        return inclusionProof(index: index - k, leaves: leaves[mid...]) + [root(leaves[leaves.startIndex..<mid])]
    }

    /// PROOF(m, D[n]) of RFC 6962 §2.1.2: consistency of the first `m` leaves with all of `leaves`.
    public static func consistencyProof(oldSize m: Int, leaves: ArraySlice<Digest>) -> [Digest] {
        guard m > 0, m < leaves.count else { return [] }
        return subproof(m, leaves, true)
    }

    private static func subproof(_ m: Int, _ d: ArraySlice<Digest>, _ b: Bool) -> [Digest] {
        let n = d.count
        if m == n { return b ? [] : [root(d)] }
        let k = largestPowerOfTwo(below: n)
        let mid = d.startIndex + k
        if m <= k { return subproof(m, d[d.startIndex..<mid], b) + [root(d[mid...])] }
        return subproof(m - k, d[mid...], false) + [root(d[d.startIndex..<mid])]
    }

    /// RFC 9162 §2.1.3.2: verifies that `leaf` is leaf `index` of the tree of `size` with `root`.
    public static func verifyInclusion(leaf: Digest, index: UInt64, size: UInt64, proof: [Digest], root: Digest) -> Bool {
        guard index < size else { return false }
        var fn = index, sn = size - 1
        var r = leaf
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = LedgerHash.node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = LedgerHash.node(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2: verifies that the tree (oldSize, oldRoot) is a prefix of (newSize, newRoot).
    public static func verifyConsistency(oldSize: UInt64, newSize: UInt64, oldRoot: Digest, newRoot: Digest, proof: [Digest]) -> Bool {
        if oldSize > newSize { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        guard !path.isEmpty else { return false }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = LedgerHash.node(c, fr)
                sr = LedgerHash.node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = LedgerHash.node(sr, c)
            }
            fn >>= 1; sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}
