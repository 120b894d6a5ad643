import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// Tamper evidence: every bit flip, truncation, deleted segments, reordered blocks, a rewrite with
/// a recomputed chain and tree, and forks / truncation against a witness.
@Suite(.serialized) struct TamperTests {
    static func smallOptions(clock: TestClock? = nil) -> LedgerOptions {
        var o = testOptions()
        o.segmentMaxBytes = 700
        o.blockMaxBytes = 300
        o.checkpointEveryRecords = 5
        if let clock { o.clock = { clock.now } }
        return o
    }

    /// A closed ledger of `count` records in commits of 4, with a few segments and blocks.
    static func makeLedger(_ home: TempHome, count: Int = 12, options: LedgerOptions = smallOptions()) async throws {
        _ = try Ledger.initialize(home: home.path, options: options)
        let ledger = try await Ledger.open(home: home.path, options: options)
        var i = 0
        while i < count {
            _ = try await ledger.append(contentsOf: (i..<min(count, i + 4)).map(sampleEvent))
            i += 4
        }
        try await ledger.close()
    }

    func verify(_ home: TempHome, witnesses: [String] = []) throws -> VerifyReport {
        try LedgerVerifier(home: home.path, witnesses: witnesses).run()
    }

    /// The intact blocks of a segment file's bytes: offset and header.
    static func goodBlocks(_ bytes: [UInt8]) -> [(offset: Int, header: BlockHeader)] {
        bytes.withUnsafeBytes { b in
            SegmentScan(b).entries.compactMap { if case .good(let o, let h) = $0 { return (o, h) }; return nil }
        }
    }

    /// The first segment file: its path relative to the home, and its full path.
    func firstSegment(_ home: TempHome) throws -> (rel: String, path: String) {
        let rel = try #require(try files(home).first { $0.hasPrefix("ledger/segments/") })
        return (rel, home.path + "/" + rel)
    }

    func files(_ home: TempHome) throws -> [String] {
        let segs = try FileManager.default.contentsOfDirectory(atPath: home.path + "/ledger/segments").sorted().map { "ledger/segments/" + $0 }
        return segs + ["ledger/checkpoints.log", "ledger/epochs.note", "ledger/epochs.pub", "ledger.pub"]
    }

