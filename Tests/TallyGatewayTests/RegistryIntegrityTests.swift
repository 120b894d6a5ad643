import Foundation
import Synchronization
import Testing
@testable import TallyGateway
import TallyCore
import TallyLedger

/// Review finding 12 (rest): revocations survive a gateway restart and any edit of `credentials.json`; registry entries
/// are authenticated with a MAC under a key derived from the master key; a registry that fails is refused as a whole.
@Suite struct RegistryIntegrityTests {
    private func home() throws -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tally-reg-\(UUID().uuidString)").path + "/h"
        _ = try Ledger.initialize(home: home)
        return home
    }

    private func json(_ path: String) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func write(_ object: [String: Any], _ path: String) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
    }

    /// `body` applied to the entry `id` of the raw file (an edit outside tally: no MAC is recomputed).
    private func editEntry(_ path: String, _ id: String, _ body: (inout [String: Any]) -> Void) throws {
        var file = try json(path)
        var list = try #require(file["credentials"] as? [[String: Any]])
        let i = try #require(list.firstIndex { $0["accessKeyId"] as? String == id })
        body(&list[i])
        file["credentials"] = list
        try write(file, path)
    }

    @Test func theMACKeyIsDomainSeparatedAndEveryFieldIsCovered() throws {
        let dir = try home()
        let key = try MasterKey.loadOrCreate(paths: GatewayPaths(home: dir))
        #expect(key.derivedKey(purpose: "credential-registry-mac") != key.derivedKey(purpose: "other"))
        #expect(key.derivedKey(purpose: "credential-registry-mac") != key.bytes)
        let mac = RegistryMAC(masterKey: key)
        let c = IssuedCredential(accessKeyId: "ASIATLYAAAAAAAAAAAAA", principal: "bot", expiresAt: 2_000_000_000,
                                 issuedAt: 1_900_000_000, role: "arn:aws:iam::123456789012:role/reader")
        let tag = mac.mac(c)
        #expect(tag.count == 64 && mac.check(c, mac: tag))
        var variants: [IssuedCredential] = []
        var v = c; v.principal = "bot2"; variants.append(v)
        v = c; v.expiresAt += 1; variants.append(v)
        v = c; v.issuedAt += 1; variants.append(v)
        v = c; v.role = nil; variants.append(v)
        v = c; v.revokedAt = 1_950_000_000; variants.append(v)
        v = c; v.issuanceRecorded = false; variants.append(v)
        v = c; v.issuanceRecorded = true; variants.append(v)
        v = c; v.revocationRecorded = false; variants.append(v)
        v = c; v.secretVersion = 2; variants.append(v)
        for variant in variants { #expect(!mac.check(variant, mac: tag), "\(variant)") }
        // absent and empty differ, and fields cannot slide into each other
        v = c; v.role = ""; #expect(!mac.check(v, mac: tag))
        var a = c; a.principal = "ab"; a.role = "c"
        var b = c; b.principal = "a"; b.role = "bc"
        #expect(mac.mac(a) != mac.mac(b))
    }

    @Test func anEntryEditedOutsideTallyRefusesTheWholeRegistryAndIsNotReauthenticated() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let issuer = CredentialIssuer(home: home)
        let a = try await issuer.issue(principal: "a", ttl: 3600, role: nil).credential.accessKeyId
        let b = try await issuer.issue(principal: "b", ttl: 3600, role: nil).credential.accessKeyId
        _ = try await issuer.revoke(accessKeyId: a)
        #expect(try json(paths.registry)["format"] as? String == "tally-credentials-v2")
        let store = try CredentialStore(paths: paths)
        guard case .success = store.lookup(b, now: Date()) else { Issue.record("valid key refused"); return }
        let good = try #require(FileManager.default.contents(atPath: paths.registry))
        try editEntry(paths.registry, a) { $0.removeValue(forKey: "revokedAt") }
        for id in [a, b] {
            guard case .failure(.registryUnreadable(let why)) = store.lookup(id, now: Date()) else {
                Issue.record("an entry whose MAC does not check must refuse every key"); return
            }
            #expect(why.contains(paths.registry) && why.contains(a) && why.contains("MAC"))
        }
        // A restarted gateway refuses it too, and tally does not re-authenticate it by writing the registry.
        guard case .failure(.registryUnreadable) = try CredentialStore(paths: paths).lookup(b, now: Date()) else {
            Issue.record("refused after a restart too"); return
        }
        await #expect(throws: TallyError.self) { _ = try await issuer.issue(principal: "c", ttl: 3600, role: nil) }
        try good.write(to: URL(fileURLWithPath: paths.registry))
        guard case .success = store.lookup(b, now: Date()) else { Issue.record("the restored registry serves again"); return }
        guard case .failure(.revoked) = store.lookup(a, now: Date()) else { Issue.record("a still revoked"); return }
        // Deleting the tampered entry is the other way out: the rest of the registry serves (that key is unknown).
        try editEntry(paths.registry, a) { $0["role"] = "arn:aws:iam::123456789012:role/admin" }
        var file = try json(paths.registry)
        file["credentials"] = (file["credentials"] as? [[String: Any]])?.filter { $0["accessKeyId"] as? String != a }
        try write(file, paths.registry)
        guard case .success = store.lookup(b, now: Date()) else { Issue.record("b serves without a's entry"); return }
        guard case .failure(.unknown) = store.lookup(a, now: Date()) else { Issue.record("a is gone"); return }
    }

    @Test func revokingWithATamperedRegistryStillRecordsTheRevocation() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let issuer = CredentialIssuer(home: home)
        let a = try await issuer.issue(principal: "a", ttl: 3600, role: nil).credential.accessKeyId
        let b = try await issuer.issue(principal: "b", ttl: 3600, role: nil).credential.accessKeyId
        let good = try #require(FileManager.default.contents(atPath: paths.registry))
        try editEntry(paths.registry, b) { $0["principal"] = "edited" }
        do {
            _ = try await issuer.revoke(accessKeyId: a)
            Issue.record("revoke must report the tampered registry")
        } catch let error as TallyError {
            #expect(error.code == .integrity && error.reason.contains("recorded in the ledger"))
        }
        try good.write(to: URL(fileURLWithPath: paths.registry))  // restored (without the revocation)
        guard case .failure(.revoked) = try CredentialStore(paths: paths).lookup(a, now: Date()) else {
            Issue.record("the revocation recorded in the ledger holds once the registry is restored"); return
        }
    }

    @Test func theGatewayNeverRecordsAPendingEntryEditedOutsideTally() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let ledger = try await Ledger.open(home: home)  // held, as by a running gateway: the issue stays pending
        let pending = try await CredentialIssuer(home: home).issue(principal: "bot", ttl: 3600, role: nil).credential
        #expect(try CredentialRegistry(paths: paths).load()[pending.accessKeyId]?.issuanceRecorded == false)
        let good = try #require(FileManager.default.contents(atPath: paths.registry))
        try editEntry(paths.registry, pending.accessKeyId) { $0["expiresAt"] = pending.expiresAt + 86400 }
        let flusher = RegistryEventFlusher(paths: paths, recorder: CallRecorder(ledger: ledger, metrics: GatewayMetrics()), store: nil)
        await #expect(throws: TallyError.self) { try await flusher.flush(force: true) }
        try good.write(to: URL(fileURLWithPath: paths.registry))
        #expect(try await flusher.flush(force: true) == 1)  // the authentic entry is recorded, once
        try await ledger.close()
        let facts = try CredentialLedgerFacts.scan(home: home)
        #expect(facts.issued[pending.accessKeyId]?.expiration == rfc3339(seconds: pending.expiresAt))
        #expect(facts.conflicting.isEmpty)
        guard case .success = try CredentialStore(paths: paths).lookup(pending.accessKeyId, now: Date()) else {
            Issue.record("the restored, recorded credential serves"); return
        }
    }

    /// The ledger, with `before` run ahead of every awaited append (to make something happen mid-flush).
    private final class InterposedLog: CallLog, @unchecked Sendable {
        let ledger: Ledger
        let before: @Sendable (JSONValue) async throws -> Void
        init(_ ledger: Ledger, before: @escaping @Sendable (JSONValue) async throws -> Void) {
            self.ledger = ledger
            self.before = before
        }
        func append(_ event: JSONValue) async throws -> UInt64 {
            try await before(event)
            return try await ledger.append(event)
        }
        func appendDeferred(_ event: JSONValue, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
            try ledger.appendDeferred(event, whenDurable: whenDurable)
        }
        func append(_ event: JSONValue, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
            try ledger.append(event, whenDurable: whenDurable)
        }
        func append(_ batch: EventBatch, whenDurable: @escaping @Sendable (Result<UInt64, any Error>) -> Void) throws {
            try ledger.append(batch, whenDurable: whenDurable)
        }
    }

    /// A `credentials revoke` that lands while the gateway's flusher records the same key's pending issuance (the
    /// gateway holds the ledger, so the revocation is marked pending): the flush must leave it pending, and the next
    /// flush records it. (It used to be marked recorded by the issuance's flush: credential.revoked never reached the
    /// ledger, and a registry rolled back past the revocation would have served the key again after a restart.)
    @Test func aRevocationLandingMidFlushIsRecordedNotJustMarked() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let ledger = try await Ledger.open(home: home)  // held, as by a running gateway
        let issuer = CredentialIssuer(home: home)
        let id = try await issuer.issue(principal: "bot", ttl: 3600, role: nil).credential.accessKeyId
        let revokedOnce = Mutex(false)
        let log = InterposedLog(ledger) { event in
            guard event["type"]?.stringValue == "credential.issued", event["accessKeyId"]?.stringValue == id,
                  revokedOnce.withLock({ done in defer { done = true }; return !done }) else { return }
            _ = try await issuer.revoke(accessKeyId: id)  // cannot open the held ledger: marked pending
        }
        let flusher = RegistryEventFlusher(paths: paths, recorder: CallRecorder(ledger: log, metrics: GatewayMetrics()), store: nil)
        #expect(try await flusher.flush(force: true) == 1)  // the issuance
        let entry = try #require(try CredentialRegistry(paths: paths).load()[id])
        #expect(entry.revokedAt != nil && entry.issuanceRecorded == true)
        #expect(entry.revocationRecorded == false, "a revocation this flush did not record must stay pending")
        #expect(try await flusher.flush() == 1)  // the revocation, without a forced look
        #expect(try CredentialRegistry(paths: paths).load()[id]?.revocationRecorded == true)
        #expect(try await flusher.flush(force: true) == 0)
        try await ledger.close()
        let facts = try CredentialLedgerFacts.scan(home: home)
        #expect(facts.issued[id] != nil)
        #expect(facts.revoked[id] == entry.revokedAt)
    }

    /// `credentials revoke` writes the revocation and its "not yet recorded" mark in one registry write: there is no
    /// moment at which the registry says revoked-and-recorded while the ledger has no `credential.revoked` (a kill in
    /// that window lost the revocation from the ledger, so a registry rollback and restart served the key again).
    /// Checked while the revoke waits for the ledger a gateway holds; without a gateway the mark is cleared once the
    /// ledger has it.
    @Test func aRevocationIsMarkedPendingInTheSameWriteThatRevokes() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let issuer = CredentialIssuer(home: home)
        let id = try await issuer.issue(principal: "bot", ttl: 3600, role: nil).credential.accessKeyId
        let ledger = try await Ledger.open(home: home)  // held, as by a running gateway: the revoke waits 0.5 s for it
        let revoking = Task { try await issuer.revoke(accessKeyId: id) }
        var seen: IssuedCredential?
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let entry = try CredentialRegistry(paths: paths).load()[id], entry.revokedAt != nil {
                seen = entry
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        _ = try await revoking.value
        let first = try #require(seen, "the revocation reached the registry")
        #expect(first.revocationRecorded == false, "revoked but not marked pending, while the ledger has no credential.revoked")
        try await ledger.close()

        // Revoking again (no gateway now) records the revocation the first revoke left pending.
        let again = try await issuer.revoke(accessKeyId: id)
        #expect(again.revokedAt == first.revokedAt && again.revocationRecorded == true)
        #expect(try CredentialRegistry(paths: paths).load()[id]?.revocationRecorded == true)
        #expect(try CredentialLedgerFacts.scan(home: home).revoked[id] == first.revokedAt)

        let other = try await issuer.issue(principal: "bot2", ttl: 3600, role: nil).credential.accessKeyId
        let revoked = try await issuer.revoke(accessKeyId: other)  // no gateway: the ledger takes it at once
        #expect(try CredentialRegistry(paths: paths).load()[other]?.revocationRecorded == true)
        #expect(try CredentialLedgerFacts.scan(home: home).revoked[other] == revoked.revokedAt)
    }

    /// An entry added by hand to a registry relabelled as the old, MAC-less format (`tally-credentials-v1`), marked
    /// "issuance pending": the gateway refuses the registry, `credentials issue` does not add MACs to it, and the
    /// flusher does not record the entry's issuance (all three used to accept it: the next write authenticated it, and
    /// a forged `credential.issued` went into the ledger).
    @Test func aHandAddedEntryInARelabelledOldFormatFileIsNeverAuthenticatedNorRecorded() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let issuer = CredentialIssuer(home: home)
        let real = try await issuer.issue(principal: "bot", ttl: 3600, role: nil).credential
        var file = try json(paths.registry)
        file["format"] = "tally-credentials-v1"
        var list = try #require(file["credentials"] as? [[String: Any]])
        var forged = try #require(list.first)
        let forgedId = String(real.accessKeyId.dropLast(4)) + "ZZZZ"
        forged["accessKeyId"] = forgedId
        forged["principal"] = "forged-admin"
        forged["role"] = "arn:aws:iam::123456789012:role/Admin"
        forged["issuanceRecorded"] = false
        list.append(forged)
        file["credentials"] = list
        try write(file, paths.registry)
        let edited = try #require(FileManager.default.contents(atPath: paths.registry))

        guard case .failure(.registryUnreadable(let why)) = try CredentialStore(paths: paths).lookup(real.accessKeyId, now: Date()) else {
            Issue.record("the gateway must refuse a registry with an unauthenticated entry the ledger does not have"); return
        }
        #expect(why.contains(forgedId))
        await #expect(throws: TallyError.self) { _ = try await issuer.issue(principal: "next", ttl: 3600, role: nil) }
        #expect(FileManager.default.contents(atPath: paths.registry) == edited, "no MAC was added to it")

        let ledger = try await Ledger.open(home: home)  // as a running gateway's
        let flusher = RegistryEventFlusher(paths: paths, recorder: CallRecorder(ledger: ledger, metrics: GatewayMetrics()), store: nil)
        #expect(try await flusher.flush(force: true) == 0)
        try await ledger.close()
        #expect(try CredentialLedgerFacts.scan(home: home).issued[forgedId] == nil, "no credential.issued from an unauthenticated entry")
    }

    /// A registry that exists but cannot be read is refused (503, read again at the next lookup), not taken for an
    /// empty one (which refused every key as unknown, and kept doing so until the file changed: its stamp was cached).
    @Test func aRegistryThatCannotBeReadIsRefusedNotTakenForEmpty() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let id = try await CredentialIssuer(home: home).issue(principal: "bot", ttl: 3600, role: nil).credential.accessKeyId
        let saved = paths.registry + ".saved"
        try FileManager.default.moveItem(atPath: paths.registry, toPath: saved)
        try FileManager.default.createDirectory(atPath: paths.registry, withIntermediateDirectories: false)  // unreadable as a file
        let store = try CredentialStore(paths: paths)
        guard case .failure(.registryUnreadable) = store.lookup(id, now: Date()) else {
            Issue.record("an unreadable registry must be refused as unreadable"); return
        }
        try FileManager.default.removeItem(atPath: paths.registry)
        try FileManager.default.moveItem(atPath: saved, toPath: paths.registry)
        guard case .success = store.lookup(id, now: Date()) else {
            Issue.record("the registry is read again once it can be"); return
        }
    }

    @Test func aRevocationSurvivesARestartWithAnOlderRegistry() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let issuer = CredentialIssuer(home: home)
        let id = try await issuer.issue(principal: "bot", ttl: 3600, role: nil).credential.accessKeyId
        let before = try #require(FileManager.default.contents(atPath: paths.registry))  // valid MACs, not revoked
        let revoked = try await issuer.revoke(accessKeyId: id)
        try before.write(to: URL(fileURLWithPath: paths.registry))  // rolled back
        #expect(try CredentialRegistry(paths: paths).load()[id]?.revokedAt == nil)
        // A gateway started now (a new store) knows the revocation from the ledger.
        guard case .failure(.revoked(let at)) = try CredentialStore(paths: paths).lookup(id, now: Date()) else {
            Issue.record("a revocation in the ledger must be in force after a restart, whatever the registry says"); return
        }
        #expect(at == revoked.revokedAt)
        // `sessions list` says so too (it reads the registry without its MACs, and the ledger).
        let listed = try Sessions(home: home).list().first { $0["session"]?.stringValue == id }
        #expect(listed?["status"]?.stringValue == "revoked" && listed?["revokedAt"]?.stringValue == rfc3339(seconds: revoked.revokedAt!))
    }

    @Test func strippingTheMACsIsRefused() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let id = try await CredentialIssuer(home: home).issue(principal: "bot", ttl: 3600, role: nil).credential.accessKeyId
        var file = try json(paths.registry)
        file["format"] = "tally-credentials-v1"
        file.removeValue(forKey: "macs")
        try write(file, paths.registry)
        // The entry now looks as if an older tally wrote it, but its credential.issued says it had a MAC.
        guard case .failure(.registryUnreadable(let why)) = try CredentialStore(paths: paths).lookup(id, now: Date()) else {
            Issue.record("a registry whose MACs were stripped must be refused"); return
        }
        #expect(why.contains("no MAC"))
        // and tally does not add MACs to it again (which would authenticate whatever was edited meanwhile)
        await #expect(throws: TallyError.self) { _ = try await CredentialIssuer(home: home).issue(principal: "c", ttl: 3600, role: nil) }
        // In the v2 format, an entry without a MAC is refused by the file check itself.
        file["format"] = "tally-credentials-v2"
        file["macs"] = [String: String]()
        try write(file, paths.registry)
        #expect(throws: TallyError.self) { _ = try CredentialRegistry(paths: paths).loadAuthenticated(mac: RegistryMAC(paths: paths)) }
    }

    @Test func anEntryTheLedgerDoesNotBackIsRefused() throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let now = Int64(Date().timeIntervalSince1970)
        // Added through the API (its MAC checks) but never recorded in the ledger.
        let c = IssuedCredential(accessKeyId: try IssuedCredential.newAccessKeyId(), principal: "ghost", expiresAt: now + 3600, issuedAt: now)
        try CredentialRegistry(paths: paths).update { $0[c.accessKeyId] = c }
        guard case .failure(.registryUnreadable(let why)) = try CredentialStore(paths: paths).lookup(c.accessKeyId, now: Date()) else {
            Issue.record("an entry without credential.issued must not serve"); return
        }
        #expect(why.contains("no credential.issued"))
        // Pending (issuanceRecorded false) is fine: the gateway records it before the first use, and learns it.
        var pending = c
        pending.issuanceRecorded = false
        try CredentialRegistry(paths: paths).update { $0[c.accessKeyId] = pending }
        let store = try CredentialStore(paths: paths)
        guard case .success = store.lookup(c.accessKeyId, now: Date()) else { Issue.record("pending entry refused"); return }
        store.learn(pending.issuedEvent)
        try CredentialRegistry(paths: paths).update { $0[c.accessKeyId]?.issuanceRecorded = true }
        guard case .success = store.lookup(c.accessKeyId, now: Date()) else { Issue.record("recorded entry refused"); return }
        // A revocation recorded by the gateway is in force at once (before the registry shows it).
        var revoked = c
        revoked.revokedAt = now
        store.learn(try #require(revoked.revokedEvent))
        guard case .failure(.revoked(now)) = store.lookup(c.accessKeyId, now: Date()) else { Issue.record("learned revocation"); return }
    }

    @Test func anExpiredCredentialIsRefusedAsExpired() throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let now = Int64(Date().timeIntervalSince1970)
        let c = IssuedCredential(accessKeyId: try IssuedCredential.newAccessKeyId(), principal: "short", expiresAt: now - 1, issuedAt: now - 61)
        try CredentialRegistry(paths: paths).update { $0[c.accessKeyId] = c }
        var ledger = CredentialLedgerFacts()
        ledger.learn(c.issuedEvent)
        guard case .failure(.expired(let at)) = try CredentialStore(paths: paths, ledger: ledger).lookup(c.accessKeyId, now: Date()) else {
            Issue.record("an expired credential must be refused as expired"); return
        }
        #expect(at == now - 1)
    }

    /// A registry written by the previous version (`tally-credentials-v1`, no MACs; `credential.issued` without the
    /// `registryMAC` field) keeps working as far as the ledger backs it, and is upgraded by the next write.
    @Test func aRegistryOfThePreviousVersionKeepsWorkingAndIsUpgraded() async throws {
        let home = try home()
        let paths = GatewayPaths(home: home)
        let now = Int64(Date().timeIntervalSince1970)
        var old = IssuedCredential(accessKeyId: try IssuedCredential.newAccessKeyId(), principal: "old", expiresAt: now + 3600,
                                   issuedAt: now, role: "arn:aws:iam::123456789012:role/reader")
        old.secretVersion = 2
        var revokedOld = IssuedCredential(accessKeyId: try IssuedCredential.newAccessKeyId(), principal: "gone", expiresAt: now + 3600, issuedAt: now)
        revokedOld.revokedAt = now
        var legacyEvents: [JSONValue] = []
        for c in [old, revokedOld] {
            var event = try #require(c.issuedEvent.objectValue)
            event.removeValue(forKey: IssuedCredential.registryMACField)  // what the previous version recorded
            legacyEvents.append(.object(event))
        }
        legacyEvents.append(try #require(revokedOld.revokedEvent))
        let ledger = try await Ledger.open(home: home)
        _ = try await ledger.append(contentsOf: legacyEvents)
        try await ledger.close()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var legacyFile: [String: Any] = ["format": "tally-credentials-v1"]
        var unrevoked = revokedOld
        unrevoked.revokedAt = nil  // the registry lost the revocation: the ledger still has it
        legacyFile["credentials"] = try [old, unrevoked].map { try JSONSerialization.jsonObject(with: encoder.encode($0)) }
        let key = try MasterKey.loadOrCreate(paths: paths)  // creates H/gateway
        try write(legacyFile, paths.registry)
        let store = try CredentialStore(paths: paths)
        guard case .success(let found) = store.lookup(old.accessKeyId, now: Date()) else { Issue.record("legacy entry refused"); return }
        #expect(found.secret == old.secret(masterKey: key))
        guard case .failure(.revoked(now)) = store.lookup(revokedOld.accessKeyId, now: Date()) else {
            Issue.record("the ledger's revocation holds for a legacy entry"); return
        }
        // A legacy entry that disagrees with the ledger (its role raised) is refused: no MAC needed for that.
        try editEntry(paths.registry, old.accessKeyId) { $0["role"] = "arn:aws:iam::123456789012:role/admin" }
        guard case .failure(.registryUnreadable(let why)) = store.lookup(old.accessKeyId, now: Date()) else {
            Issue.record("legacy entry with another role must be refused"); return
        }
        #expect(why.contains("role"))
        // Marking it pending again does not skip that check (its credential.issued is in the ledger).
        try editEntry(paths.registry, old.accessKeyId) { $0["issuanceRecorded"] = false }
        guard case .failure(.registryUnreadable) = store.lookup(old.accessKeyId, now: Date()) else {
            Issue.record("a pending mark must not hide a disagreement with the ledger"); return
        }
        try editEntry(paths.registry, old.accessKeyId) { $0.removeValue(forKey: "issuanceRecorded"); $0["role"] = old.role }
        // The next write by tally (here: an issue) upgrades the file: every entry gets a MAC.
        _ = try await CredentialIssuer(home: home).issue(principal: "new", ttl: 3600, role: nil)
        let upgraded = try json(paths.registry)
        #expect(upgraded["format"] as? String == "tally-credentials-v2")
        #expect((upgraded["macs"] as? [String: String])?.count == 3)
        // (A new store: this test's store does not hold the ledger, so it never learns what the CLI appended itself.)
        guard case .success = try CredentialStore(paths: paths).lookup(old.accessKeyId, now: Date()) else {
            Issue.record("upgraded entry refused"); return
        }
    }
}
