import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// A writer with `LedgerOptions.preallocateBytes` writes its commits over zeros written ahead
/// (docs/LEDGER-FORMAT.md §4.5). The zero tail a stopped writer leaves is not data and not damage; an unsynced
/// append whose pages reached the disk out of order (a zero page, then a valid block) is a torn tail in the newest
/// segment, and still damage anywhere else.
@Suite struct PreallocationTests {
    func options(preallocate: Int = 64 << 10) -> LedgerOptions {
        var o = testOptions()
        o.preallocateBytes = preallocate
        return o
    }

    func segments(_ home: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: home + "/ledger/segments").sorted().map { home + "/ledger/segments/" + $0 }
    }

    /// The end of the last block (or of the header) of a segment file.
    func dataEnd(_ path: String, newest: Bool = true) throws -> Int {
        try FileIO.readFile(path).withUnsafeBytes { b in
            let scan = SegmentScan(b, newest: newest)
            var end = scan.headerLength
            for case .good(let offset, let h) in scan.entries { end = offset + h.totalSize }
            return end
        }
    }

    /// A new ledger in `home` with records 1...count appended one at a time (the ledger left open).
    func openLedger(_ home: TempHome, records count: Int) async throws -> Ledger {
        _ = try Ledger.initialize(home: home.path, options: options())
        let l = try await Ledger.open(home: home.path, options: options())
        for i in 1...count { _ = try await l.append(sampleEvent(i)) }
        return l
    }

    func copyHome(_ from: String) throws -> TempHome {
        let to = TempHome()
        try FileManager.default.copyItem(atPath: from, toPath: to.path)
        return to
    }

    @Test func aStoppedWritersZeroTailIsNeitherDataNorDamage() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let l = try await openLedger(home, records: 10)
        let seg = try #require(try segments(home.path).last)
        let end = try dataEnd(seg)
        let size = try #require(FileIO.fileSize(seg))
        #expect(size >= end + (64 << 10), "zeros written ahead of the data: size \(size), data \(end)")
        #expect(try FileIO.readFile(seg)[end...].allSatisfy { $0 == 0 })

        // What a kill -9 leaves: the files as they are while the writer runs.
        let crashed = try copyHome(home.path)
        defer { crashed.cleanup() }
        try await l.close()
        #expect(FileIO.fileSize(seg) == end, "close cuts the zero tail off")

        var r = try LedgerVerifier(home: crashed.path).run()
        #expect(r.ok, "\(r.problems.map(\.text))")
        #expect(!r.warnings.contains { $0.kind == "torn-tail" }, "\(r.warnings.map(\.text))")
        #expect(try LedgerReader(home: crashed.path).records().map(\.seq) == Array(1...10))

        let reopened = try await Ledger.open(home: crashed.path, options: options())
        #expect(await reopened.recovery?.repairs.isEmpty ?? true, "a zero tail is not repaired: nothing is torn")
        #expect(try await reopened.append(sampleEvent(11)) == 11)
        let crashedSeg = try #require(try segments(crashed.path).last)
        #expect(try dataEnd(crashedSeg) > end, "the next record is written where the data ended, over the zeros")
        try await reopened.close()
        r = try LedgerVerifier(home: crashed.path).run()
        #expect(r.ok && r.warnings.isEmpty, "\(r.problems.map(\.text)) \(r.warnings.map(\.text))")
        #expect(try LedgerReader(home: crashed.path).records().map(\.seq) == Array(1...11))
    }

    @Test func sealedSegmentsKeepNoZeroTail() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var o = options(preallocate: 16 << 10)
        o.segmentMaxBytes = 4 << 10
        _ = try Ledger.initialize(home: home.path, options: o)
        let l = try await Ledger.open(home: home.path, options: o)
        for i in 1...60 { _ = try await l.append(sampleEvent(i)) }
        let segs = try segments(home.path)
        #expect(segs.count >= 3)
        for seg in segs.dropLast() {
            #expect(FileIO.fileSize(seg) == (try dataEnd(seg, newest: false)), "\(seg) was sealed with its zeros cut off")
        }
        try await l.close()
        let r = try LedgerVerifier(home: home.path).run()
        #expect(r.ok && r.warnings.isEmpty, "\(r.problems.map(\.text)) \(r.warnings.map(\.text))")
        #expect(try LedgerReader(home: home.path).records().map(\.seq) == Array(1...60))
    }

    /// A copy of the newest segment's last block placed after `gap`: what the disk holds when the pages of an
    /// unsynced append were written back out of order (`gap` zero: a page that never was).
    func plantBlockAfter(_ gap: [UInt8], in seg: String) throws -> Int {
        var bytes = try FileIO.readFile(seg)
        let end = bytes.count
        let block: [UInt8] = bytes.withUnsafeBytes { b in
            var last: (Int, Int) = (0, 0)
            for case .good(let offset, let h) in SegmentScan(b).entries { last = (offset, h.totalSize) }
            return Array(b[last.0..<(last.0 + last.1)])
        }
        bytes += gap + block
        try Data(bytes).write(to: URL(fileURLWithPath: seg))
        return end
    }

    @Test func aZeroPageBeforeALaterBlockInTheNewestSegmentIsAnUnsyncedAppend() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await openLedger(home, records: 5).close()
        let seg = try #require(try segments(home.path).last)
        let end = try plantBlockAfter([UInt8](repeating: 0, count: 8192), in: seg)

        let r = try LedgerVerifier(home: home.path).run()
        #expect(r.ok, "\(r.problems.map(\.text))")
        #expect(r.warnings.contains { $0.kind == "torn-tail" && $0.offset == end }, "\(r.warnings.map(\.text))")
        #expect(try LedgerReader(home: home.path).records().map(\.seq) == Array(1...5))

        let reopened = try await Ledger.open(home: home.path, options: options())
        let repairs = await reopened.recovery?.repairs ?? []
        #expect(repairs.contains { $0.file == seg && $0.offset == end }, "\(repairs)")
        #expect(try await reopened.append(sampleEvent(6)) == 6)
        try await reopened.close()
        #expect(try LedgerReader(home: home.path).records().map(\.seq) == Array(1...6))
        #expect(try LedgerVerifier(home: home.path).run().ok)
    }

    @Test func unreadableBytesWithoutAZeroPageBeforeALaterBlockAreStillDamage() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await openLedger(home, records: 5).close()
        let seg = try #require(try segments(home.path).last)
        // 8 KiB of non-zero garbage: no page of it is zero, so this is not an unsynced append.
        _ = try plantBlockAfter([UInt8](repeating: 0x5A, count: 8192), in: seg)
        let r = try LedgerVerifier(home: home.path).run()
        #expect(!r.ok && r.problems.contains { $0.kind == "damaged-block" }, "\(r.problems.map(\.text))")
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: options()) }
    }
}
