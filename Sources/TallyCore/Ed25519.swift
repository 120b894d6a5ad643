internal import COpenSSL

/// Ed25519 keys and signatures through libcrypto's EVP_PKEY interface.
public enum Ed25519 {
    /// A private key; its 32 raw seed bytes can be exported to be stored (and later erased).
    public struct PrivateKey: Sendable {
        public let rawRepresentation: [UInt8]
        public init() throws { rawRepresentation = try secureRandomBytes(32) }
        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == 32 else {
                throw TallyError(.crypto, "an Ed25519 private key is 32 bytes, got \(rawRepresentation.count)")
            }
            self.rawRepresentation = rawRepresentation
        }

        public var publicKey: PublicKey {
            get throws {
                let pkey = try loadPrivate()
                defer { EVP_PKEY_free(pkey) }
                var len = 32
                var out = [UInt8](repeating: 0, count: 32)
                guard EVP_PKEY_get_raw_public_key(pkey, &out, &len) == 1 else {
                    throw TallyError(.crypto, "EVP_PKEY_get_raw_public_key failed")
                }
                return try PublicKey(rawRepresentation: out)
            }
        }

        /// Signs `message` (pure Ed25519, no prehash). Returns 64 bytes.
        public func signature<M: ContiguousBytes>(for message: M) throws -> [UInt8] {
            let pkey = try loadPrivate()
            defer { EVP_PKEY_free(pkey) }
            guard let ctx = EVP_MD_CTX_new() else { throw TallyError(.crypto, "EVP_MD_CTX_new failed") }
            defer { EVP_MD_CTX_free(ctx) }
            guard EVP_DigestSignInit(ctx, nil, nil, nil, pkey) == 1 else {
                throw TallyError(.crypto, "EVP_DigestSignInit(ed25519) failed")
            }
            var sig = [UInt8](repeating: 0, count: 64)
            var sigLen = 64
            let rc = message.withUnsafeBytes { m in
                EVP_DigestSign(ctx, &sig, &sigLen, m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count)
            }
            guard rc == 1, sigLen == 64 else { throw TallyError(.crypto, "EVP_DigestSign(ed25519) failed") }
            return sig
        }

        private func loadPrivate() throws -> OpaquePointer {
            guard let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, rawRepresentation, 32) else {
                throw TallyError(.crypto, "invalid Ed25519 private key")
            }
            return pkey
        }
    }

    /// A public key (32 raw bytes).
    public struct PublicKey: Sendable, Hashable {
        public let rawRepresentation: [UInt8]
        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == 32 else {
                throw TallyError(.crypto, "an Ed25519 public key is 32 bytes, got \(rawRepresentation.count)")
            }
            self.rawRepresentation = rawRepresentation
        }

        /// True when `signature` is a valid Ed25519 signature of `message` under this key.
        public func isValidSignature<S: ContiguousBytes, M: ContiguousBytes>(_ signature: S, for message: M) -> Bool {
            guard let pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, rawRepresentation, 32) else { return false }
            defer { EVP_PKEY_free(pkey) }
            guard let ctx = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(ctx) }
            guard EVP_DigestVerifyInit(ctx, nil, nil, nil, pkey) == 1 else { return false }
            return signature.withUnsafeBytes { s in
                message.withUnsafeBytes { m in
                    EVP_DigestVerify(ctx, s.baseAddress?.assumingMemoryBound(to: UInt8.self), s.count,
                                     m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count) == 1
                }
            }
        }
    }
}
