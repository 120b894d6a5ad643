public import Foundation
import TallyCore
import TallyLedger

/// Issues and revokes agent credentials: writes the registry, records `credential.issued` /
/// `credential.revoked` in the ledger (never the secret).
public struct CredentialIssuer: Sendable {
    public let paths: GatewayPaths

    public init(home: String) { paths = GatewayPaths(home: home) }

    /// What `issue` hands out: the credential's public facts and its secret.
    public struct Issued: Sendable {
        public var credential: IssuedCredential
        public var secretAccessKey: String
    }

    /// Issues a credential for `principal`, valid for `ttl` seconds, optionally bound to an upstream role.
    public func issue(principal: String, ttl: TimeInterval, role: String?, now: Date = Date()) async throws -> Issued {
        // Printed by `credentials list`, `sessions list` and `replay`: no control characters (a terminal escape sequence
        // in a name would reach whoever reads those), and something besides spaces.
        guard !principal.isEmpty, principal.utf8.count <= 256,
              !principal.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }),
              principal.contains(where: { !$0.isWhitespace }) else {
            throw TallyError(.badInput, "--principal '\(principal.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined())' "
                             + "must be 1–256 bytes of UTF-8, not only spaces, without control characters (newlines, escapes)")
        }
        guard ttl >= 60, ttl <= 366 * 86400 else { throw TallyError(.badInput, "--ttl must be between 1m and 366d") }
        if let role, !Self.isRoleARN(role) {
            throw TallyError(.badInput, "--role \(role): expected an IAM role ARN like arn:aws:iam::123456789012:role/NAME")
        }
        guard FileManager.default.fileExists(atPath: (paths.home as NSString).appendingPathComponent("ledger.pub")) else {
            throw TallyError(.notFound, "\(paths.home) is not a Tally home (no ledger.pub; run `tally init --home \(paths.home)`)")
        }
        let key = try MasterKey.loadOrCreate(paths: paths)
        // The registry must be readable and intact before anything is recorded: a refused issue left a
        // credential.issued in the ledger for a key that never existed (review, session 9).
        _ = try CredentialRegistry(paths: paths).loadAuthenticated(mac: RegistryMAC(masterKey: key))
        let issuedAt = Int64(now.timeIntervalSince1970)
        var credential = IssuedCredential(accessKeyId: try IssuedCredential.newAccessKeyId(), principal: principal,
                                          expiresAt: issuedAt + Int64(ttl.rounded()), issuedAt: issuedAt, role: role)
        credential.secretVersion = 2  // the secret covers the role too (review finding 12)
        // The ledger first: a credential that is not on the record is never usable. When a running gateway
        // holds the ledger lock, the entry is marked pending and the gateway appends credential.issued
        // (before it accepts the key).
        var entry = credential
        if try await !appendToLedger(credential.issuedEvent) { entry.issuanceRecorded = false }
        try CredentialRegistry(paths: paths).update { $0[credential.accessKeyId] = entry }
        return Issued(credential: credential, secretAccessKey: credential.secret(masterKey: key))
    }

    /// `arn:<aws partition>:iam::<12-digit account>:role/<path/>name`.
    static func isRoleARN(_ s: String) -> Bool {
        let parts = s.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", partitions.contains(String(parts[1])), parts[2] == "iam", parts[3].isEmpty,
              parts[4].utf8.count == 12, parts[4].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              parts[5].hasPrefix("role/") else { return false }
        // IAM's rules (CreateRole): a path of printable ASCII between slashes, then a name of 1–64 of [A-Za-z0-9+=,.@_-]
        // (`arn:awsfoo:…` or a name with '!' only failed at the first call, as a 503; session 11 probe).
        let resource = parts[5].dropFirst("role/".count)
        let slash = resource.lastIndex(of: "/")
        let path = slash.map { resource[...$0] } ?? "", name = slash.map { resource[resource.index(after: $0)...] } ?? resource
        guard path.utf8.count <= 511, path.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }), (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ b in
                  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "+=,.@_-".utf8.contains(b)
              }) else { return false }
        return true
    }

    /// AWS partitions (the second field of an ARN).
    static let partitions: Set<String> = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"]

    /// Revokes a credential (idempotent: revoking twice keeps the first time).
    public func revoke(accessKeyId: String, now: Date = Date()) async throws -> IssuedCredential {
        let registry = CredentialRegistry(paths: paths)
        let entries: [String: IssuedCredential]
        do { entries = try registry.load() } catch let error as TallyError where error.code == .integrity || error.code == .io {
            // A registry that cannot be read (truncated, not JSON, an unknown format) cannot be rewritten, but the
            // revocation must not be lost with it: the ledger's credential.issued names the key, and a recorded
            // credential.revoked holds at every later gateway start whatever the registry then says (session 11 probe:
            // a truncated file made revoke record nothing, and restoring a backup brought the key back).
            throw try await revokeFromLedger(accessKeyId: accessKeyId, now: now, registryError: error)
        }
        guard var credential = entries[accessKeyId] else {
            throw TallyError(.notFound, "no credential \(accessKeyId) in \(paths.registry)")
        }
        if credential.revokedAt == nil {
            let at = Int64(now.timeIntervalSince1970)
            credential.revokedAt = at
            // The registry first, so the refusal takes effect at once, marked not yet recorded in the same write: if
            // this process dies before the ledger has the revocation, the gateway (or its next start) records it from
            // the mark (written apart, a kill between the two writes left a revocation the ledger never got).
            do {
                try registry.update { all in
                    all[accessKeyId]?.revokedAt = at
                    all[accessKeyId]?.revocationRecorded = false
                }
                credential.revocationRecorded = false
            } catch let error as TallyError where error.code == .integrity {
                // A registry that fails its MACs is refused by the gateway as a whole; the revocation still goes into
                // the ledger (when no gateway holds it), which every later gateway start reads (review finding 12) —
                // with the facts of the key's credential.issued in the ledger, never the failing entry's (an edited
                // principal, or a key that was never issued, went into the ledger as written; session 12 probe).
                throw try await revokeFromLedger(accessKeyId: accessKeyId, now: now, registryError: error)
            }
        }
        // Into the ledger: this revocation, or one an interrupted earlier revoke left marked not yet recorded. When a
        // running gateway holds the ledger, it records it from the mark.
        guard credential.revocationRecorded == false, let at = credential.revokedAt, let event = credential.revokedEvent,
              try await appendToLedger(event) else { return credential }
        try registry.update { all in all[accessKeyId]?.markRevocationRecorded(at: at) }
        credential.revocationRecorded = true
        return credential
    }

    /// The error to report when the registry cannot be read: records `credential.revoked` for `accessKeyId` from its
    /// `credential.issued` in the ledger first (when no gateway holds the ledger), and says whether it did.
    private func revokeFromLedger(accessKeyId: String, now: Date, registryError: TallyError) async throws -> TallyError {
        let facts = try CredentialLedgerFacts.scan(home: paths.home)
        guard let issued = facts.issued[accessKeyId], let principal = issued.principal else {
            return TallyError(registryError.code, "\(registryError.reason) — and the ledger holds no credential.issued for "
                              + "\(accessKeyId), so nothing was revoked (a key issued while a gateway ran gets its "
                              + "credential.issued when that gateway next records; restore the registry and revoke again)")
        }
        if let at = facts.revoked[accessKeyId] {
            return TallyError(registryError.code, "\(registryError.reason) — \(accessKeyId) was already revoked in the ledger at "
                              + "\(rfc3339(seconds: at)); the revocation holds once the registry is restored")
        }
        let event = IssuedCredential.revokedEvent(accessKeyId: accessKeyId, principal: principal, at: Int64(now.timeIntervalSince1970))
        let recorded = try await appendToLedger(event)
        return TallyError(registryError.code, "\(registryError.reason) — "
                          + (recorded ? "credential.revoked for \(accessKeyId) was recorded in the ledger, so the revocation holds "
                             + "once the registry is restored"
                             : "the revocation could not be recorded (a running gateway holds the ledger; it refuses every key "
                             + "while the registry cannot be read); restore the registry and revoke again"))
    }

    /// Every credential, oldest first, from a registry whose MACs check (an entry changed outside tally, e.g. a revoked
    /// key made active again or an expiry moved, throws `.integrity` instead of being listed as valid: review, session 9).
    public func list() throws -> [IssuedCredential] {
        // A path that is not a Tally home (a file, a folder without a ledger) is an error, not an empty list.
        try Ledger.checkHome(paths.home)
        guard FileManager.default.fileExists(atPath: paths.registry) else { return [] }
        guard let key = try MasterKey.load(path: paths.masterKey) else {
            throw TallyError(.badInput, "\(paths.masterKey) is missing, so the entries of \(paths.registry) cannot be checked; restore it from a backup")
        }
        var entries = try CredentialRegistry(paths: paths).loadAuthenticated(mac: RegistryMAC(masterKey: key)).entries
        // A revocation in the ledger holds whatever the registry says (a backup restored over a revocation recorded
        // while the registry was refused read "active"; session 12 probe).
        for (accessKeyId, at) in try CredentialLedgerFacts.scan(home: paths.home).revoked where entries[accessKeyId]?.revokedAt == nil {
            entries[accessKeyId]?.revokedAt = at
        }
        return entries.values.sorted { ($0.issuedAt, $0.accessKeyId) < ($1.issuedAt, $1.accessKeyId) }
    }

    /// Appends `event` durably; false when another process (the running gateway) holds the ledger lock.
    private func appendToLedger(_ event: JSONValue) async throws -> Bool {
        var options = try LedgerOptions.forHome(paths.home)
        options.lockTimeout = 0.5
        let ledger: Ledger
        do {
            ledger = try await Ledger.open(home: paths.home, options: options)
        } catch let error as TallyError where error.code == .ledgerLocked {
            return false
        }
        do {
            _ = try await ledger.append(event)
        } catch {
            try? await ledger.close()
            throw error
        }
        try await ledger.close()
        return true
    }
}
