import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// Epoch keys: boundary checkpoints, erasure of ended epochs, and a rewrite signed with a key the
/// attacker still holds being caught by the epoch rule.
@Suite struct ForwardSecurityTests {
    @Test func endedEpochKeysAreErasedAndOldHistoryCannotBeResigned() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let hour: Int64 = 3_600_000
        let clock = TestClock(1_800_000_000_000)  // an exact hour boundary
        var options = testOptions(epochCount: 6)
        options.clock = { clock.now }
        _ = try Ledger.initialize(home: home.path, options: options)
        let keysPath = home.path + "/ledger/keys/epoch-keys.bin"
        func slotErased(_ e: Int) throws -> Bool { try FileIO.readFile(keysPath)[(e * 32)..<(e * 32 + 32)].allSatisfy { $0 == 0 } }
        #expect(!(try slotErased(0)))

        let ledger = try await Ledger.open(home: home.path, options: options)
        _ = try await ledger.append(contentsOf: (1...3).map(sampleEvent))
        clock.advance(hour)
        _ = try await ledger.append(contentsOf: (4...6).map(sampleEvent))
        try await ledger.close()
        #expect(try slotErased(0), "the key of epoch 0 must be erased once epoch 1 began")
        #expect(!(try slotErased(1)))

        // Epoch 0's records are covered by a checkpoint signed with epoch 0's key.
        let epochs = try LedgerWriter.loadEpochs(LedgerPaths(home: home.path))
        let log = CheckpointLog.read(try FileIO.readFile(home.path + "/ledger/checkpoints.log"), epochs: epochs)
        #expect(log.entries.contains { $0.checkpoint.size == 3 && $0.epochs == [0] })
        #expect(log.entries.last?.checkpoint.size == 6 && log.entries.last?.epochs == [1])
        #expect(try LedgerVerifier(home: home.path).run().ok)

        // Reopening two epochs later erases epoch 1's key too (idle expiry on open).
        clock.advance(2 * hour)
        try await (try await Ledger.open(home: home.path, options: options)).close()
        #expect(try slotErased(1))
        #expect(!(try slotErased(3)))

        // The attacker copies the home now: keys of epochs ≥ 3 only. They rewrite record 2 and
        // re-sign every checkpoint with epoch 3's key.
        var records: [(event: [UInt8], time: Int64)] = []
        try LedgerReader(home: home.path).forEachRecord { _, t, e in records.append((Array(e), t)); return true }
        records[1].event = JSONValue.object(["type": "call.requested", "n": 2, "forged": true]).canonicalBytes()
        try FileManager.default.removeItem(atPath: home.path + "/ledger/segments/" + LedgerPaths.segmentName(1))
        try Forger.writeSegments(records, to: home.path + "/ledger/segments")
        let store = try EpochKeyStore(path: keysPath, publicKeys: epochs.publicKeys)
        #expect(try store.privateKey(0) == nil)
        let key3 = try #require(try store.privateKey(3))
        var builder = RecordBuilder()
        let leaves = records.enumerated().map { i, r in r.event.withUnsafeBytes { builder.leaf(event: $0, seq: UInt64(i + 1), time: r.time) } }
        var forgedLog = ""
        for size in [3, 6] {
            var note = SignedNote(text: Checkpoint(origin: epochs.origin, size: UInt64(size), root: Merkle.root(Array(leaves.prefix(size)))).text)
            try note.sign(name: epochs.origin, key: key3)
            forgedLog += note.serialized
        }
        try forgedLog.write(toFile: home.path + "/ledger/checkpoints.log", atomically: true, encoding: .utf8)
        let r = try LedgerVerifier(home: home.path).run()
        #expect(!r.ok)
        #expect(r.problems.contains { $0.kind == "epoch-mismatch" && $0.seq == 1 && $0.lastSeq == 6 })
        #expect(!r.problems.contains { $0.kind == "checkpoint-mismatch" || $0.kind == "chain-mismatch" })
    }

    @Test func appendsFailClosedWhenEpochsRunOut() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let clock = TestClock(1_800_000_000_000)
        var options = testOptions(epochCount: 2)
        options.clock = { clock.now }
        _ = try Ledger.initialize(home: home.path, options: options)
        let ledger = try await Ledger.open(home: home.path, options: options)
        _ = try await ledger.append(sampleEvent(1))
        clock.advance(2 * 3_600_000)
        await #expect(throws: TallyError.self) { _ = try await ledger.append(sampleEvent(2)) }
        try? await ledger.close()
        #expect(try LedgerReader(home: home.path).count() == 1)
        #expect(try LedgerVerifier(home: home.path).run().ok)
    }
}
