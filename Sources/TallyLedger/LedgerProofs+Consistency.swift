import Foundation
public import TallyCore

extension LedgerProofs {
    public static let consistencyFormat = "tally-consistency/v1"

    /// A bundle proving that the newest checkpoint extends the tree of the first `oldSize` records
    /// (RFC 9162 consistency proof), with the old root, the signed newest checkpoint and its epoch
    /// certificate. An auditor compares `old_root` with the root of a checkpoint they kept.
    public static func proveConsistency(home: String, oldSize: UInt64) throws -> JSONValue {
        let reader = try LedgerReader(home: home)
        let epochs = try LedgerWriter.loadEpochs(reader.paths)
        let log = CheckpointLog.read(try FileIO.readFile(reader.paths.checkpoints), epochs: epochs)
        guard let entry = log.entries.last(where: { !$0.epochs.isEmpty && $0.checkpoint.origin == epochs.origin }) else {
            throw TallyError(.notFound, "the ledger has no signed checkpoint yet")
        }
        let cp = entry.checkpoint
        guard oldSize <= cp.size else { throw TallyError(.notFound, "size \(oldSize) is beyond the newest checkpoint (size \(cp.size))") }
        let leaves = try reader.leafHashes(upTo: cp.size)
        guard UInt64(leaves.count) == cp.size, Merkle.root(leaves) == cp.root else {
            throw TallyError(.integrity, "the records do not match the newest checkpoint; run `tally ledger verify`")
        }
        let proof = Merkle.consistencyProof(oldSize: Int(oldSize), leaves: leaves[...])
        let epoch = entry.epochs[0]
        let epochLeaves = epochs.publicKeys.map { LedgerHash.leaf($0.rawRepresentation) }
        func b64(_ d: [UInt8]) -> JSONValue { .string(Data(d).base64EncodedString()) }
        return .object([
            "format": .string(consistencyFormat),
            "origin": .string(epochs.origin),
            "old_size": .int(oldSize),
            "old_root": b64(Merkle.root(Array(leaves.prefix(Int(oldSize)))).bytes),
            "tree_size": .int(cp.size),
            "consistency": .array(proof.map { b64($0.bytes) }),
            "checkpoint": .string(entry.note.serialized),
            "epoch": .int(epoch),
            "epoch_key": b64(epochs.publicKeys[epoch].rawRepresentation),
            "epoch_inclusion": .array(Merkle.inclusionProof(index: epoch, leaves: epochLeaves[...]).map { b64($0.bytes) }),
            "epochs_note": .string(epochs.note.serialized),
        ])
    }

    /// Checks a consistency bundle with the root key alone; returns (old size, old root, new size).
    /// When `expectedOldRoot` is given (from a checkpoint the auditor kept), it must match.
    @discardableResult
    public static func verifyConsistency(bundle: JSONValue, rootKey: NoteVerifierKey, expectedOldRoot: Digest? = nil) throws -> (UInt64, Digest, UInt64) {
        func bad(_ why: String) -> TallyError { TallyError(.invalidProof, "invalid proof: \(why)") }
        guard bundle["format"]?.stringValue == consistencyFormat else { throw bad("unknown format (expected \(consistencyFormat))") }
        let cp = try verifiedCheckpoint(bundle: bundle, rootKey: rootKey)
        guard case .number(let o)? = bundle["old_size"], let oldSize = UInt64(o),
              case .number(let n)? = bundle["tree_size"], let size = UInt64(n), size == cp.size else { throw bad("bad old_size / tree_size") }
        guard let rootText = bundle["old_root"]?.stringValue, let raw = canonicalBase64(rootText), let oldRoot = Digest([UInt8](raw)) else {
            throw bad("\"old_root\" is missing")
        }
        let path = try (bundle["consistency"]?.arrayValue ?? []).map { v -> Digest in
            guard let s = v.stringValue, let d = canonicalBase64(s), let h = Digest([UInt8](d)) else { throw bad("\"consistency\" holds a non-hash") }
            return h
        }
        guard Merkle.verifyConsistency(oldSize: oldSize, newSize: size, oldRoot: oldRoot, newRoot: cp.root, proof: path) else {
            throw bad("the newest checkpoint is not consistent with the old tree")
        }
        if let expectedOldRoot, expectedOldRoot != oldRoot { throw bad("the old root differs from the kept checkpoint: the ledger forked") }
        return (oldSize, oldRoot, size)
    }

    /// Verifies the epoch-key chain of a bundle (root key → epoch key → checkpoint) and returns the checkpoint.
    static func verifiedCheckpoint(bundle: JSONValue, rootKey: NoteVerifierKey) throws -> Checkpoint {
        func bad(_ why: String) -> TallyError { TallyError(.invalidProof, "invalid proof: \(why)") }
        guard let epochsText = bundle["epochs_note"]?.stringValue, let epochsNote = try? SignedNote(parsing: epochsText) else {
            throw bad("\"epochs_note\" is missing or malformed")
        }
        guard epochsNote.isSigned(name: rootKey.name, by: rootKey.publicKey) else { throw bad("the epoch-keys note is not signed by the given public key") }
        let fields: (origin: String, start: Int64, length: Int64, count: Int, root: Digest)
        do { fields = try EpochSet.parseNoteFields(epochsNote.text) } catch let e as TallyError { throw bad(e.reason) }
        guard case .number(let et)? = bundle["epoch"], let epoch = UInt64(et),
              let keyText = bundle["epoch_key"]?.stringValue, let keyRaw = canonicalBase64(keyText),
              let epochKey = try? Ed25519.PublicKey(rawRepresentation: [UInt8](keyRaw)) else { throw bad("bad epoch / epoch_key") }
        let epochPath = try (bundle["epoch_inclusion"]?.arrayValue ?? []).map { v -> Digest in
            guard let s = v.stringValue, let d = canonicalBase64(s), let h = Digest([UInt8](d)) else { throw bad("\"epoch_inclusion\" holds a non-hash") }
            return h
        }
        guard Merkle.verifyInclusion(leaf: LedgerHash.leaf([UInt8](keyRaw)), index: epoch, size: UInt64(fields.count), proof: epochPath, root: fields.root) else {
            throw bad("the epoch key is not certified for epoch \(epoch)")
        }
        guard let cpText = bundle["checkpoint"]?.stringValue, let cpNote = try? SignedNote(parsing: cpText),
              let cp = try? Checkpoint(text: cpNote.text) else { throw bad("\"checkpoint\" is missing or malformed") }
        guard cp.origin == fields.origin, bundle["origin"]?.stringValue == fields.origin else { throw bad("the checkpoint origin does not match the ledger origin") }
        guard cpNote.isSigned(name: fields.origin, by: epochKey) else { throw bad("the checkpoint is not signed by the epoch key") }
        return cp
    }
}
