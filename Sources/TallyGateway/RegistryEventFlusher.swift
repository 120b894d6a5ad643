import Foundation
import TallyCore

/// Appends the credential events that `tally credentials issue/revoke` could not append themselves
/// because the running gateway holds the ledger lock (registry entries marked not yet recorded),
/// then marks them recorded. Serialised so each event is appended once.
actor RegistryEventFlusher {
    private let registry: CredentialRegistry
    private let recorder: CallRecorder
    /// Told of every event once it is durable, before the registry says it is recorded (finding 12).
    private let store: CredentialStore?
    private var lastStamp: RegistryStamp?

    init(paths: GatewayPaths, recorder: CallRecorder, store: CredentialStore?) {
        registry = CredentialRegistry(paths: paths)
        self.recorder = recorder
        self.store = store
    }

    /// The latest flush: flushes run one after another, each after the one before it ended (the actor alone would
    /// interleave two at their awaits, and both would append the same pending events).
    private var latest: Task<Int, any Error>?

    /// Records pending events if the registry changed since the last look (or `force`). Returns how many.
    @discardableResult
    func flush(force: Bool = false) async throws -> Int {
        let previous = latest
        let task = Task {
            _ = try? await previous?.value
            return try await self.flushOnce(force: force)
        }
        latest = task
        return try await task.value
    }

    private func flushOnce(force: Bool) async throws -> Int {
        let stamp = registry.stamp()
        if !force && stamp == lastStamp { return 0 }
        // Only from an authenticated registry: an entry edited outside tally must never reach the ledger (finding 12).
        // An entry without a MAC (the old format) is not authenticated: its issuance is never recorded from it (the
        // gateway refuses it unless the ledger already has it); recording a revocation is always safe.
        let (entries, legacy) = try registry.loadAuthenticated(mac: RegistryMAC(paths: registry.paths))
        func issuancePending(_ c: IssuedCredential) -> Bool { c.issuanceRecorded == false && !legacy.contains(c.accessKeyId) }
        let pending = entries.values
            .filter { issuancePending($0) || $0.revocationRecorded == false }
            .sorted { ($0.issuedAt, $0.accessKeyId) < ($1.issuedAt, $1.accessKeyId) }
        // What this flush appends: an entry's flag is set below only for an event appended here, and a revocation
        // only if the entry's revocation time is still the one appended (a `credentials revoke` that lands while this
        // flush records an issuance marks its revocation pending: it must stay pending for the next flush, not be
        // marked recorded without its credential.revoked ever reaching the ledger).
        var issued = Set<String>()
        var revoked: [String: Int64] = [:]
        var failure: (any Error)?
        appending: for c in pending {
            if issuancePending(c) {
                do { try await record(c.issuedEvent) } catch { failure = error; break appending }
                issued.insert(c.accessKeyId)
            }
            if c.revocationRecorded == false, let at = c.revokedAt, let e = c.revokedEvent {
                do { try await record(e) } catch { failure = error; break appending }
                revoked[c.accessKeyId] = at
            }
        }
        let wrote = !issued.isEmpty || !revoked.isEmpty
        if wrote {
            // Also after a failure: what was appended is marked, so it is not appended twice.
            try registry.update { all in
                for id in issued where all[id]?.issuanceRecorded == false { all[id]?.issuanceRecorded = true }
                for (id, at) in revoked { all[id]?.markRevocationRecorded(at: at) }
            }
        }
        if let failure { throw failure }
        // The next flush skips the file only if it is still as it was *before* this one read it: a change made while
        // this flush ran (say a revocation marked pending) is read again. After its own rewrite, the next flush reads
        // the file once more.
        lastStamp = wrote ? nil : stamp
        return issued.count + revoked.count
    }

    private func record(_ event: JSONValue) async throws {
        try await recorder.record(event)
        store?.learn(event)
    }
}
