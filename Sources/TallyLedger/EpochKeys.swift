import Foundation
public import TallyCore

/// The certified epoch public keys of a ledger (docs/LEDGER-FORMAT.md, "Keys and epochs").
///
/// At init a root key signs one note committing to every epoch public key (an RFC 6962 Merkle
/// root over them), then the root private key is dropped without ever touching the disk. Epoch
/// `e` covers [start + e·length, start + (e+1)·length) in ledger time; checkpoints are signed
/// with the key of the epoch of the newest record they cover.
public struct EpochSet: Sendable {
    public static let header = "tally-epoch-keys/v1"
    public var origin: String
    public var start: Int64
    public var length: Int64
    public var publicKeys: [Ed25519.PublicKey]
    public var note: SignedNote
    public var rootKey: NoteVerifierKey
    private var byKeyID: [UInt32: [Int]]

    /// The note body committing to `keys`.
    static func noteText(origin: String, start: Int64, length: Int64, keys: [Ed25519.PublicKey]) -> String {
        "\(header)\norigin \(origin)\nstart \(start)\nlength \(length)\ncount \(keys.count)\nroot \(Data(merkleRoot(keys).bytes).base64EncodedString())\n"
    }

    /// RFC 6962 root over leaves = raw 32-byte epoch public keys.
    static func merkleRoot(_ keys: [Ed25519.PublicKey]) -> Digest {
        Merkle.root(keys.map { LedgerHash.leaf($0.rawRepresentation) })
    }

    init(origin: String, start: Int64, length: Int64, publicKeys: [Ed25519.PublicKey], note: SignedNote, rootKey: NoteVerifierKey) {
        self.origin = origin
        self.start = start
        self.length = length
        self.publicKeys = publicKeys
        self.note = note
        self.rootKey = rootKey
        var map: [UInt32: [Int]] = [:]
        for (i, k) in publicKeys.enumerated() { map[Self.id32(SignedNote.keyID(name: origin, publicKey: k)), default: []].append(i) }
        byKeyID = map
    }

    static func id32(_ b: [UInt8]) -> UInt32 { b.reduce(0) { $0 << 8 | UInt32($1) } }

    /// Verifies and loads the epoch keys: the note must be signed by `rootKey`, and the listed
    /// keys must match its count and Merkle root. Throws `TallyError(.integrity)` otherwise.
    public static func load(noteText: String, publicKeysText: String, rootKey: NoteVerifierKey) throws -> EpochSet {
        let note: SignedNote
        do { note = try SignedNote(parsing: noteText) } catch let e as TallyError {
            throw TallyError(.integrity, "epochs.note: \(e.reason)")
        }
        guard note.isSigned(name: rootKey.name, by: rootKey.publicKey) else {
            throw TallyError(.integrity, "epochs.note is not signed by the root key \(rootKey.name)+\(Hex.encode(rootKey.keyID))")
        }
        let f = try parseNoteFields(note.text)
        let (origin, start, length, count, root) = (f.origin, f.start, f.length, f.count, f.root)
        var keys: [Ed25519.PublicKey] = []
        for line in publicKeysText.split(separator: "\n") {
            guard let raw = Data(base64Encoded: String(line)), raw.base64EncodedString() == line,
                  let k = try? Ed25519.PublicKey(rawRepresentation: [UInt8](raw)) else {
                throw TallyError(.integrity, "epochs.pub: line \(keys.count + 1) is not a base64 Ed25519 public key")
            }
            keys.append(k)
        }
        guard keys.count == count else { throw TallyError(.integrity, "epochs.pub lists \(keys.count) keys, epochs.note certifies \(count)") }
        guard merkleRoot(keys) == root else { throw TallyError(.integrity, "epochs.pub does not match the Merkle root certified in epochs.note") }
        return EpochSet(origin: origin, start: start, length: length, publicKeys: keys, note: note, rootKey: rootKey)
    }

