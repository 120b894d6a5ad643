import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// `ledger compact`: sealed segments get LZ4HC blocks; content, hashes, checkpoints and proofs
/// are unchanged; damaged segments and the open segment are never rewritten.
@Suite struct CompactionTests {
    func makeLedger(_ home: TempHome) async throws -> LedgerOptions {
        var o = testOptions()
        o.segmentMaxBytes = 6 << 10
        o.blockMaxBytes = 3 << 10
        o.checkpointEveryRecords = 500
        try await writeLedger(home, options: o, batches: (0..<6).map { round in (round * 400..<(round + 1) * 400).map(sampleEvent) })
        return o
    }

    func segmentFiles(_ home: TempHome) throws -> [String: [UInt8]] {
        let dir = home.path + "/ledger/segments"
        var out: [String: [UInt8]] = [:]
        for n in try FileManager.default.contentsOfDirectory(atPath: dir) { out[n] = try FileIO.readFile(dir + "/" + n) }
        return out
    }

    /// The number of intact blocks in each segment file.
    func blockCounts(_ home: TempHome) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for (name, bytes) in try segmentFiles(home) {
            out[name] = bytes.withUnsafeBytes { SegmentScan($0).entries.filter { if case .good = $0 { true } else { false } }.count }
        }
        return out
    }

    /// A writer with `autoCompactLevel` compacts each segment it seals in the background while it
    /// goes on appending: by close, every sealed segment is one merged LZ4HC block, listed in
    /// compacted.list, and the ledger verifies with the same records.
    /// A new ledger in `home` whose writer compacts each segment it seals (`autoCompactLevel`), opened.
    func openAutoCompacting(_ home: TempHome, segmentBytes: Int, level: Int) async throws -> (Ledger, LedgerOptions) {
        var o = testOptions()
        o.segmentMaxBytes = segmentBytes
        o.autoCompactLevel = level
        _ = try Ledger.initialize(home: home.path, options: o)
        return (try await Ledger.open(home: home.path, options: o), o)
    }

    /// Checks that every sealed segment (all but the newest) is one block and listed in compacted.list; returns the
    /// block counts and the newest segment's name.
    func expectSealedSegmentsCompacted(_ home: TempHome) throws -> (blocks: [String: Int], newest: String) {
        let blocks = try blockCounts(home)
        let newest = try #require(blocks.keys.max())
        for (name, n) in blocks where name != newest { #expect(n == 1, "\(name) still has \(n) blocks") }
        let listed = LedgerCompaction.readState(home.path + "/ledger/compacted.list")
        #expect(Set(listed.keys) == Set(blocks.keys).subtracting([newest]), "every sealed segment is compacted")
        return (blocks, newest)
    }

    @Test func writerCompactsSealedSegmentsInTheBackground() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let (l, _) = try await openAutoCompacting(home, segmentBytes: 24 << 10, level: 3)
        for i in 0..<600 { _ = try await l.append(sampleEvent(i)) }
        try await l.close()
        let (blocks, newest) = try expectSealedSegmentsCompacted(home)
        #expect(blocks.count >= 3)
        #expect(blocks[newest]! > 1, "the open segment is never compacted")
        let verified = try LedgerVerifier(home: home.path).run()
        #expect(verified.ok && verified.records == 600, "\(verified.problems.map(\.text))")
        #expect(try LedgerReader(home: home.path).records().map(\.seq) == Array(1...600))
        // `tally ledger compact` finds them done.
        let report = try LedgerCompaction.run(home: home.path)
        #expect(report.compacted.isEmpty)
    }

    /// `close` returns only once the background compaction of the segment sealed last has ended and the ledger lock is
    /// released: a gateway that logs "ledger closed" and exits leaves every sealed segment compacted, and the ledger
    /// can be opened again at once (no lock wait). The last append seals a large segment right before the close, so
    /// its compaction is still running when the commit thread handles the close.
    @Test func closeWaitsForTheBackgroundCompactionAndReleasesTheLock() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let (l, o) = try await openAutoCompacting(home, segmentBytes: 4 << 20, level: 9)
        // ~6 MiB in large commits of events with random text (compresses slowly, and not to nothing).
        let pool = String(decoding: (0..<(1 << 20)).map { _ in UInt8.random(in: 97...122) }, as: UTF8.self).utf8
        for _ in 0..<12 {
            let events: [JSONValue] = (0..<128).map { i in
                let at = pool.index(pool.startIndex, offsetBy: Int.random(in: 0..<(pool.count - 4000)))
                return ["type": "bulk", "n": .int(i), "text": .string(String(pool[at..<pool.index(at, offsetBy: 4000)])!)]
            }
            _ = try await l.append(contentsOf: events)
        }
        try await l.close()
        var again = o
        again.lockTimeout = 0
        let reopened = try await Ledger.open(home: home.path, options: again)  // throws ledgerLocked while still held
        try await reopened.close()
        #expect(try expectSealedSegmentsCompacted(home).blocks.count >= 2)
    }

    @Test func compactsSealedSegmentsWithoutChangingAnyHash() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let o = try await makeLedger(home)
        let before = try segmentFiles(home)
        #expect(before.count >= 3)
        let records = try LedgerReader(home: home.path).records()
        let bundle = try LedgerProofs.prove(home: home.path, seq: 17)
        let key = try NoteVerifierKey(parsing: String(contentsOfFile: home.path + "/ledger.pub", encoding: .utf8))
        // A leftover of an interrupted compaction is removed.
        try Array("partial".utf8).withUnsafeBytes { b in
            let fd = try FileIO.openFile(home.path + "/ledger/segments/seg-00000001.tseg.compact", O_WRONLY | O_CREAT)
            try FileIO.writeAll(fd, b, path: "leftover"); close(fd)
        }

        let report = try LedgerCompaction.run(home: home.path)
        let after = try segmentFiles(home)
        let newest = before.keys.max()!
        #expect(report.compacted.count == before.count - 1)
        #expect(!report.compacted.contains(newest))
        #expect(after[newest] == before[newest])
        #expect(after.keys.sorted() == before.keys.sorted())
        for name in report.compacted { #expect(after[name]!.count < before[name]!.count, "\(name)") }
        #expect(report.bytesAfter < report.bytesBefore)

        let verified = try LedgerVerifier(home: home.path).run()
        #expect(verified.ok && verified.records == 2400, "\(verified.problems.map(\.text))")
        let reread = try LedgerReader(home: home.path).records()
        #expect(reread.map(\.seq) == records.map(\.seq))
        #expect(reread.map(\.event) == records.map(\.event))
        #expect(reread.map(\.time) == records.map(\.time))
        #expect(try LedgerProofs.verify(bundle: bundle, rootKey: key) == 17)

        // Re-running finds nothing to do and changes nothing; appends continue afterwards.
        let again = try LedgerCompaction.run(home: home.path)
        #expect(again.compacted.isEmpty && again.bytesAfter == report.bytesAfter)
        let l = try await Ledger.open(home: home.path, options: o)
        #expect(try await l.append(sampleEvent(9999)) == 2401)
        try await l.close()
        #expect(try LedgerVerifier(home: home.path).run().ok)
    }

    /// A gateway under light load commits a record or two per block. Compaction merges a sealed
    /// segment's blocks into one (time runs re-encoded across the different commit times), which is
    /// what brings such a ledger under `lz4 -1` of its lines; every record, hash and proof stays.
    @Test func mergesSmallBlocksKeepingRecordsTimesAndProofs() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let clock = TestClock(1_800_000_000_000)
        var o = testOptions()
        o.clock = { clock.now }
        o.segmentMaxBytes = 24 << 10
        o.checkpointEveryRecords = 100
        _ = try Ledger.initialize(home: home.path, options: o)
        let l = try await Ledger.open(home: home.path, options: o)
        for i in 0..<600 {
            _ = try await l.append(sampleEvent(i))  // one commit, one block, per record
            if i % 3 == 0 { clock.advance(1 + Int64(i % 5)) }
        }
        try await l.close()
        let records = try LedgerReader(home: home.path).records()
        #expect(Set(records.map(\.time)).count > 100, "the records should carry many different times")
        let bundle = try LedgerProofs.prove(home: home.path, seq: 123)
        let key = try NoteVerifierKey(parsing: String(contentsOfFile: home.path + "/ledger.pub", encoding: .utf8))
        let blocksBefore = try blockCounts(home)
        let newest = blocksBefore.keys.max()!
        #expect(blocksBefore.count >= 3)

        let report = try LedgerCompaction.run(home: home.path)
        #expect(report.compacted.count == blocksBefore.count - 1)
        let blocksAfter = try blockCounts(home)
        for (name, n) in blocksBefore where name != newest {
            #expect(n > 20 && blocksAfter[name] == 1, "\(name): \(n) blocks before, \(blocksAfter[name] ?? -1) after")
        }
        #expect(blocksAfter[newest] == blocksBefore[newest])
        #expect(report.bytesAfter * 2 < report.bytesBefore, "\(report.bytesBefore) -> \(report.bytesAfter) bytes")

        let verified = try LedgerVerifier(home: home.path).run()
        #expect(verified.ok && verified.records == 600, "\(verified.problems.map(\.text))")
        let reread = try LedgerReader(home: home.path).records()
        #expect(reread.map(\.seq) == records.map(\.seq))
        #expect(reread.map(\.time) == records.map(\.time))
        #expect(reread.map(\.event) == records.map(\.event))
        #expect(try LedgerProofs.verify(bundle: bundle, rootKey: key) == 123)
        #expect(try LedgerProofs.verify(bundle: LedgerProofs.prove(home: home.path, seq: 123), rootKey: key) == 123)
    }

    @Test func neverRewritesADamagedSegment() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try await makeLedger(home)
        let path = home.path + "/ledger/segments/seg-00000002.tseg"
        var bytes = try FileIO.readFile(path)
        bytes[bytes.count / 2] ^= 0x40
        try FileIO.writeAtomically(path, bytes)
        let damage = try LedgerVerifier(home: home.path).run().problems
        #expect(!damage.isEmpty)

        let report = try LedgerCompaction.run(home: home.path)
        #expect(report.skipped.contains { $0.file == "seg-00000002.tseg" && $0.reason.contains("damaged") })
        #expect(report.compacted.contains("seg-00000001.tseg"))
        #expect(try FileIO.readFile(path) == bytes)
        // Verify reports the same damage at the same places.
        #expect(try LedgerVerifier(home: home.path).run().problems == damage)
    }

    /// Changes one byte of a record in the block of `path` that holds `seq`, and writes the block back with its
    /// payload recompressed and its CRC recomputed (what someone who edits the ledger does): the scan finds only
    /// good blocks; only the chain shows the change. Returns the block's seq range.
    func tamperRecord(_ path: String, seq: UInt64) throws -> ClosedRange<UInt64> {
        var bytes = try FileIO.readFile(path)
        let (offset, header) = try bytes.withUnsafeBytes { b -> (Int, BlockHeader) in
            for case .good(let o, let h) in SegmentScan(b).entries where h.firstSeq <= seq && seq <= h.lastSeq { return (o, h) }
            throw TallyError(.notFound, "no block holds seq \(seq)")
        }
        var content = try bytes.withUnsafeBytes { try SegmentScan.content($0, offset: offset, header: header) }
        let i = try #require(content.lastIndex(of: UInt8(ascii: "1")))
        content[i] = UInt8(ascii: "7")
        let payload = try LZ4.compress(content)
        var h = header
        h.compressedLength = UInt32(payload.count)
        bytes.replaceSubrange(offset..<(offset + header.totalSize), with: h.encoded(payload: payload))
        try FileIO.writeAtomically(path, bytes)
        let scan = bytes.withUnsafeBytes { SegmentScan($0) }
        #expect(scan.entries.allSatisfy { if case .good = $0 { true } else { false } }, "the CRCs are valid")
        return header.firstSeq...header.lastSeq
    }

    /// A sealed segment whose records were changed with valid CRCs is not compacted, neither by `ledger compact`
    /// nor by a writer's background compaction: merging would move the changed records into a block with a fresh
    /// chain value, and verify could then no longer name the changed block. The damage stays where verify
    /// reports it, with the same seq range.
    @Test func neverRewritesASegmentWhoseRecordsWereChanged() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try await makeLedger(home)
        let path = home.path + "/ledger/segments/seg-00000002.tseg"
        let blocks = try blockCounts(home)
        #expect(try #require(blocks["seg-00000002.tseg"]) >= 2, "several blocks to merge")
        let firstSeq = try FileIO.readFile(path).withUnsafeBytes { b -> UInt64 in
            guard case .good(_, let h) = SegmentScan(b).entries[1] else { return 0 }
            return h.firstSeq
        }
        let range = try tamperRecord(path, seq: firstSeq)
        let bytes = try FileIO.readFile(path)
        let damage = try LedgerVerifier(home: home.path).run().problems
        #expect(damage.contains { $0.kind == "chain-mismatch" && $0.seq == range.lowerBound && $0.lastSeq == range.upperBound },
                "\(damage.map(\.text))")

        let report = try LedgerCompaction.run(home: home.path)
        #expect(report.skipped.contains { $0.file == "seg-00000002.tseg" && $0.reason.contains("do not hash") }, "\(report.skipped.map(\.reason))")
        #expect(report.compacted.contains("seg-00000001.tseg"))
        #expect(try FileIO.readFile(path) == bytes)
        #expect(try LedgerVerifier(home: home.path).run().problems == damage)
        // The writer's background compaction goes through the same check.
        #expect(throws: TallyError.self) { _ = try LedgerCompaction.compactSealedSegment(LedgerPaths(home: home.path), 2, level: 3) }
        #expect(try FileIO.readFile(path) == bytes)
    }

    /// A sealed segment whose block chain values were all recomputed after a change is consistent in itself; it
    /// is still not rewritten, because it no longer ends where the next segment's header says it does.
    @Test func neverRewritesASegmentThatDoesNotLeadIntoTheNext() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try await makeLedger(home)
        let path = home.path + "/ledger/segments/seg-00000002.tseg"
        var bytes = try FileIO.readFile(path)
        // Recompute every block's chain value from a changed start chain in the segment header.
        var builder = RecordBuilder()
        let scan = bytes.withUnsafeBytes { SegmentScan($0) }
        var header = try #require(scan.header)
        header.startChain = LedgerHash.chain(header.startChain, header.startChain)
        var out = header.encoded()
        var chain = header.startChain
        for case .good(let offset, var bh) in scan.entries {
            let content = try bytes.withUnsafeBytes { try SegmentScan.content($0, offset: offset, header: bh) }
            try content.withUnsafeBytes { c in
                try BlockContent.forEachRecord(c, header: bh) { seq, time, event in
                    chain = LedgerHash.chain(chain, builder.leaf(event: event, seq: seq, time: time))
                }
            }
            bh.endChain = chain
            out += bh.encoded(payload: Array(bytes[(offset + SegmentFormat.blockHeaderSize)..<(offset + bh.totalSize)]))
        }
        bytes = out
        try FileIO.writeAtomically(path, bytes)
        #expect(!(try LedgerVerifier(home: home.path).run().ok))
        let report = try LedgerCompaction.run(home: home.path)
        #expect(report.skipped.contains { $0.file == "seg-00000002.tseg" && $0.reason.contains("next one starts") }, "\(report.skipped.map(\.reason))")
        #expect(try FileIO.readFile(path) == bytes)
    }

    @Test func rejectsABadLevelAndAForeignHome() throws {
        let home = TempHome()
        defer { home.cleanup() }
        #expect(throws: TallyError.self) { _ = try LedgerCompaction.run(home: home.path) }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        #expect(throws: TallyError.self) { _ = try LedgerCompaction.run(home: home.path, level: 13) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