    @Test func pristineLedgerVerifiesCleanly() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home)
        let r = try verify(home)
        #expect(r.ok, "\(r.problems.map(\.text))")
        #expect(r.warnings.isEmpty, "\(r.warnings.map(\.text))")
        #expect(r.records == 12)
        #expect(r.segments >= 2)
        #expect(r.checkpoints >= 3)
    }

    @Test func everyBitFlipIsReportedWithItsLocation() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home)
        var flips = 0
        for rel in try files(home) {
            let path = home.path + "/" + rel
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            let fd = open(path, O_RDWR)
            defer { close(fd) }
            for byte in 0..<original.count {
                for bit in 0..<8 {
                    var b = original[byte] ^ UInt8(1 << bit)
                    pwrite(fd, &b, 1, off_t(byte))
                    let r = try verify(home)
                    flips += 1
                    let located: Bool
                    if rel.hasPrefix("ledger/segments/") || rel == "ledger/checkpoints.log" {
                        located = r.problems.contains { $0.file == rel && ($0.offset ?? Int.max) <= byte }
                    } else {
                        located = r.problems.contains { $0.kind == "epoch-keys" }
                    }
                    #expect(!r.ok && located, "flip of bit \(bit) of byte \(byte) in \(rel) not reported with its location: \(r.problems.map(\.text))")
                    var o = original[byte]
                    pwrite(fd, &o, 1, off_t(byte))
                    if r.ok { return }  // one clear failure is enough
                }
            }
        }
        #expect(flips > 10_000)
        #expect(try verify(home).ok)
    }

    @Test func truncationAndDeletedSegmentsAreReported() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home)
        let segs = try files(home).filter { $0.hasPrefix("ledger/segments/") }
        #expect(segs.count >= 3)
        let last = home.path + "/" + segs.last!
        let lastData = try Data(contentsOf: URL(fileURLWithPath: last))

        // Truncated tail of the last segment: covered by a checkpoint, so it is damage.
        try lastData.prefix(lastData.count - 10).write(to: URL(fileURLWithPath: last))
        var r = try verify(home)
        #expect(!r.ok)
        #expect(r.problems.contains { $0.file == segs.last! && $0.offset != nil })
        #expect(r.problems.contains { $0.kind == "truncated" })
        try lastData.write(to: URL(fileURLWithPath: last))

        // The last segment deleted.
        try FileManager.default.removeItem(atPath: last)
        r = try verify(home)
        #expect(r.problems.contains { $0.kind == "truncated" })
        try lastData.write(to: URL(fileURLWithPath: last))

        // A middle segment deleted.
        let mid = home.path + "/" + segs[1]
        let midData = try Data(contentsOf: URL(fileURLWithPath: mid))
        try FileManager.default.removeItem(atPath: mid)
        r = try verify(home)
        #expect(r.problems.contains { $0.kind == "missing-segment" && $0.file == segs[1] })
        #expect(r.problems.contains { $0.kind == "seq-gap" })
        // Opening for append fails closed.
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: Self.smallOptions()) }
        try midData.write(to: URL(fileURLWithPath: mid))
        #expect(try verify(home).ok)
    }

    /// Damage in the last block of a sealed segment (no valid block after it in that file) is reported once,
    /// with the seq range it held, taken from where the next segment starts; the next segment is not charged
    /// with a seq gap for the same records.
    @Test func damageAtTheEndOfASealedSegmentNamesItsRecordsOnce() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home)
        let (rel, path) = try firstSegment(home)
        var bytes = try FileIO.readFile(path)
        let last = try #require(Self.goodBlocks(bytes).last)
        bytes[last.offset + SegmentFormat.blockHeaderSize + 2] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try verify(home)
        #expect(!r.ok)
        let damage = r.problems.filter { $0.file == rel }
        #expect(damage.count == 1 && damage[0].kind == "damaged-block", "\(r.problems.map(\.text))")
        #expect(damage.first?.seq == last.header.firstSeq && damage.first?.lastSeq == last.header.lastSeq, "\(r.problems.map(\.text))")
        #expect(!r.problems.contains { $0.kind == "seq-gap" }, "\(r.problems.map(\.text))")
    }

    /// Segment 1's header is written by init, never by a rollover: damage to it (with no block after it) is a
    /// `segment-header` problem, not a torn tail that the next open would "repair" (open refuses it).
    @Test func aDamagedFirstSegmentHeaderIsNeverATornTail() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: Self.smallOptions())
        let path = home.path + "/ledger/segments/seg-00000001.tseg"
        var bytes = try FileIO.readFile(path)
        bytes[20] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try verify(home)
        #expect(!r.ok && r.problems.contains { $0.kind == "segment-header" && $0.file == "ledger/segments/seg-00000001.tseg" },
                "\(r.problems.map(\.text)) \(r.warnings.map(\.text))")
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: Self.smallOptions()) }
    }

    /// Session 12 probe: bytes slipped in between two intact blocks lose no record: one `damaged-block` with no seq,
    /// and the next block's chain is still checked (it was reported as a lost record and an unverifiable chain).
    @Test func strayBytesBetweenIntactBlocksLoseNoRecord() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home)
        let (rel, path) = try firstSegment(home)
        let bytes = try FileIO.readFile(path)
        let blocks = Self.goodBlocks(bytes).map(\.offset)
        try #require(blocks.count >= 2)
        let stray = Array(bytes[..<blocks[1]]) + Array("xyz".utf8) + Array(bytes[blocks[1]...])
        try Data(stray).write(to: URL(fileURLWithPath: path))
        let r = try verify(home)
        let here = r.problems.filter { $0.file == rel }
        #expect(here.count == 1 && here[0].kind == "damaged-block" && here[0].seq == nil && here[0].offset == blocks[1],
                "\(r.problems.map(\.text))")
        #expect(r.problems.count == 1 && !r.warnings.contains { $0.kind == "unverifiable" }, "\(r.problems.map(\.text)) \(r.warnings.map(\.text))")
    }

    /// Session 12 probe: a block rewritten with its checksum recomputed is a `chain-mismatch` of its own records only;
    /// the intact header of the next segment is not blamed (its Merkle frontier was compared with the altered one).
    @Test func aRewrittenBlockBlamesOnlyItself() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home, count: 24)
        let segs = try files(home).filter { $0.hasPrefix("ledger/segments/") }
        try #require(segs.count >= 2)
        let path = home.path + "/" + segs[0]
        let bytes = try FileIO.readFile(path)
        let (offset, header) = try #require(Self.goodBlocks(bytes).last)
        let payload = Array(bytes[(offset + SegmentFormat.blockHeaderSize)..<(offset + header.totalSize)])
        var plain = try LZ4.decompress(payload, originalSize: Int(header.uncompressedLength))
        let marker = Array("bucket-".utf8)
        let at = try #require((0...(plain.count - marker.count)).first { Array(plain[$0..<($0 + marker.count)]) == marker })
        plain[at + marker.count] = plain[at + marker.count] == UInt8(ascii: "9") ? UInt8(ascii: "8") : UInt8(ascii: "9")
        let forged = try LZ4.compress(plain)
        var h = header
        h.compressedLength = UInt32(forged.count)
        let out = Array(bytes[..<offset]) + h.encoded(payload: forged) + Array(bytes[(offset + header.totalSize)...])
        try Data(out).write(to: URL(fileURLWithPath: path))
        let r = try verify(home)
        #expect(r.problems.contains { $0.kind == "chain-mismatch" && $0.seq == header.firstSeq && $0.file == segs[0] },
                "\(r.problems.map(\.text))")
        #expect(!r.problems.contains { $0.kind == "segment-link" }, "\(r.problems.map(\.text))")
    }

    @Test func reorderedBlocksAreReported() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home)
        let (rel, path) = try firstSegment(home)
        let bytes = try FileIO.readFile(path)
        let blocks = Self.goodBlocks(bytes).map { ($0.offset, $0.header.totalSize) }
        try #require(blocks.count >= 2)
        let (o1, n1) = blocks[0], (o2, n2) = blocks[1]
        var swapped = Array(bytes[0..<o1])
        swapped += bytes[o2..<(o2 + n2)]
        swapped += bytes[o1..<(o1 + n1)]
        swapped += bytes[(o2 + n2)...]
        try Data(swapped).write(to: URL(fileURLWithPath: path))
        let r = try verify(home)
        #expect(!r.ok)
        #expect(r.problems.contains { ($0.kind == "seq-order" || $0.kind == "seq-gap") && $0.file == rel })
    }

    /// The attacker rewrites record 3 and recomputes blocks, chain, segment headers and the tree:
    /// the segments are self-consistent, only the signed checkpoints catch it.
    @Test func rewriteWithRecomputedChainIsCaughtBySignatures() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await Self.makeLedger(home)
        var records: [(event: [UInt8], time: Int64)] = []
        try LedgerReader(home: home.path).forEachRecord { _, t, e in records.append((Array(e), t)); return true }
        records[2].event = JSONValue.object(["type": "call.requested", "n": 2, "forged": true]).canonicalBytes()
        for rel in try files(home) where rel.hasPrefix("ledger/segments/") { try FileManager.default.removeItem(atPath: home.path + "/" + rel) }
        try Forger.writeSegments(records, to: home.path + "/ledger/segments")
        let r = try verify(home)
        #expect(!r.ok)
        #expect(r.problems.contains { $0.kind == "checkpoint-mismatch" })
        #expect(!r.problems.contains { $0.kind == "chain-mismatch" || $0.kind == "damaged-block" })
    }

    @Test func forkAndTruncationAgainstWitness() async throws {
        let a = TempHome(), b = TempHome()
        defer { a.cleanup(); b.cleanup() }
        try await Self.makeLedger(a, count: 8)
        try FileManager.default.copyItem(atPath: a.path, toPath: b.path)
        let shortCopy = TempHome()
        defer { shortCopy.cleanup() }
        try FileManager.default.copyItem(atPath: a.path, toPath: shortCopy.path)
        // Diverge: A and B append different events.
        for (home, tag) in [(a, "a"), (b, "b")] {
            let l = try await Ledger.open(home: home.path, options: Self.smallOptions())
            _ = try await l.append(["type": .string("fork.\(tag)")])
            try await l.close()
        }
        let witnessA = a.path + "/witness.notes"
        try FileManager.default.copyItem(atPath: a.path + "/ledger/checkpoints.log", toPath: witnessA)
        #expect(try verify(a, witnesses: [witnessA]).ok)
        let forked = try verify(b, witnesses: [witnessA])
        #expect(forked.problems.contains { $0.kind == "witness-fork" && $0.seq == 9 })
        let truncated = try verify(shortCopy, witnesses: [witnessA])
        #expect(truncated.problems.contains { $0.kind == "witness-truncation" })
        // A witness note from another ledger is rejected.
        let other = TempHome()
        defer { other.cleanup() }
        try await Self.makeLedger(other, count: 2)
        let r = try verify(a, witnesses: [other.path + "/ledger/checkpoints.log"])
        #expect(r.problems.contains { $0.kind == "witness-invalid" })
    }
}

/// Rebuilds segment files from records, as an attacker with full write access would.
enum Forger {
    static func writeSegments(_ records: [(event: [UInt8], time: Int64)], to dir: String) throws {
        var chain = Digest()
        var frontier = MerkleFrontier()
        var out = SegmentHeader(index: 1, firstSeq: 1, startChain: chain, startFrontier: frontier).encoded()
        var builder = RecordBuilder()
        for (i, r) in records.enumerated() {
            let seq = UInt64(i + 1)
            let leaf = r.event.withUnsafeBytes { builder.leaf(event: $0, seq: seq, time: r.time) }
            chain = LedgerHash.chain(chain, leaf)
            frontier.append(leaf)
            var content: [UInt8] = []
            BlockContent.encodeTimes([(0, 1)], into: &content)
            content += r.event + [0x0A]
            let payload = try LZ4.compress(content)
            out += BlockHeader(compressedLength: UInt32(payload.count), uncompressedLength: UInt32(content.count), recordCount: 1,
                               firstSeq: seq, baseTime: r.time, endChain: chain).encoded(payload: payload)
        }
        try Data(out).write(to: URL(fileURLWithPath: dir + "/" + LedgerPaths.segmentName(1)))
    }
}
