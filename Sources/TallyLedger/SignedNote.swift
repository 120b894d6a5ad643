import Foundation
public import TallyCore

/// A C2SP signed note: UTF-8 text ending in a newline, a blank line, then signature lines
/// `— <key name> <base64(key id (4 bytes) ‖ Ed25519 signature (64 bytes))>`.
/// The signatures cover the text including its final newline.
public struct SignedNote: Sendable, Equatable {
    public struct Signature: Sendable, Equatable {
        public var name: String
        public var keyID: [UInt8]
        public var signature: [UInt8]
    }

    /// The signed text, ending in "\n".
    public var text: String
    public var signatures: [Signature]

    public init(text: String, signatures: [Signature] = []) {
        self.text = text
        self.signatures = signatures
    }

    /// The C2SP key id of an Ed25519 key: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
    public static func keyID(name: String, publicKey: Ed25519.PublicKey) -> [UInt8] {
        var input = Array(name.utf8)
        input.append(0x0A)
        input.append(0x01)
        input.append(contentsOf: publicKey.rawRepresentation)
        return Array(SHA256.hash(input).prefix(4))
    }

    /// Appends a signature by `key` under `name`.
    public mutating func sign(name: String, key: Ed25519.PrivateKey) throws {
        let sig = try key.signature(for: Array(text.utf8))
        signatures.append(Signature(name: name, keyID: Self.keyID(name: name, publicKey: try key.publicKey), signature: sig))
    }

    /// True when some signature line names `name`, carries the key id of `publicKey` and verifies.
    public func isSigned(name: String, by publicKey: Ed25519.PublicKey) -> Bool {
        let id = Self.keyID(name: name, publicKey: publicKey)
        let msg = Array(text.utf8)
        return signatures.contains { $0.name == name && $0.keyID == id && publicKey.isValidSignature($0.signature, for: msg) }
    }

    /// The wire form.
    public var serialized: String {
        var s = text + "\n"
        for sig in signatures {
            s += "\u{2014} \(sig.name) \(Data(sig.keyID + sig.signature).base64EncodedString())\n"
        }
        return s
    }

    /// Parses the wire form strictly: valid UTF-8 text without control characters other than
    /// newline, a non-empty text ending in a newline, one blank line, then one or more
    /// signature lines (at most 100), and nothing else.
    public init(parsing input: String) throws {
        func bad(_ why: String) -> TallyError { TallyError(.badInput, "malformed signed note: \(why)") }
        for u in input.unicodeScalars where u.value < 0x20 && u != "\n" { throw bad("control character U+\(String(u.value, radix: 16))") }
        guard let split = input.range(of: "\n\n", options: .backwards) else { throw bad("no blank line before the signatures") }
        let text = String(input[input.startIndex..<input.index(after: split.lowerBound)])
        let sigPart = input[split.upperBound...]
        guard sigPart.hasSuffix("\n") else { throw bad("the last signature line does not end in a newline") }
        var sigs: [Signature] = []
        for line in sigPart.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("\u{2014} ") else { throw bad("a signature line must start with an em dash and a space") }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, !fields[0].contains("+") else { throw bad("a signature line is '— <name> <base64>'") }
            guard let raw = Data(base64Encoded: String(fields[1])), raw.count >= 5, raw.base64EncodedString() == fields[1] else {
                throw bad("the signature is not canonical base64 of a key id and a signature")
            }
            let bytes = [UInt8](raw)
            sigs.append(Signature(name: String(fields[0]), keyID: Array(bytes[0..<4]), signature: Array(bytes[4...])))
        }
        guard !sigs.isEmpty, sigs.count <= 100 else { throw bad("a note needs 1 to 100 signatures") }
        guard !text.isEmpty, text != "\n" else { throw bad("empty text") }
        self.text = text
        self.signatures = sigs
    }
}

/// A verifier key in the C2SP vkey text form: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
public struct NoteVerifierKey: Sendable, Equatable {
    public var name: String
    public var publicKey: Ed25519.PublicKey

    public init(name: String, publicKey: Ed25519.PublicKey) {
        self.name = name
        self.publicKey = publicKey
    }

    public var keyID: [UInt8] { SignedNote.keyID(name: name, publicKey: publicKey) }

    public var text: String {
        "\(name)+\(Hex.encode(keyID))+\(Data([0x01] + publicKey.rawRepresentation).base64EncodedString())"
    }

    public init(parsing text: String) throws {
        let line = text.hasSuffix("\n") ? text.dropLast() : Substring(text)
        let parts = line.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        func bad(_ why: String) -> TallyError { TallyError(.badInput, "malformed verifier key: \(why)") }
        guard parts.count == 3, !parts[0].isEmpty, !line.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw bad("expected one line <name>+<hex key id>+<base64 key>")
        }
        guard let raw = Data(base64Encoded: String(parts[2])), raw.count == 33, raw.first == 0x01, raw.base64EncodedString() == parts[2] else {
            throw bad("the key must be base64 of 0x01 followed by a 32-byte Ed25519 public key")
        }
        let pk = try Ed25519.PublicKey(rawRepresentation: [UInt8](raw.dropFirst()))
        name = String(parts[0])
        publicKey = pk
        guard Hex.encode(keyID) == parts[1] else { throw bad("the key id does not match the name and key") }
    }
}
