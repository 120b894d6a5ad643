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
