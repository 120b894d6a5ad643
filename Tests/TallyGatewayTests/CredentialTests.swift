import Foundation
import Testing
@testable import TallyGateway
import TallyCore
import TallyLedger

/// A fresh home with one issued key and a store that has served it once (also used by RegistryWatchTests).
func homeWithServedKey() async throws -> (paths: GatewayPaths, issuer: CredentialIssuer, id: String, store: CredentialStore) {
    let home = try temporaryHome() + "/h"
    _ = try Ledger.initialize(home: home)
    let paths = GatewayPaths(home: home)
    let issuer = CredentialIssuer(home: home)
    let id = try await issuer.issue(principal: "bot", ttl: 3600, role: nil).credential.accessKeyId
    let store = try CredentialStore(paths: paths)
    guard case .success = store.lookup(id, now: Date()) else { throw TallyError(.integrity, "valid key refused") }
    return (paths, issuer, id, store)
}

/// A new empty folder under the temporary directory (also used by RegistryWatchTests).
func temporaryHome() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-gw-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct CredentialTests {
    @Test func accessKeyIdsAreTwentyUppercaseBase32WithTheTallyMarker() throws {
        var seen = Set<String>()
        for _ in 0..<200 {
            let id = try IssuedCredential.newAccessKeyId()
            #expect(id.count == 20)
            #expect(id.hasPrefix("ASIATLY"))
            #expect(id.allSatisfy { ("A"..."Z").contains($0) || ("2"..."7").contains($0) })
            #expect(IssuedCredential.isTallyAccessKeyId(id))
            seen.insert(id)
        }
        #expect(seen.count == 200)
    }

    @Test func secretIsDerivedFromKeyIdExpiryAndPrincipal() throws {
        let home = try temporaryHome()
        let key = try MasterKey.loadOrCreate(paths: GatewayPaths(home: home))
        let c = IssuedCredential(accessKeyId: "ASIATLYAAAAAAAAAAAAA", principal: "bot", expiresAt: 2_000_000_000, issuedAt: 1_900_000_000)
        let secret = c.secret(masterKey: key)
        #expect(secret.count == 40)
        #expect(secret == c.secret(masterKey: try MasterKey.loadOrCreate(paths: GatewayPaths(home: home))))
        var later = c
        later.expiresAt += 1
        #expect(later.secret(masterKey: key) != secret)
        var other = c
        other.principal = "bot2"
        #expect(other.secret(masterKey: key) != secret)
        let otherHome = try temporaryHome()
        #expect(c.secret(masterKey: try MasterKey.loadOrCreate(paths: GatewayPaths(home: otherHome))) != secret)
    }

    @Test func masterKeyIsPrivateAndRefusedWhenOthersCanReadIt() throws {
        let home = try temporaryHome()
        let paths = GatewayPaths(home: home)
        _ = try MasterKey.loadOrCreate(paths: paths)
        let attributes = try FileManager.default.attributesOfItem(atPath: paths.masterKey)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: paths.masterKey)
        #expect(throws: TallyError.self) { try MasterKey.loadOrCreate(paths: paths) }
    }

    /// `--role` takes only ARNs IAM could have made: a known partition, 12 digits, a printable-ASCII path and a name of
    /// IAM's characters (a bad one failed only at the agent's first call, as a 503).
    @Test func roleARNsFollowIAMRules() {
        for good in ["arn:aws:iam::123456789012:role/agent", "arn:aws-us-gov:iam::123456789012:role/a/b/c_d+e=f,g.h@i-j",
                     "arn:aws-cn:iam::123456789012:role/service-role/" + String(repeating: "n", count: 64)] {
            #expect(CredentialIssuer.isRoleARN(good), "\(good)")
        }
        for bad in ["arn:awsfoo:iam::123456789012:role/agent", "arn:aws:iam::12345678901:role/agent",
                    "arn:aws:iam::123456789012:role/", "arn:aws:iam::123456789012:role/a/", "arn:aws:iam::123456789012:role/bad!name",
                    "arn:aws:iam::123456789012:role/a b", "arn:aws:iam::123456789012:user/agent", "arn:aws:sts::123456789012:role/x",
                    "arn:aws:iam::123456789012:role/p\u{7F}/n", "arn:aws:iam::123456789012:role/" + String(repeating: "n", count: 65)] {
            #expect(!CredentialIssuer.isRoleARN(bad), "\(bad)")
        }
    }

    @Test func missingHomeIsReported() {
        #expect(throws: TallyError.self) { try MasterKey.loadOrCreate(paths: GatewayPaths(home: "/nonexistent/tally-home")) }
    }

    @Test func expiryAndRevocationAreRejections() {
        var c = IssuedCredential(accessKeyId: "ASIATLYAAAAAAAAAAAAA", principal: "p", expiresAt: 1000, issuedAt: 900)
        #expect(c.rejection(at: Date(timeIntervalSince1970: 999)) == nil)
        #expect(c.rejection(at: Date(timeIntervalSince1970: 1000)) == .expired(at: 1000))
        c.revokedAt = 950
        #expect(c.rejection(at: Date(timeIntervalSince1970: 960)) == .revoked(at: 950))
    }

    @Test func registryRoundTripsAndStoreSeesUpdatesAndRevocations() throws {
        let home = try temporaryHome()
        let paths = GatewayPaths(home: home)
        let registry = CredentialRegistry(paths: paths)
        let now = Date()
        let c = IssuedCredential(accessKeyId: try IssuedCredential.newAccessKeyId(), principal: "agent",
                                 expiresAt: Int64(now.timeIntervalSince1970) + 3600, issuedAt: Int64(now.timeIntervalSince1970))
        var ledger = CredentialLedgerFacts()
        ledger.learn(c.issuedEvent)  // what the ledger would say (the registry entry must agree with it)
        let store = try CredentialStore(paths: paths, ledger: ledger)
        #expect(throws: CredentialRejection.unknown) { try store.lookup(c.accessKeyId, now: now).get() }
        try registry.update { $0[c.accessKeyId] = c }
        #expect(try registry.load()[c.accessKeyId] == c)
        let found = try store.lookup(c.accessKeyId, now: now).get()
        #expect(found.credential == c)
        #expect(found.secret == c.secret(masterKey: try MasterKey.loadOrCreate(paths: paths)))
        try registry.update { $0[c.accessKeyId]?.revokedAt = Int64(now.timeIntervalSince1970) }
        // The store re-reads the registry when it changes (a revocation is seen by the next lookup).
        let later = now.addingTimeInterval(2)
        #expect(throws: CredentialRejection.revoked(at: Int64(now.timeIntervalSince1970))) { try store.lookup(c.accessKeyId, now: later).get() }
        let text = try String(contentsOfFile: paths.registry, encoding: .utf8)
        #expect(!text.contains(found.secret))
    }
}

