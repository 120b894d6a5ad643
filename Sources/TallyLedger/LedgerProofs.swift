import Foundation
public import TallyCore

/// Offline proof bundles (docs/LEDGER-FORMAT.md, "Proof bundles").
public enum LedgerProofs {
    public static let format = "tally-proof/v1"

    /// A bundle proving that record `seq` is in the newest checkpointed tree: the record, its
    /// RFC 9162 inclusion proof, the signed checkpoint, the epoch key that signed it with its
    /// inclusion proof in the epoch-key tree, and the root-signed epoch-keys note.
    public static func prove(home: String, seq: UInt64) throws -> JSONValue {
        let reader = try LedgerReader(home: home)
        let paths = reader.paths
        let epochs = try LedgerWriter.loadEpochs(paths)
        let log = CheckpointLog.read(try FileIO.readFile(paths.checkpoints), epochs: epochs)
        guard seq >= 1 else { throw TallyError(.badUsage, "--seq must be at least 1") }
        // The first checkpoint covering the record: it is signed with the key of the record's epoch.
        guard let entry = log.entries.first(where: { !$0.epochs.isEmpty && $0.checkpoint.origin == epochs.origin && $0.checkpoint.size >= seq }) else {
            let count = try reader.count()
            if seq > count { throw TallyError(.notFound, "--seq \(seq) is beyond the end of the ledger (\(count) records)") }
            throw TallyError(.notFound, "seq \(seq) is not covered by a signed checkpoint yet (append more or wait for the next checkpoint)")
        }
        let cp = entry.checkpoint
        guard let record = try reader.recordBytes(seq: seq) else { throw TallyError(.notFound, "no record \(seq)") }
        let leaves = try reader.leafHashes(upTo: cp.size)
        guard UInt64(leaves.count) == cp.size, Merkle.root(leaves) == cp.root else {
            throw TallyError(.integrity, "the records do not match the newest checkpoint; run `tally ledger verify`")
        }
        let path = Merkle.inclusionProof(index: Int(seq - 1), leaves: leaves[...])
        let epoch = entry.epochs[0]
        let epochLeaves = epochs.publicKeys.map { LedgerHash.leaf($0.rawRepresentation) }
        let epochPath = Merkle.inclusionProof(index: epoch, leaves: epochLeaves[...])
        func b64(_ d: [UInt8]) -> JSONValue { .string(Data(d).base64EncodedString()) }
        return .object([
            "format": .string(format),
            "origin": .string(epochs.origin),
            "seq": .int(seq),
            "record": b64(record),
            "tree_size": .int(cp.size),
            "inclusion": .array(path.map { b64($0.bytes) }),
            "checkpoint": .string(entry.note.serialized),
            "epoch": .int(epoch),
            "epoch_key": b64(epochs.publicKeys[epoch].rawRepresentation),
            "epoch_inclusion": .array(epochPath.map { b64($0.bytes) }),
            "epochs_note": .string(epochs.note.serialized),
        ])
    }

