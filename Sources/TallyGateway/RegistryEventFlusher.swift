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
        let pending = try registry.loadAuthenticated(mac: RegistryMAC(paths: registry.paths)).entries.values
            .filter { $0.issuanceRecorded == false || $0.revocationRecorded == false }
            .sorted { ($0.issuedAt, $0.accessKeyId) < ($1.issuedAt, $1.accessKeyId) }
        var events: [JSONValue] = []
        for c in pending {
            if c.issuanceRecorded == false { events.append(c.issuedEvent) }
            if c.revocationRecorded == false, let e = c.revokedEvent { events.append(e) }
        }
        for e in events {
            try await recorder.record(e)
            store?.learn(e)
        }
        if !pending.isEmpty {
            let ids = Set(pending.map(\.accessKeyId))
            try registry.update { all in
                for id in ids {
                    if all[id]?.issuanceRecorded == false { all[id]?.issuanceRecorded = true }
                    if all[id]?.revocationRecorded == false, all[id]?.revokedAt != nil { all[id]?.revocationRecorded = true }
                }
            }
        }
        lastStamp = registry.stamp()
        return events.count
    }
}
