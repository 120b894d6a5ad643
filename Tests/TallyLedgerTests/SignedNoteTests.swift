import Foundation
import Testing
import TallyCore
@testable import TallyLedger

@Suite struct SignedNoteTests {
    // The golang.org/x/mod/sumdb/note reference vector (PeterNeumann).
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    let seedB64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    let sigLine = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    @Test func reproducesGoReferenceNote() throws {
        let key = try NoteVerifierKey(parsing: vkey)
        #expect(key.name == "PeterNeumann")
        #expect(Hex.encode(key.keyID) == "c74f20a3")
        #expect(key.text == vkey)
        let seed = Array([UInt8](Data(base64Encoded: seedB64)!).dropFirst())
        let sk = try Ed25519.PrivateKey(rawRepresentation: seed)
        #expect(try sk.publicKey == key.publicKey)
        var note = SignedNote(text: text)
        try note.sign(name: "PeterNeumann", key: sk)
        #expect(note.serialized == text + "\n" + sigLine)
        let parsed = try SignedNote(parsing: text + "\n" + sigLine)
        #expect(parsed.isSigned(name: "PeterNeumann", by: key.publicKey))
        #expect(!parsed.isSigned(name: "PeterNeumannX", by: key.publicKey))
        let tampered = try SignedNote(parsing: text.replacingOccurrences(of: "answer", with: "answet") + "\n" + sigLine)
        #expect(!tampered.isSigned(name: "PeterNeumann", by: key.publicKey))
    }

    @Test(arguments: [
        "no blank line\n\u{2014} a AAAAAAAAAAAAAAAA\n",
        "text\n\n",
        "text\n\n- a AAAAAAAA\n",
        "text\n\n\u{2014} a AAAAAAAA",
        "text\n\n\u{2014} a+b AAAAAAAA\n",
        "text\u{07}\n\n\u{2014} a AAAAAAAA\n",
        "text\n\n\u{2014} a not*base64\n",
    ])
    func rejectsMalformedNotes(_ s: String) {
        #expect(throws: TallyError.self) { _ = try SignedNote(parsing: s) }
    }

    @Test func checkpointTextRoundTrip() throws {
        let root = Digest.sha256(Array("x".utf8))
        let cp = Checkpoint(origin: "example.com/log", size: 42, root: root)
        #expect(cp.text == "example.com/log\n42\n\(Data(root.bytes).base64EncodedString())\n")
        #expect(try Checkpoint(text: cp.text) == cp)
        #expect(throws: TallyError.self) { _ = try Checkpoint(text: "o\n042\n\(Data(root.bytes).base64EncodedString())\n") }
        #expect(throws: TallyError.self) { _ = try Checkpoint(text: "o\n1\nAAAA\n") }
    }

    @Test func keyIDIsC2SPFormula() throws {
        let pk = try Ed25519.PublicKey(rawRepresentation: Hex.decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")!)
        var input = Array("example.com/log".utf8) + [0x0A, 0x01]
        input += pk.rawRepresentation
        #expect(SignedNote.keyID(name: "example.com/log", publicKey: pk) == Array(SHA256.hash(input).prefix(4)))
    }
}
