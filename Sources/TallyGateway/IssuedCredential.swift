public import Foundation
public import TallyCore

/// One credential issued to an agent: a session. The secret is not stored; it is re-derived.
public struct IssuedCredential: Sendable, Codable, Hashable {
    /// 20 uppercase characters, `ASIATLY` + 13 base32 characters (the Tally marker is `TLY`).
    public var accessKeyId: String
    /// Who the agent is (free text given at issuance).
    public var principal: String
    /// When it stops working, whole seconds since 1970.
    public var expiresAt: Int64
    /// When it was issued, whole seconds since 1970.
    public var issuedAt: Int64
    /// The upstream role to assume for this principal's calls, if any.
    public var role: String?
    /// Set when revoked, whole seconds since 1970.
    public var revokedAt: Int64?
    /// false while `credential.issued` waits to be appended by the running gateway (which holds the
    /// ledger lock); nil or true once it is in the ledger. The gateway refuses the key until then.
    public var issuanceRecorded: Bool?
    /// false while `credential.revoked` waits to be appended by the running gateway.
    public var revocationRecorded: Bool?
    /// How the secret is derived: nil or 1 = `tally-credential-v1` (id, expiry, principal); 2 =
    /// `tally-credential-v2`, which also covers `role`, so editing the registry's role invalidates the secret
    /// (review finding 12). `credentials issue` writes 2.
    public var secretVersion: Int?

    public init(accessKeyId: String, principal: String, expiresAt: Int64, issuedAt: Int64, role: String? = nil,
                revokedAt: Int64? = nil) {
        self.accessKeyId = accessKeyId
        self.principal = principal
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.role = role
        self.revokedAt = revokedAt
    }

    /// The `credential.issued` event (never the secret).
    public var issuedEvent: JSONValue {
        var event: [String: JSONValue] = [
            "type": "credential.issued", "session": .string(sessionId), "accessKeyId": .string(accessKeyId),
            "principal": .string(principal), "issuedAt": .string(rfc3339(seconds: issuedAt)),
            "expiration": .string(rfc3339(seconds: expiresAt)),
        ]
        if let role { event["role"] = .string(role) }
        // This version writes every registry entry with a MAC: a later entry without one was stripped (finding 12).
        event[Self.registryMACField] = "hmac-sha256-v1"
        return .object(event)
    }

    /// The `credential.issued` field saying the registry entry is authenticated (``RegistryMAC``).
    static let registryMACField = "registryMAC"

    /// The `credential.revoked` event (nil when not revoked).
    public var revokedEvent: JSONValue? {
        revokedAt.map { Self.revokedEvent(accessKeyId: accessKeyId, principal: principal, at: $0) }
    }

    /// The `credential.revoked` event of a key (its session is its access key id), also for a key known only from the
    /// ledger's `credential.issued`.
    static func revokedEvent(accessKeyId: String, principal: String, at: Int64) -> JSONValue {
        .object([
            "type": "credential.revoked", "session": .string(accessKeyId), "accessKeyId": .string(accessKeyId),
            "principal": .string(principal), "revokedAt": .string(rfc3339(seconds: at)),
        ])
    }

    /// The session id is the access key id: one credential, one session.
    public var sessionId: String { accessKeyId }

    public var expiration: Date { Date(timeIntervalSince1970: TimeInterval(expiresAt)) }

    /// The secret access key: base64(HMAC-SHA256(master, "tally-credential-v1" 0 akid 0 expiry 0 principal)), 40 chars;
    /// version 2: base64(HMAC-SHA256(master, "tally-credential-v2" 0 akid 0 expiry 0 principal 0 (role or "-"))).
    public func secret(masterKey: MasterKey) -> String {
        let v2 = secretVersion == 2
        var message = Array((v2 ? "tally-credential-v2" : "tally-credential-v1").utf8)
        message.append(0)
        message += Array(accessKeyId.utf8)
        message.append(0)
        message += Array(String(expiresAt).utf8)
        message.append(0)
        message += Array(principal.utf8)
        if v2 {
            // "-" for no role: a role is an ARN, never "-"; NUL cannot occur in either.
            message.append(0)
            message += Array((role ?? "-").utf8)
        }
        let mac = HMACSHA256.mac(key: masterKey.bytes, message: message)
        return String(Data(mac).base64EncodedString().prefix(40))
    }

    /// Why this credential cannot be used at `now`, or nil when it is valid.
    public func rejection(at now: Date) -> CredentialRejection? {
        if let revokedAt { return .revoked(at: revokedAt) }
        if Int64(now.timeIntervalSince1970) >= expiresAt { return .expired(at: expiresAt) }
        return nil
    }

    /// A fresh access key id: `ASIATLY` + 13 characters of RFC 4648 base32 from 65 random bits.
    public static func newAccessKeyId() throws -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let random = try secureRandomBytes(9)
        var bits: UInt128 = 0
        for byte in random { bits = (bits << 8) | UInt128(byte) }
        var out = "ASIATLY"
        for i in 0..<13 { out.append(alphabet[Int((bits >> UInt128(i * 5)) & 31)]) }
        return out
    }

    /// True when `id` looks like a Tally-issued access key id.
    public static func isTallyAccessKeyId(_ id: String) -> Bool {
        id.utf8.count == 20 && id.hasPrefix("ASIATLY")
    }

    /// Marks the revocation recorded in the ledger, if it is marked pending and is still the one revoked at `at` (the
    /// time of the `credential.revoked` just appended): a revocation that changed meanwhile stays pending.
    mutating func markRevocationRecorded(at: Int64) {
        if revocationRecorded == false && revokedAt == at { revocationRecorded = true }
    }
}

/// Why a presented access key is refused.
public enum CredentialRejection: Error, Sendable, Hashable, CustomStringConvertible {
    case unknown
    case expired(at: Int64)
    case revoked(at: Int64)
    /// The registry changed but could not be read: every key is refused until it can (fail closed).
    case registryUnreadable(String)

    public var description: String {
        switch self {
        case .unknown: return "unknown access key"
        case .expired(let at): return "credential expired at \(rfc3339(seconds: at))"
        case .revoked(let at): return "credential revoked at \(rfc3339(seconds: at))"
        case .registryUnreadable(let why): return "the credential registry cannot be read (all keys refused): \(why)"
        }
    }
}

/// RFC 3339 UTC time with second precision, e.g. 2026-11-26T16:00:00Z.
public func rfc3339(seconds: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
}
