import Foundation
import Testing
import TallyCore
@testable import TallyLedger

/// Regressions for the findings of the independent auditor (Tests/e2e/test_ledger_auditor.py).
@Suite struct AuditorFindingsTests {
    @Test func rfc3339TimesRoundTrip() {
        for ms: Int64 in [0, 1, 999, 1_800_000_000_123, 253_402_300_799_999, 951_782_400_000] {
            #expect(LedgerTime.parse(LedgerTime.string(ms)) == ms)
        }
        for bad in ["2026-11-26T16:13:33.123", "2026-13-01T00:00:00.000Z", "2026-02-30T00:00:00.000Z", "2026-11-26 16:13:33.123Z"] {
            #expect(LedgerTime.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func aDamagedNoteDoesNotHideTheNextOne() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var o = testOptions()
        o.checkpointEveryRecords = 2
        try await writeLedger(home, options: o, batches: [(1...6).map(sampleEvent)])
        let path = home.path + "/ledger/checkpoints.log"
        var bytes = try FileIO.readFile(path)
        let epochs = try LedgerWriter.loadEpochs(LedgerPaths(home: home.path))
        let intact = CheckpointLog.read(bytes, epochs: epochs).entries.count
        #expect(intact >= 3)
        let dash = bytes.firstIndex(of: 0xE2)!
        bytes[dash + 1] ^= 0x20
        let log = CheckpointLog.read(bytes, epochs: epochs)
        #expect(log.entries.count == intact - 1)
        #expect(log.problems.map(\.offset) == [0])
    }

    @Test func aBundleWhoseRecordIsDatedOutsideTheSigningEpochIsRejected() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        let clock = TestClock(1_800_000_000_000)
        var o = testOptions(epochCount: 6)
        o.clock = { clock.now }
        _ = try Ledger.initialize(home: home.path, options: o)
        let l = try await Ledger.open(home: home.path, options: o)
        _ = try await l.append(sampleEvent(1))
        clock.advance(3_600_000)
        _ = try await l.append(sampleEvent(2))
        try await l.close()
        let key = try NoteVerifierKey(parsing: String(contentsOfFile: home.path + "/ledger.pub", encoding: .utf8))
        // Honest bundles: record 1 is proven by the checkpoint signed in epoch 0, record 2 in epoch 1.
        for seq: UInt64 in [1, 2] {
            let bundle = try LedgerProofs.prove(home: home.path, seq: seq)
            #expect(bundle["epoch"] == .int(seq - 1))
            #expect(try LedgerProofs.verify(bundle: bundle, rootKey: key) == seq)
        }
        // A forger holding epoch 3's key signs a one-record tree with a record dated in epoch 0.
        let epochs = try LedgerWriter.loadEpochs(LedgerPaths(home: home.path))
        let store = try EpochKeyStore(path: home.path + "/ledger/keys/epoch-keys.bin", publicKeys: epochs.publicKeys)
        let k3 = try #require(try store.privateKey(3))
        let record = Array(#"{"event":{"type":"payment.approved"},"seq":1,"time":"\#(LedgerTime.string(1_800_000_000_005))"}"#.utf8)
        var note = SignedNote(text: Checkpoint(origin: epochs.origin, size: 1, root: LedgerHash.leaf(record)).text)
        try note.sign(name: epochs.origin, key: k3)
        let leaves = epochs.publicKeys.map { LedgerHash.leaf($0.rawRepresentation) }
        func b64(_ b: [UInt8]) -> JSONValue { .string(Data(b).base64EncodedString()) }
        let forged: JSONValue = .object([
            "format": "tally-proof/v1", "origin": .string(epochs.origin), "seq": 1, "record": b64(record), "tree_size": 1,
            "inclusion": [], "checkpoint": .string(note.serialized), "epoch": 3, "epoch_key": b64(epochs.publicKeys[3].rawRepresentation),
            "epoch_inclusion": .array(Merkle.inclusionProof(index: 3, leaves: leaves[...]).map { b64($0.bytes) }),
            "epochs_note": .string(epochs.note.serialized),
        ])
        #expect(throws: TallyError.self) { try LedgerProofs.verify(bundle: forged, rootKey: key) }
    }
}

/// Auditor finding: one damaged checkpoint note was sometimes listed twice (same kind and offset).
@Suite struct VerifyProblemUniquenessTests {
    @Test func everyDamagedPlaceIsListedOnce() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        var o = testOptions()
        o.checkpointEveryRecords = 3
        try await writeLedger(home, options: o, batches: [(1...9).map(sampleEvent)])
        let path = home.path + "/ledger/checkpoints.log"
        let original = try FileIO.readFile(path)
        let firstNote = original.firstIndex(of: 0xE2).map { $0 + 100 } ?? original.count
        var damaged = 0
        for offset in stride(from: 0, to: min(firstNote, original.count), by: 3) {
            var bytes = original
            bytes[offset] ^= 0x04
            try FileIO.writeAtomically(path, bytes)
            let problems = try LedgerVerifier(home: home.path).run().problems
            if !problems.isEmpty { damaged += 1 }
            let keys = problems.map { "\($0.kind)|\($0.file ?? "")|\($0.offset ?? -1)|\($0.seq ?? 0)|\($0.lastSeq ?? 0)" }
            #expect(Set(keys).count == keys.count, "flip at \(offset): \(keys)")
        }
        try FileIO.writeAtomically(path, original)
        #expect(damaged > 10)
    }

    // MARK: session 12 probe

    /// A flipped bit in the current epoch's private seed: the append is refused before anything is acknowledged
    /// (it was acknowledged, then checkpointed with a signature no verifier accepts).
    @Test func aDamagedEpochSeedRefusesTheAppend() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await writeLedger(home, options: testOptions(), batches: [(1...3).map(sampleEvent)])
        let keysPath = home.path + "/ledger/keys/epoch-keys.bin"
        var keys = try FileIO.readFile(keysPath)
        let live = try #require(keys.indices.first { keys[$0] != 0 })
        keys[live + 5] ^= 0x01
        try Data(keys).write(to: URL(fileURLWithPath: keysPath))
        let l = try await Ledger.open(home: home.path, options: testOptions())
        await #expect(throws: TallyError.self) { _ = try await l.append(sampleEvent(4)) }
        try? await l.close()
        var count = 0
        try LedgerReader(home: home.path).forEachRecord { _, _, _ in count += 1; return true }
        #expect(count == 3)
    }

    /// Canonical base64 only in proof bundles: extra padding or non-zero padding bits are rejected.
    @Test func proofBundlesTakeCanonicalBase64Only() {
        #expect(canonicalBase64("AAE=") == Data([0, 1]))
        #expect(canonicalBase64("AAE==") == nil && canonicalBase64("AAF=") == nil && canonicalBase64("AAE") == nil)
    }

    /// `ledger verify` of a home whose segment files are all gone reports damage (it crashed unwrapping a nil).
    @Test func verifyWithoutSegmentFilesReportsDamage() async throws {
        let home = TempHome()
        defer { home.cleanup() }
        try await writeLedger(home, options: testOptions(), batches: [(1...3).map(sampleEvent)])
        for name in try FileManager.default.contentsOfDirectory(atPath: home.path + "/ledger/segments") {
            try FileManager.default.removeItem(atPath: home.path + "/ledger/segments/" + name)
        }
        let report = try LedgerVerifier(home: home.path).run()
        #expect(!report.problems.isEmpty && report.problems.contains { $0.kind == "missing-segment" })
    }
}
