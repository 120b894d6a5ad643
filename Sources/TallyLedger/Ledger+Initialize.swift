import Foundation
import TallyCore

extension Ledger {
    /// Creates a new home: directories, epoch keys, H/ledger.pub. Throws if H already holds a ledger.
    ///
    /// The root private key lives only in this function's memory: it signs the epoch-keys note and
    /// is dropped; it is never written to disk.
    public static func initialize(home: String, options: LedgerOptions = .init()) throws -> InitReport {
        let paths = LedgerPaths(home: home)
        if FileIO.exists(paths.publicKey) || FileIO.exists(paths.dir) {
            throw TallyError(.badUsage, "\(paths.home) already holds a ledger (ledger.pub or ledger/ exists); refusing to overwrite it")
        }
        let origin = try options.origin ?? ("tally.ledger/" + Hex.encode(secureRandomBytes(8)))
        guard !origin.isEmpty, !origin.contains(where: { $0.isWhitespace || $0 == "+" }), !origin.hasPrefix("\u{2014}") else {
            throw TallyError(.badUsage, "the origin '\(origin)' must be non-empty without spaces or '+'")
        }
        guard options.epochCount > 0 else { throw TallyError(.badUsage, "--epochs \(options.epochCount): must be at least 1") }
        guard options.epochSeconds > 0 else {
            throw TallyError(.badUsage, "--epoch-seconds \(options.epochSeconds): must be at least 1")
        }
        // Bounded before anything is created: a huge count exhausted memory and a huge length overflowed, each leaving a
        // half-made home that neither init nor verify would take (review, session 9).
        guard options.epochCount <= 200_000 else {
            throw TallyError(.badUsage, "--epochs \(options.epochCount): at most 200000 epoch keys (23 years of hourly epochs)")
        }
        guard options.epochSeconds <= 10 * 366 * 86_400 else {
            throw TallyError(.badUsage, "--epoch-seconds \(options.epochSeconds): at most \(10 * 366 * 86_400) (ten years)")
        }
        try options.validateWriterSettings()
        do {
            try FileManager.default.createDirectory(atPath: paths.home, withIntermediateDirectories: true)
        } catch {
            throw TallyError(.io, "cannot create \(paths.home): \(error.localizedDescription)")
        }
        try FileIO.makeDirectory(paths.dir)
        try FileIO.makeDirectory(paths.keysDir, mode: 0o700)
        try FileIO.makeDirectory(paths.segmentsDir)
        try FileIO.writeAtomically(LedgerOptions.settingsPath(home), options.settingsJSON.canonicalBytes() + [0x0A])

        // Epoch keys, with distinct key ids under the origin name.
        var seeds: [UInt8] = []
        seeds.reserveCapacity(options.epochCount * 32)
        var publics: [Ed25519.PublicKey] = []
        var ids = Set<[UInt8]>()
        while publics.count < options.epochCount {
            let k = try Ed25519.PrivateKey()
            let pk = try k.publicKey
            guard ids.insert(SignedNote.keyID(name: origin, publicKey: pk)).inserted else { continue }
            seeds.append(contentsOf: k.rawRepresentation)
            publics.append(pk)
        }
        let lengthMs = options.epochSeconds * 1000
        let now = options.clock()
        let start = LedgerTime.floorDiv(now, lengthMs) * lengthMs

        let keysFD = try FileIO.openFile(paths.epochKeys, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        do {
            try FileIO.writeAll(keysFD, seeds, path: paths.epochKeys)
            try FileIO.syncFile(keysFD, path: paths.epochKeys)
        } catch { Glibc.close(keysFD); throw error }
        Glibc.close(keysFD)
        for i in seeds.indices { seeds[i] = 0 }

        let root = try Ed25519.PrivateKey()
        let rootKey = NoteVerifierKey(name: origin + "/root", publicKey: try root.publicKey)
        var note = SignedNote(text: EpochSet.noteText(origin: origin, start: start, length: lengthMs, keys: publics))
        try note.sign(name: rootKey.name, key: root)
        let set = EpochSet(origin: origin, start: start, length: lengthMs, publicKeys: publics, note: note, rootKey: rootKey)
        try FileIO.writeAtomically(paths.epochsPub, Array(set.publicKeysText.utf8))
        try FileIO.writeAtomically(paths.epochsNote, Array(note.serialized.utf8))
        try FileIO.writeAtomically(paths.checkpoints, [])
        let header = SegmentHeader(index: 1, firstSeq: 1, startChain: Digest(), startFrontier: MerkleFrontier())
        try FileIO.writeAtomically(paths.segmentPath(1), header.encoded())
        try FileIO.syncDirectory(paths.keysDir)
        try FileIO.syncDirectory(paths.dir)
        // ledger.pub last: its presence marks a complete home.
        try FileIO.writeAtomically(paths.publicKey, Array((rootKey.text + "\n").utf8))
        return InitReport(home: paths.home, origin: origin, rootKey: rootKey.text, epochCount: publics.count,
                          epochSeconds: options.epochSeconds, firstEpochStart: start)
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension Ledger {
    /// Throws a clear error (exit 2) unless `home` is a Tally home: a directory with `ledger.pub` and a ledger.
    public static func checkHome(_ home: String) throws {
        try LedgerPaths(home: home).checkIsHome()
    }
}
