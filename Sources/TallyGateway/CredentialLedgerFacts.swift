import Foundation
import TallyCore
import TallyLedger
#if canImport(Glibc)
import Glibc
#endif

/// What the ledger (append-only, hash-chained) says about credentials: each `credential.issued` (principal,
/// issue time, expiry, role) and each `credential.revoked`. The gateway reads these at start and learns the ones it
/// records itself afterwards (while it runs, it is the ledger's only writer), so a revocation survives a restart and
/// any edit of `credentials.json` (review finding 12).
struct CredentialLedgerFacts: Sendable {
    /// The facts of one `credential.issued` event.
    struct Issued: Sendable, Hashable {
        var principal: String?
        var issuedAt: String?
        var expiration: String?
        var role: String?
        /// The event says the registry entry carries a MAC (``RegistryMAC``): an entry without one was stripped.
        var registryMAC: Bool
    }

    private(set) var issued: [String: Issued] = [:]
    /// Access key id → revocation time (seconds; the earliest recorded).
    private(set) var revoked: [String: Int64] = [:]
    /// `credential.issued` events that disagree with an earlier one for the same key (never expected).
    private(set) var conflicting: Set<String> = []

    init() {}

    /// Reads every `credential.issued` / `credential.revoked` of the ledger of `home`. Throws when the ledger cannot be
    /// read (a damaged block): the gateway then cannot know every revocation and does not start.
    static func scan(home: String) throws -> CredentialLedgerFacts {
        var facts = CredentialLedgerFacts()
        let needle = Array("\"credential.".utf8)
        do {
            try LedgerReader(home: home).forEachRecord { _, _, event in
                // Cheap filter before parsing: call events are the bulk of a ledger.
                guard ByteSearch.contains(event, needle) else { return true }
                facts.learn(try JSONValue(parsing: event.bindMemory(to: UInt8.self)))
                return true
            }
        } catch {
            throw TallyError(.integrity, "cannot read the credential events of the ledger of \(home) (the gateway needs every "
                             + "credential.revoked before it accepts a key): \(error)")
        }
        return facts
    }

    /// Takes in one ledger event (anything but `credential.issued` / `credential.revoked` is ignored).
    mutating func learn(_ event: JSONValue) {
        guard let type = event["type"]?.stringValue, let id = event["accessKeyId"]?.stringValue else { return }
        switch type {
        case "credential.issued":
            let facts = Issued(principal: event["principal"]?.stringValue, issuedAt: event["issuedAt"]?.stringValue,
                               expiration: event["expiration"]?.stringValue, role: event["role"]?.stringValue,
                               registryMAC: event[IssuedCredential.registryMACField] != nil)
            if let earlier = issued[id] {
                if earlier != facts { conflicting.insert(id) }  // a repeated append (the flusher retried) is identical
            } else {
                issued[id] = facts
            }
        case "credential.revoked":
            // An unparsable time still revokes (at the epoch): a revocation is never ignored.
            let at = event["revokedAt"]?.stringValue.flatMap(parseRFC3339) ?? 0
            revoked[id] = min(at, revoked[id] ?? at)
        default:
            break
        }
    }

    /// Why `credential` (a registry entry whose issuance is recorded) disagrees with the ledger, or nil.
    func disagreement(with credential: IssuedCredential, legacy: Bool) -> String? {
        let id = credential.accessKeyId
        guard let facts = issued[id] else { return "no credential.issued for \(id) in the ledger" }
        if conflicting.contains(id) { return "the ledger holds conflicting credential.issued events for \(id)" }
        if legacy && facts.registryMAC { return "entry \(id) has no MAC, but its credential.issued says it was written with one" }
        var fields: [String] = []
        if facts.principal != credential.principal { fields.append("principal") }
        if facts.issuedAt != rfc3339(seconds: credential.issuedAt) { fields.append("issuedAt") }
        if facts.expiration != rfc3339(seconds: credential.expiresAt) { fields.append("expiration") }
        if facts.role != credential.role { fields.append("role") }
        return fields.isEmpty ? nil : "entry \(id) differs from its credential.issued in the ledger (\(fields.joined(separator: ", ")))"
    }
}

/// Seconds since 1970 of an RFC 3339 time as ``rfc3339(seconds:)`` writes it.
func parseRFC3339(_ text: String) -> Int64? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) }
}
