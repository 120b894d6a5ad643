import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// Known answers computed by the independent Python reference (Tests/tools/merkle_reference.py).
@Suite struct MerkleTests {
    struct Fixture: Decodable {
        struct Tree: Decodable {
            var size: Int
            var root: String
            var inclusion: [[String]]
            var consistency: [String: [String]]
        }
        var leaves: [String]
        var trees: [Tree]
    }

    func load() throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "merkle_known_answers", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func d(_ hex: String) -> Digest { Digest(Hex.decode(hex)!)! }

    @Test func rootsMatchReferenceAndPublishedVector() throws {
        let f = try load()
        let leaves = f.leaves.map { LedgerHash.leaf(Hex.decode($0)!) }
        #expect(Merkle.root(Array(leaves.prefix(8))).hex == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        #expect(Merkle.root([Digest]()) == Digest.sha256([UInt8]()))
        var frontier = MerkleFrontier()
        for t in f.trees {
            #expect(Merkle.root(Array(leaves.prefix(t.size))).hex == t.root)
            frontier.append(leaves[t.size - 1])
            #expect(frontier.root.hex == t.root, "frontier at size \(t.size)")
        }
    }

    @Test func inclusionProofsMatchAndVerify() throws {
        let f = try load()
        let leaves = f.leaves.map { LedgerHash.leaf(Hex.decode($0)!) }
        for t in f.trees {
            let tree = Array(leaves.prefix(t.size))
            for i in 0..<t.size {
                let proof = Merkle.inclusionProof(index: i, leaves: tree[...])
                #expect(proof.map(\.hex) == t.inclusion[i])
                #expect(Merkle.verifyInclusion(leaf: tree[i], index: UInt64(i), size: UInt64(t.size), proof: proof, root: d(t.root)))
                // Wrong index, wrong size, tampered path all fail.
                if t.size > 1 {
                    #expect(!Merkle.verifyInclusion(leaf: tree[i], index: UInt64((i + 1) % t.size), size: UInt64(t.size), proof: proof, root: d(t.root)))
                }
                #expect(!Merkle.verifyInclusion(leaf: tree[i], index: UInt64(t.size), size: UInt64(t.size), proof: proof, root: d(t.root)))
                if var bad = proof.first.map({ _ in proof }) {
                    var b = bad[0].bytes; b[0] ^= 1; bad[0] = Digest(b)!
                    #expect(!Merkle.verifyInclusion(leaf: tree[i], index: UInt64(i), size: UInt64(t.size), proof: bad, root: d(t.root)))
                }
            }
        }
    }

    @Test func consistencyProofsMatchAndVerify() throws {
        let f = try load()
        let leaves = f.leaves.map { LedgerHash.leaf(Hex.decode($0)!) }
        for t in f.trees {
            let tree = Array(leaves.prefix(t.size))
            for m in 1..<max(t.size, 1) {
                let proof = Merkle.consistencyProof(oldSize: m, leaves: tree[...])
                #expect(proof.map(\.hex) == t.consistency[String(m)])
                let oldRoot = Merkle.root(Array(tree.prefix(m)))
                #expect(Merkle.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(t.size), oldRoot: oldRoot, newRoot: d(t.root), proof: proof))
                // A forked old tree fails.
                var forged = tree
                forged[m - 1] = LedgerHash.leaf([0xFF])
                #expect(!Merkle.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(t.size), oldRoot: Merkle.root(Array(forged.prefix(m))), newRoot: d(t.root), proof: proof))
            }
        }
    }
}
