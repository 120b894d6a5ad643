import Testing
import TallyCore

@Suite struct CryptoTests {
    @Test func sha256KnownAnswers() {
        #expect(Hex.encode(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var h = SHA256()
        h.update(Array("ab".utf8)); h.update(Array("c".utf8))
        #expect(Hex.encode(h.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// RFC 4231 test case 2.
    @Test func hmacKnownAnswer() {
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), message: "what do ya want for nothing?")
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// RFC 8032 section 7.1, TEST 1 (empty message).
    @Test func ed25519KnownAnswer() throws {
        let sk = try Ed25519.PrivateKey(rawRepresentation: Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!)
        let pk = try sk.publicKey
        #expect(Hex.encode(pk.rawRepresentation) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let sig = try sk.signature(for: [UInt8]())
        #expect(Hex.encode(sig) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(pk.isValidSignature(sig, for: [UInt8]()))
        var bad = sig; bad[0] ^= 1
        #expect(!pk.isValidSignature(bad, for: [UInt8]()))
    }

    @Test func lz4RoundTripAndCorruption() throws {
        let text = Array(String(repeating: "{\"eventName\":\"GetObject\",\"bucket\":\"b\"}\n", count: 200).utf8)
        let c = try LZ4.compress(text)
        #expect(c.count < text.count / 5)
        #expect(try LZ4.decompress(c, originalSize: text.count) == text)
        #expect(throws: TallyError.self) { try LZ4.decompress(Array(c.prefix(c.count / 2)), originalSize: text.count) }
    }

    @Test func hexRoundTrip() {
        #expect(Hex.decode("00ffAb") == [0, 255, 171])
        #expect(Hex.decode("0g") == nil)
        #expect(Hex.encode([0, 255, 171]) == "00ffab")
    }
}
