import Foundation
import TallyCore

/// Authenticates credential registry entries (review finding 12): each entry of `credentials.json` carries
/// `HMAC-SHA256(K, entry)`, where `K = HMAC-SHA256(master key, "tally-derived-key-v1" 0 "credential-registry-mac")`
/// is a key of its own (domain-separated from the credential secrets and the metrics token), and `entry` is every
/// field of the entry, each length-prefixed, after the tag "tally-registry-entry-v1". Whoever edits an entry
/// without the master key (role, expiry, `revokedAt`, the recorded flags) makes its MAC fail, and the gateway
/// refuses the whole registry.
struct RegistryMAC: Sendable {
    private let key: [UInt8]

    init(masterKey: MasterKey) {
        key = masterKey.derivedKey(purpose: "credential-registry-mac")
    }

    /// Loads (or creates) the master key of `paths` and derives the registry key from it.
    init(paths: GatewayPaths) throws {
        self.init(masterKey: try MasterKey.loadOrCreate(paths: paths))
    }

    /// The entry's MAC, 64 hex characters.
    func mac(_ c: IssuedCredential) -> String {
        var m: [UInt8] = []
        func field(_ s: String?) {
            guard let s else { m += [0xFF, 0xFF, 0xFF, 0xFF]; return }  // absent ≠ empty
            let bytes = Array(s.utf8)
            let n = UInt32(bytes.count)
            m += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            m += bytes
        }
        field("tally-registry-entry-v1")
        field(c.accessKeyId)
        field(c.principal)
        field(String(c.issuedAt))
        field(String(c.expiresAt))
        field(c.role)
        field(c.revokedAt.map { String($0) })
        field(c.issuanceRecorded.map { $0 ? "1" : "0" })
        field(c.revocationRecorded.map { $0 ? "1" : "0" })
        field(c.secretVersion.map { String($0) })
        return Hex.encode(HMACSHA256.mac(key: key, message: m))
    }

    /// True when `mac` is the entry's MAC (constant time).
    func check(_ c: IssuedCredential, mac: String) -> Bool {
        constantTimeEquals(Array(self.mac(c).utf8), Array(mac.lowercased().utf8))
    }
}

extension MasterKey {
    /// A key of its own for `purpose`: HMAC-SHA256(master, "tally-derived-key-v1" 0 purpose). Credential secrets
    /// (tag "tally-credential-v1/v2") and the metrics token (tag "tally-metrics-token-v1") use other tags.
    func derivedKey(purpose: String) -> [UInt8] {
        var message = Array("tally-derived-key-v1".utf8)
        message.append(0)
        message += Array(purpose.utf8)
        return HMACSHA256.mac(key: bytes, message: message)
    }
}