    /// The fields of an epoch-keys note body.
    public static func parseNoteFields(_ text: String) throws -> (origin: String, start: Int64, length: Int64, count: Int, root: Digest) {
        var fields: [String: String] = [:]
        let lines = text.split(separator: "\n")
        guard lines.first == Substring(header) else { throw TallyError(.integrity, "epochs.note: unknown format '\(lines.first ?? "")'") }
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let origin = fields["origin"], let start = fields["start"].flatMap({ Int64($0) }),
              let length = fields["length"].flatMap({ Int64($0) }), length > 0,
              let count = fields["count"].flatMap({ Int($0) }), count > 0,
              let rootText = fields["root"], let rootRaw = Data(base64Encoded: rootText), rootRaw.base64EncodedString() == rootText,
              let root = Digest([UInt8](rootRaw)) else {
            throw TallyError(.integrity, "epochs.note: missing or malformed origin/start/length/count/root")
        }
        return (origin, start, length, count, root)
    }

    /// The epoch of ledger time `ms`, or nil outside the certified range.
    public func epoch(at ms: Int64) -> Int? {
        guard ms >= start else { return nil }
        let e = (ms - start) / length
        return e < publicKeys.count ? Int(e) : nil
    }

    public func window(_ e: Int) -> (start: Int64, end: Int64) {
        (start + Int64(e) * length, start + Int64(e + 1) * length)
    }

    /// The epochs whose key verifies a signature on `note` under the origin name.
    public func signingEpochs(of note: SignedNote) -> [Int] {
        let msg = Array(note.text.utf8)
        var found: [Int] = []
        for sig in note.signatures where sig.name == origin {
            for e in byKeyID[Self.id32(sig.keyID)] ?? [] where publicKeys[e].isValidSignature(sig.signature, for: msg) {
                found.append(e)
            }
        }
        return found
    }

    /// The text of epochs.pub.
    var publicKeysText: String { publicKeys.map { Data($0.rawRepresentation).base64EncodedString() + "\n" }.joined() }
}

/// The epoch private keys: one file of `count` × 32-byte Ed25519 seeds. Erasing an epoch
/// overwrites its 32 bytes with zeros in place and syncs; erased slots read as nil.
final class EpochKeyStore {
    let path: String
    let fd: Int32
    let count: Int
    /// The certified public key of each epoch (epochs.pub): a seed that does not derive it is damage.
    let publicKeys: [Ed25519.PublicKey]

    init(path: String, publicKeys: [Ed25519.PublicKey]) throws {
        self.path = path
        self.count = publicKeys.count
        self.publicKeys = publicKeys
        fd = try FileIO.openFile(path, O_RDWR)
    }

    deinit { close(fd) }

    func privateKey(_ e: Int) throws -> Ed25519.PrivateKey? {
        guard e >= 0, e < count else { return nil }
        var seed = [UInt8](repeating: 0, count: 32)
        let n = seed.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, 32, off_t(e * 32)) }
        guard n == 32 else { throw TallyError(.io, "cannot read epoch key \(e) from \(path)") }
        if seed.allSatisfy({ $0 == 0 }) { return nil }
        let key = try Ed25519.PrivateKey(rawRepresentation: seed)
        // A damaged seed would sign checkpoints no verifier accepts: the records they cover could never be proven
        // (it acknowledged the append, wrote a checkpoint that fails verification, then refused every later append;
        // session 12 probe). Checked before anything is appended with it.
        guard try key.publicKey.rawRepresentation == publicKeys[e].rawRepresentation else {
            throw TallyError(.integrity, "the private key of epoch \(e) in \(path) does not match its certified public key (epochs.pub): the key file is damaged; nothing was appended")
        }
        return key
    }

    /// Overwrites the keys of epochs `range` with zeros (skipping ones already erased) and syncs.
    func erase(_ range: Range<Int>) throws {
        let r = max(0, range.lowerBound)..<min(count, range.upperBound)
        guard !r.isEmpty else { return }
        try FileIO.pwriteAll(fd, [UInt8](repeating: 0, count: r.count * 32), at: r.lowerBound * 32, path: path)
        try FileIO.syncData(fd, path: path)
    }

    /// The first epoch whose key is still present, scanning from `from`.
    func firstLiveEpoch(from: Int = 0) throws -> Int? {
        let all = try FileIO.readFile(path)
        var e = max(0, from)
        while (e + 1) * 32 <= all.count {
            if all[(e * 32)..<(e * 32 + 32)].contains(where: { $0 != 0 }) { return e }
            e += 1
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
