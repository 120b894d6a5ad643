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
        guard case .success(let after) = try CredentialStore(paths: paths).lookup(id, now: Date()) else {
            Issue.record("lookup failed"); return
        }
        #expect(after.credential.role == "arn:aws:iam::123456789012:role/admin")
        #expect(after.secret != issued.secretAccessKey)  // the agent's signature no longer verifies
    }
}
