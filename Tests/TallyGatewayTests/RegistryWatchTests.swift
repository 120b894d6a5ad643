import Foundation
import Testing
@testable import TallyGateway
import TallyCore
import TallyLedger

/// The registry's folder watch: a lookup skips the registry's stat only while the watch reports nothing, and sees
/// every change made before it (issuance, revocation, a rewritten or replaced folder) as a stat per lookup did.
@Suite struct RegistryWatchTests {
    @Test func reportsEveryChangeOnceAndEndsWhenTheFolderMoves() throws {
        let dir = try temporaryHome()
        let watch = try #require(RegistryWatch(folder: dir))
        #expect(!watch.changed())
        try Data("a".utf8).write(to: URL(fileURLWithPath: dir + "/credentials.json"))
        #expect(watch.changed())
        #expect(!watch.changed())
        try Data("b".utf8).write(to: URL(fileURLWithPath: dir + "/credentials.json.tmp"))
        #expect(rename(dir + "/credentials.json.tmp", dir + "/credentials.json") == 0)
        #expect(watch.changed())
        #expect(!watch.changed())
        #expect(chmod(dir + "/credentials.json", 0o600) == 0)
        #expect(watch.changed())
        try FileManager.default.moveItem(atPath: dir, toPath: dir + ".moved")
        #expect(watch.changed() && !watch.isWatching)
        #expect(watch.changed())  // ended: always "stat it"
        #expect(RegistryWatch(folder: dir) == nil)  // no folder: no watch
    }

    @Test func lookupsStatOnlyAfterAChangeOrOnceASecond() async throws {
        let home = try temporaryHome() + "/h"
        _ = try Ledger.initialize(home: home)
        let holder = try await Ledger.open(home: home)  // held, as by a running gateway: issuances stay pending
        let paths = GatewayPaths(home: home)
        let issuer = CredentialIssuer(home: home)
        let a = try await issuer.issue(principal: "a", ttl: 3600, role: nil).credential.accessKeyId
        let store = try CredentialStore(paths: paths)
        let start = store.registryChecks
        #expect(start.watching && start.stats == 1)  // the first load
        let now = Date()
        for _ in 0..<50 { guard case .success = store.lookup(a, now: now) else { Issue.record("valid key refused"); return } }
        #expect(store.registryChecks.stats == 1)
        // A key issued after the store started is found by the very next lookup.
        let b = try await issuer.issue(principal: "b", ttl: 3600, role: nil).credential.accessKeyId
        guard case .success = store.lookup(b, now: now) else { Issue.record("a new key must be found at once"); return }
        let afterIssue = store.registryChecks.stats
        #expect(afterIssue == 2)
        // A revocation too, and it is enforced on every later lookup.
        _ = try await issuer.revoke(accessKeyId: a)
        guard case .failure(.revoked) = store.lookup(a, now: now) else { Issue.record("revoked key served"); return }
        guard case .failure(.revoked) = store.lookup(a, now: now) else { Issue.record("revoked key served"); return }
        let afterRevoke = store.registryChecks.stats
        #expect(afterRevoke == afterIssue + 1)
        // Nothing changed, but the last check is a second old: stat once more.
        _ = store.lookup(b, now: now.addingTimeInterval(Double(CredentialStore.maxUncheckedInterval)))
        #expect(store.registryChecks.stats == afterRevoke + 1)
        try await holder.close()
    }

    /// The folder is replaced (moved away, a copy put back and changed): the watch on the old folder ends, the store
    /// stats on every lookup from then on and sees the change.
    @Test func aReplacedFolderFallsBackToAStatPerLookup() async throws {
        let (paths, issuer, a, store) = try await homeWithServedKey()
        try FileManager.default.moveItem(atPath: paths.directory, toPath: paths.directory + ".old")
        try FileManager.default.copyItem(atPath: paths.directory + ".old", toPath: paths.directory)
        _ = try await issuer.revoke(accessKeyId: a)
        guard case .failure(.revoked) = store.lookup(a, now: Date()) else { Issue.record("revocation in a replaced folder missed"); return }
        #expect(!store.registryChecks.watching)
        let stats = store.registryChecks.stats
        _ = store.lookup(a, now: Date())
        #expect(store.registryChecks.stats == stats + 1)
    }
}
