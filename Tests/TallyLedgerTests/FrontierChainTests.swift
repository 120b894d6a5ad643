import Testing
import TallyCore
@testable import TallyLedger

/// `MerkleFrontier.append(_:chain:)` hashes the chain link together with the first merge
/// (SHA256.digestPair2); it must give exactly what the chain link and `append` give one by one.
@Suite struct FrontierChainTests {
    @Test func matchesTheChainAndTheAppendOneByOne() {
        var together = MerkleFrontier(), apart = MerkleFrontier()
        var chainTogether = Digest(), chainApart = Digest()
        for i in 0..<600 {
            let leaf = LedgerHash.leaf(Array("record \(i)".utf8))
            together.append(leaf, chain: &chainTogether)
            chainApart = LedgerHash.chain(chainApart, leaf)
            apart.append(leaf)
            #expect(together == apart, "frontier after \(i + 1) leaves")
            #expect(chainTogether == chainApart, "chain after \(i + 1) leaves")
        }
        #expect(together.root == apart.root && together.size == 600)
    }

    @Test func pairDigestsMatchTheOneShotHash() {
        for p: UInt8 in [0x01, 0x02] {
            let a = LedgerHash.leaf(Array("a".utf8)), b = LedgerHash.leaf(Array("b".utf8)), c = LedgerHash.leaf(Array("c".utf8))
            let (x, y) = Digest.combine2(p, a, b, p ^ 0x03, c, a)
            #expect(x == Digest.sha256([p] + a.bytes + b.bytes))
            #expect(y == Digest.sha256([p ^ 0x03] + c.bytes + a.bytes))
        }
    }
}
