import Foundation
import Testing
@testable import TallyGateway
import TallyCore
import TallyLedger

/// Review finding 12: the secret of a credential issued now covers its upstream role, so whoever edits the
/// registry's `role` (to a more privileged one) invalidates the agent's secret instead of upgrading it.
@Suite struct CredentialDerivationTests {
    @Test func versionTwoSecretsCoverTheRole() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-deriv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let key = try MasterKey.loadOrCreate(paths: GatewayPaths(home: dir))
        var c = IssuedCredential(accessKeyId: "ASIATLYAAAAAAAAAAAAA", principal: "bot", expiresAt: 2_000_000_000,
                                 issuedAt: 1_900_000_000, role: "arn:aws:iam::123456789012:role/reader")
        let v1 = c.secret(masterKey: key)
        c.role = "arn:aws:iam::123456789012:role/admin"
        #expect(c.secret(masterKey: key) == v1)  // version 1 (registries written before): the role is not covered
        c.secretVersion = 2
        let admin = c.secret(masterKey: key)
        c.role = "arn:aws:iam::123456789012:role/reader"
        let reader = c.secret(masterKey: key)
        #expect(reader != admin && reader != v1 && reader.count == 40)
        c.role = nil
        #expect(c.secret(masterKey: key) != reader)
    }

    @Test func editingTheRoleInTheRegistryBreaksTheIssuedSecret() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tally-deriv-\(UUID().uuidString)").path + "/h"
        _ = try Ledger.initialize(home: home)
        let paths = GatewayPaths(home: home)
        let issued = try await CredentialIssuer(home: home).issue(principal: "bot", ttl: 3600,
                                                                  role: "arn:aws:iam::123456789012:role/reader")
        let id = issued.credential.accessKeyId
        #expect(try CredentialRegistry(paths: paths).load()[id]?.secretVersion == 2)
        guard case .success(let before) = try CredentialStore(paths: paths).lookup(id, now: Date()) else {
            Issue.record("valid key refused"); return
        }
        #expect(before.secret == issued.secretAccessKey)
        try CredentialRegistry(paths: paths).update { $0[id]?.role = "arn:aws:iam::123456789012:role/admin" }
        var edited = try #require(try CredentialRegistry(paths: paths).load()[id])
        #expect(edited.role == "arn:aws:iam::123456789012:role/admin")
        #expect(edited.secret(masterKey: try MasterKey.loadOrCreate(paths: paths)) != issued.secretAccessKey)  // the agent's signature no longer verifies
        // Even an edit made through the registry API (its MAC checks) no longer serves: the role disagrees with the
        // ledger's credential.issued, and the gateway refuses the registry (review finding 12, second half).
        guard case .failure(.registryUnreadable(let why)) = try CredentialStore(paths: paths).lookup(id, now: Date()) else {
            Issue.record("a registry whose role disagrees with the ledger must be refused"); return
        }
        #expect(why.contains("role") && why.contains(paths.registry))
        edited.role = "arn:aws:iam::123456789012:role/reader"
        try CredentialRegistry(paths: paths).update { $0[id] = edited }
        guard case .success = try CredentialStore(paths: paths).lookup(id, now: Date()) else { Issue.record("restored entry refused"); return }
    }
}
