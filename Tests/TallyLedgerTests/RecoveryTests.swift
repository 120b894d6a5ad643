import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// Torn tails are repaired on open and reported; committed data is never dropped; anything but a
/// torn tail makes open fail closed.
@Suite struct RecoveryTests {
    func append(_ home: TempHome, _ range: ClosedRange<Int>) async throws -> UInt64 {
        let l = try await Ledger.open(home: home.path, options: testOptions())
        let s = try await l.append(contentsOf: range.map(sampleEvent))
        try await l.close()
        return s
    }

    func lastSegment(_ home: TempHome) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: home.path + "/ledger/segments").sorted()
        return home.path + "/ledger/segments/" + names.last!
    }

    func appendBytes(_ path: String, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    @Test func tornBlockAndTornCheckpointAreCutOffAndReported() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        #expect(try await append(home, 1...10) == 10)
        let seg = try lastSegment(home)
        let size = FileIO.fileSize(seg)!
        try appendBytes(seg, Array("TBLK".utf8) + [UInt8](repeating: 7, count: 40))
        let ckpt = home.path + "/ledger/checkpoints.log"
        try appendBytes(ckpt, Array("test.tally/ledger\n1".utf8))
        var r = try LedgerVerifier(home: home.path).run()
        #expect(r.ok)
        #expect(r.warnings.filter { $0.kind == "torn-tail" }.count == 2)

        let l = try await Ledger.open(home: home.path, options: testOptions())
        let report = try #require(await l.recovery)
        #expect(report.repairs.count == 2)
        #expect(report.repairs.contains { $0.file == seg && $0.offset == size && $0.bytesRemoved == 44 })
        #expect(try await l.append(sampleEvent(11)) == 11)
        try await l.close()
        r = try LedgerVerifier(home: home.path).run()
        #expect(r.ok && r.warnings.isEmpty, "\(r.warnings.map(\.text))")
        #expect(try LedgerReader(home: home.path).records().map(\.seq) == Array(1...11))
    }

    @Test func committedButUncheckpointedRecordsAreCheckpointedOnOpen() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        _ = try await append(home, 1...4)
        let ckpt = home.path + "/ledger/checkpoints.log"
        let before = try FileIO.readFile(ckpt)
        _ = try await append(home, 5...9)
        // The crash happened after the fsync of 5–9 but before their checkpoint was written.
        try Data(before).write(to: URL(fileURLWithPath: ckpt))
        #expect(try LedgerVerifier(home: home.path).run().warnings.contains { $0.kind == "uncheckpointed" })
        let l = try await Ledger.open(home: home.path, options: testOptions())
        #expect(await l.recovery?.checkpointsWritten == 1)
        try await l.close()
        let r = try LedgerVerifier(home: home.path).run()
        #expect(r.ok && r.warnings.isEmpty)
        #expect(try LedgerReader(home: home.path).count() == 9)
    }

    func segmentNames(_ home: TempHome) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: home.path + "/ledger/segments").sorted()
    }

    /// The state a crash in the middle of a rollover leaves: records were appended one at a time until the
    /// writer started a new segment; the checkpoint log is as it was before those appends (nothing of the
    /// new segment was checkpointed when the "crash" came), and the new segment's header is torn: its first
    /// 64 bytes are there, the rest of the file (the header's frontier and CRC, the first block) reads as
    /// zeros, as when the page holding them was never written back. Returns the new segment's path and the
    /// number of records before it.
    func crashMidRollover(_ home: TempHome, restoreCheckpoints: Bool) async throws -> (path: String, before: Int) {
        var o = TamperTests.smallOptions()
        o.checkpointEveryRecords = 1000
        _ = try Ledger.initialize(home: home.path, options: o)
        var l = try await Ledger.open(home: home.path, options: o)
        _ = try await l.append(contentsOf: (0..<6).map(sampleEvent))
        try await l.close()
        let ckpt = home.path + "/ledger/checkpoints.log"
        let checkpoints = try FileIO.readFile(ckpt)
        let segments = try segmentNames(home)
        l = try await Ledger.open(home: home.path, options: o)
        var n = 6
        while try segmentNames(home).count == segments.count {
            _ = try await l.append(sampleEvent(n))
            n += 1
        }
        try await l.close()
        let newest = try #require(try segmentNames(home).last)
        let path = home.path + "/ledger/segments/" + newest
        var bytes = try FileIO.readFile(path)
        let header = try #require(bytes.withUnsafeBytes { SegmentScan($0).header })
        #expect(header.encodedSize > 64, "the header spans more than what survives")
        for i in 64..<bytes.count { bytes[i] = 0 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        if restoreCheckpoints { try Data(checkpoints).write(to: URL(fileURLWithPath: ckpt)) }
        return (path, Int(header.firstSeq) - 1)
    }

    /// A crash mid-rollover that tore the new segment's header (it is larger than a sector) does not stop the
    /// ledger: nothing in that segment was acknowledged, verify calls it a torn tail, and the next open removes
    /// it, reports the repair, and appends from the end of the previous segment.
    @Test func aTornHeaderOfANewSegmentIsRepairedOnOpen() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let (path, before) = try await crashMidRollover(home, restoreCheckpoints: true)
        var r = try LedgerVerifier(home: home.path).run()
        #expect(r.ok, "\(r.problems.map(\.text))")
        #expect(r.warnings.contains { $0.kind == "torn-tail" && $0.file?.hasSuffix((path as NSString).lastPathComponent) == true })
        let l = try await Ledger.open(home: home.path, options: TamperTests.smallOptions())
        let report = try #require(await l.recovery)
        #expect(report.repairs.contains { $0.file == path && $0.offset == 0 && $0.reason.contains("torn") }, "\(report.description)")
        let reopened = FileIO.exists(path) ? try FileIO.readFile(path) : []
        #expect(reopened.isEmpty || reopened.withUnsafeBytes { SegmentScan($0).header != nil }, "the torn file is gone or a new one replaced it")
        #expect(try await l.append(sampleEvent(999)) == UInt64(before + 1))
        try await l.close()
        r = try LedgerVerifier(home: home.path).run()
        #expect(r.ok && r.warnings.isEmpty, "\(r.problems.map(\.text)) \(r.warnings.map(\.text))")
        #expect(try LedgerReader(home: home.path).count() == UInt64(before + 1))
    }

    /// The same torn header in a segment whose records a checkpoint covers is damage: open fails closed and
    /// leaves the file as it is, so verify can still name it.
    @Test func aTornHeaderOfACheckpointedSegmentIsKept() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let (path, _) = try await crashMidRollover(home, restoreCheckpoints: false)
        let bytes = try FileIO.readFile(path)
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: TamperTests.smallOptions()) }
        #expect(try FileIO.readFile(path) == bytes)
        let r = try LedgerVerifier(home: home.path).run()
        #expect(r.problems.contains { $0.file?.hasSuffix((path as NSString).lastPathComponent) == true }, "\(r.problems.map(\.text))")
    }

    /// A checkpointed last segment cut shorter than its header is damage too (not an unfinished rollover): open
    /// fails and the file stays, so verify reports the damaged file rather than only a truncated ledger.
    @Test func aCheckpointedSegmentCutBelowItsHeaderIsKept() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await TamperTests.makeLedger(home)
        let names = try segmentNames(home)
        #expect(names.count >= 2)
        let path = home.path + "/ledger/segments/" + names.last!
        let cut = Array(try FileIO.readFile(path).prefix(30))
        try Data(cut).write(to: URL(fileURLWithPath: path))
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: TamperTests.smallOptions()) }
        #expect(try FileIO.readFile(path) == cut, "the damaged segment is still there")
        let r = try LedgerVerifier(home: home.path).run()
        #expect(r.problems.contains { $0.kind == "damaged-block" && $0.file == "ledger/segments/" + names.last! }, "\(r.problems.map(\.text))")
    }

    @Test func damageInCommittedDataFailsClosed() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        _ = try await append(home, 1...3)
        _ = try await append(home, 4...6)
        let seg = try lastSegment(home)
        var bytes = try FileIO.readFile(seg)
        let firstBlock = bytes.withUnsafeBytes { b -> Int in
            if case .good(let o, _) = SegmentScan(b).entries[0] { return o }
            return -1
        }
        bytes[firstBlock + 80] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: seg))
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: testOptions()) }
        // Truncating committed, checkpointed records is not a torn tail either.
        bytes[firstBlock + 80] ^= 0x10
        try Data(bytes.prefix(bytes.count - 5)).write(to: URL(fileURLWithPath: seg))
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: testOptions()) }
        #expect(!(try LedgerVerifier(home: home.path).run().ok))
    }
}
