internal import COpenSSL
internal import CTallyShim

/// HMAC-SHA256 (SigV4 key derivation and signing, credential secret derivation).
public enum HMACSHA256 {
    /// HMAC-SHA256(key, message) → 32 bytes.
    public static func mac<K: ContiguousBytes, M: ContiguousBytes>(key: K, message: M) -> [UInt8] {
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                [UInt8](unsafeUninitializedCapacity: 32) { out, n in
                    tally_hmac_sha256(k.baseAddress, k.count, m.baseAddress, m.count, out.baseAddress!)
                    n = 32
                }
            }
        }
    }

    public static func mac<K: ContiguousBytes>(key: K, message: String) -> [UInt8] {
        mac(key: key, message: Array(message.utf8))
    }
}

/// Constant-time comparison for secrets and signatures.
public func constantTimeEquals<A: ContiguousBytes, B: ContiguousBytes>(_ a: A, _ b: B) -> Bool {
    a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in
            guard x.count == y.count else { return false }
            var diff: UInt8 = 0
            for i in 0..<x.count { diff |= x[i] ^ y[i] }
            return diff == 0
        }
    }
}

/// Cryptographically secure random bytes from libcrypto.
public func secureRandomBytes(_ count: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    let rc = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
    guard rc == 1 else { throw TallyError(.crypto, "RAND_bytes failed") }
    return out
}
