import Foundation
import Testing
import TallyCore
@testable import TallyLedger

@Suite struct LedgerBasicsTests {
    @Test func appendReadReopen() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let report = try Ledger.initialize(home: home.path, options: testOptions())
        #expect(report.origin == "test.tally/ledger")
        #expect(FileManager.default.fileExists(atPath: home.path + "/ledger.pub"))
        #expect(throws: TallyError.self) { _ = try Ledger.initialize(home: home.path, options: testOptions()) }

        let ledger = try await Ledger.open(home: home.path, options: testOptions())
        #expect(await ledger.recovery == nil)
        let s1 = try await ledger.append(sampleEvent(1))
        #expect(s1 == 1)
        let s2 = try await ledger.append(contentsOf: (2...10).map(sampleEvent))
        #expect(s2 == 10)
        // Concurrent appends each get a distinct seq.
        let seqs = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for i in 11...60 { group.addTask { try await ledger.append(sampleEvent(i)) } }
            var all: [UInt64] = []
            for try await s in group { all.append(s) }
            return all
        }
        #expect(Set(seqs) == Set(11...60))
        await #expect(throws: TallyError.self) { _ = try await ledger.append(["no": "type"]) }
        await #expect(throws: TallyError.self) { _ = try await ledger.append(["type": 5]) }
        try await ledger.close()

        let reader = try LedgerReader(home: home.path)
        let records = try reader.records()
        #expect(records.map(\.seq) == Array(1...60))
        #expect(records[0].event == sampleEvent(1))
        #expect(records[0].time.hasSuffix("Z"))
        #expect(try reader.records(from: 5, to: 7).map(\.seq) == [5, 6, 7])
        #expect(try reader.count() == 60)

        let again = try await Ledger.open(home: home.path, options: testOptions())
        #expect(await again.recovery == nil)
        #expect(try await again.append(sampleEvent(61)) == 61)
        try await again.close()
        #expect(try LedgerReader(home: home.path).count() == 61)
    }

    @Test func secondWriterIsRefusedWhileTheLockIsHeld() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        _ = try Ledger.initialize(home: home.path, options: testOptions())
        let first = try await Ledger.open(home: home.path, options: testOptions())
        var quick = testOptions()
        quick.lockTimeout = 0.2
        do {
            _ = try await Ledger.open(home: home.path, options: quick)
            Issue.record("a second writer opened the ledger")
        } catch let e as TallyError {
            #expect(e.code == .ledgerLocked)
            #expect(e.reason.contains("locked by another process"))
        }
        try await first.close()
        try await (try await Ledger.open(home: home.path, options: quick)).close()
    }

    @Test func foreignHomeIsRejected() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
        await #expect(throws: TallyError.self) { _ = try await Ledger.open(home: home.path, options: testOptions()) }
        #expect(throws: TallyError.self) { _ = try LedgerReader(home: home.path + "/missing") }
    }
}