    /// Checks a bundle with the root verifier key alone. Throws `TallyError(.invalidProof)` naming
    /// the first check that fails; returns the proven record's seq.
    @discardableResult
    public static func verify(bundle: JSONValue, rootKey: NoteVerifierKey) throws -> UInt64 {
        func bad(_ why: String) -> TallyError { TallyError(.invalidProof, "invalid proof: \(why)") }
        func bytes(_ key: String) throws -> [UInt8] {
            guard let s = bundle[key]?.stringValue, let d = canonicalBase64(s) else { throw bad("\"\(key)\" is missing or not canonical base64") }
            return [UInt8](d)
        }
        func digests(_ key: String) throws -> [Digest] {
            guard let a = bundle[key]?.arrayValue else { throw bad("\"\(key)\" is missing") }
            return try a.map { v in
                guard let s = v.stringValue, let d = canonicalBase64(s), let h = Digest([UInt8](d)) else { throw bad("\"\(key)\" holds a non-hash") }
                return h
            }
        }
        func uint(_ key: String) throws -> UInt64 {
            guard case .number(let t)? = bundle[key], let v = UInt64(t) else { throw bad("\"\(key)\" is missing or not a non-negative integer") }
            return v
        }
        guard bundle["format"]?.stringValue == format else { throw bad("unknown format (expected \(format))") }
        // 1. The epoch-keys note is signed by the root key.
        guard let epochsText = bundle["epochs_note"]?.stringValue, let epochsNote = try? SignedNote(parsing: epochsText) else {
            throw bad("\"epochs_note\" is missing or malformed")
        }
        guard epochsNote.isSigned(name: rootKey.name, by: rootKey.publicKey) else { throw bad("the epoch-keys note is not signed by the given public key") }
        let fields: (origin: String, start: Int64, length: Int64, count: Int, root: Digest)
        do { fields = try EpochSet.parseNoteFields(epochsNote.text) } catch let e as TallyError { throw bad(e.reason) }
        // 2. The epoch key is certified (inclusion in the epoch-key tree).
        let epoch = try uint("epoch")
        let epochKeyRaw = try bytes("epoch_key")
        guard let epochKey = try? Ed25519.PublicKey(rawRepresentation: epochKeyRaw) else { throw bad("\"epoch_key\" is not an Ed25519 key") }
        guard Merkle.verifyInclusion(leaf: LedgerHash.leaf(epochKeyRaw), index: epoch, size: UInt64(fields.count),
                                     proof: try digests("epoch_inclusion"), root: fields.root) else {
            throw bad("the epoch key is not certified for epoch \(epoch) by the epoch-keys note")
        }
        // 3. The checkpoint is signed by that epoch key, for this origin.
        guard let cpText = bundle["checkpoint"]?.stringValue, let cpNote = try? SignedNote(parsing: cpText),
              let cp = try? Checkpoint(text: cpNote.text) else { throw bad("\"checkpoint\" is missing or malformed") }
        guard cp.origin == fields.origin, bundle["origin"]?.stringValue == fields.origin else { throw bad("the checkpoint origin does not match the ledger origin") }
        guard cpNote.isSigned(name: fields.origin, by: epochKey) else { throw bad("the checkpoint is not signed by the epoch key") }
        // 4. The record is in the checkpointed tree.
        let seq = try uint("seq")
        let size = try uint("tree_size")
        guard size == cp.size else { throw bad("\"tree_size\" differs from the checkpoint") }
        let record = try bytes("record")
        guard seq >= 1, Merkle.verifyInclusion(leaf: LedgerHash.leaf(record), index: seq - 1, size: size, proof: try digests("inclusion"), root: cp.root) else {
            throw bad("the record is not included in the checkpointed tree")
        }
        // 5. The record says it is that seq, and it is dated in the epoch whose key signed the
        //    checkpoint (so a key of a later epoch cannot vouch for a record dated earlier).
        guard let rv = try? JSONValue(parsing: record), case .number(let st)? = rv["seq"], UInt64(st) == seq, rv["event"]?["type"]?.stringValue != nil,
              let timeText = rv["time"]?.stringValue, let time = LedgerTime.parse(timeText) else {
            throw bad("the record is not a ledger record with seq \(seq)")
        }
        let windowStart = fields.start + Int64(epoch) * fields.length
        guard time >= windowStart, time < windowStart + fields.length else {
            throw bad("the record is dated \(timeText), outside epoch \(epoch) whose key signed the checkpoint")
        }
        return seq
    }
}

/// The bytes of `text` if it is canonical base64 (standard alphabet, padded, zero padding bits: what
/// `base64EncodedString` writes); nil otherwise. LEDGER-FORMAT.md: verifiers reject anything else, so one proof has
/// one byte form (bundles with extra `=` or non-zero padding bits verified; session 12 probe).
func canonicalBase64(_ text: String) -> Data? {
    guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
    return data
}