/// `credentials issue` while another writer holds the ledger: recognised by the error code
/// (``TallyError/Code/ledgerLocked``), not by the message text; any other ledger error still fails the issue.
@Suite struct CredentialIssuerLockTests {
    @Test func aLockedLedgerLeavesTheIssuancePendingOtherErrorsThrow() async throws {
        let home = try temporaryHome() + "/h"
        _ = try Ledger.initialize(home: home)
        let holder = try await Ledger.open(home: home)  // holds the writer lock, like a running gateway
        let pending = try await CredentialIssuer(home: home).issue(principal: "bot", ttl: 3600, role: nil)
        let entry = try CredentialRegistry(paths: GatewayPaths(home: home)).load()[pending.credential.accessKeyId]
        #expect(entry?.issuanceRecorded == false)
        try await holder.close()
        let recorded = try await CredentialIssuer(home: home).issue(principal: "bot", ttl: 3600, role: nil)
        #expect(try CredentialRegistry(paths: GatewayPaths(home: home)).load()[recorded.credential.accessKeyId]?.issuanceRecorded != false)
        // no ledger at all: not "locked", so the issue fails instead of leaving an unrecordable credential
        let empty = try temporaryHome()
        await #expect(throws: TallyError.self) { _ = try await CredentialIssuer(home: empty).issue(principal: "bot", ttl: 3600, role: nil) }
        #expect(TallyError(.ledgerLocked, "any wording").code == .ledgerLocked)
    }
}

/// Review finding 10: when the registry changes but cannot be read, the stale cache must not keep serving (a
/// revocation written just before would be missed): every key is refused until the registry reads again.
@Suite struct CredentialStoreFailClosedTests {
    @Test func anUnreadableRegistryRefusesEveryKeyUntilItReadsAgain() async throws {
        let home = try temporaryHome() + "/h"
        _ = try Ledger.initialize(home: home)
        let paths = GatewayPaths(home: home)
        let issued = try await CredentialIssuer(home: home).issue(principal: "bot", ttl: 3600, role: nil)
        let id = issued.credential.accessKeyId
        let store = try CredentialStore(paths: paths)
        guard case .success(let ok) = store.lookup(id, now: Date()) else { Issue.record("valid key refused"); return }
        #expect(ok.secret == issued.secretAccessKey)
        let good = try #require(FileManager.default.contents(atPath: paths.registry))
        try Data("{ not json, and longer than before: \(String(repeating: "x", count: 64))".utf8)
            .write(to: URL(fileURLWithPath: paths.registry))
        guard case .failure(.registryUnreadable) = store.lookup(id, now: Date()) else {
            Issue.record("a changed, unreadable registry must refuse every key"); return
        }
        guard case .failure(.registryUnreadable) = store.lookup(id, now: Date()) else { Issue.record("still refused"); return }
        try good.write(to: URL(fileURLWithPath: paths.registry))
        guard case .success = store.lookup(id, now: Date()) else { Issue.record("a readable registry serves again"); return }
    }
}

/// Review finding 12, second half: a revocation the gateway has seen stays in force when the registry later
/// loses it (`revokedAt` deleted by hand).
@Suite struct RevocationIsMonotonicTests {
    @Test func aDeletedRevocationIsStillEnforced() async throws {
        let (paths, issuer, id, store) = try await homeWithServedKey()
        _ = try await issuer.revoke(accessKeyId: id)
        guard case .failure(.revoked(let at)) = store.lookup(id, now: Date()) else { Issue.record("revoked key served"); return }
        try CredentialRegistry(paths: paths).update { $0[id]?.revokedAt = nil }
        #expect(try CredentialRegistry(paths: paths).load()[id]?.revokedAt == nil)
        guard case .failure(.revoked(let still)) = store.lookup(id, now: Date()) else {
            Issue.record("a revocation removed from the registry must stay in force"); return
        }
        #expect(still == at)
    }
}
