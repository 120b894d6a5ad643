public import Foundation
public import Logging
import Synchronization
import TallyCore

/// The gateway's view of issued credentials: the registry file, cached in memory and reloaded
/// when the file changes, checked against the ledger. A lookup stats the registry only when an inotify watch on its
/// folder reports an event since the last check (``RegistryWatch``: one non-blocking `read(2)` instead of a `stat(2)`
/// per lookup; the kernel queues the event within the writing system call, so a change is still seen by the next
/// lookup), at least once a second anyway, and on every lookup when the watch is unavailable.
///
/// Review finding 12: the registry's entries are authenticated (``RegistryMAC``); every entry whose issuance is
/// recorded must agree with its `credential.issued` in the ledger (principal, issue time, expiry, role); and every
/// `credential.revoked` of the ledger is in force whatever the registry says. A registry that fails any of these is
/// refused as a whole (every key: 503), like an unreadable one, with an error log line naming the file.
public final class CredentialStore: Sendable {
    private let registry: CredentialRegistry
    private let masterKey: MasterKey
    private let mac: RegistryMAC
    private let logger: Logger?
    private let state: Mutex<State>
    /// Whether the registry must be stat'ed: held across the check and the reload, so a lookup never skips the
    /// stat while another one is still loading a change it drained.
    private let check: Mutex<RegistryCheck>

    private struct RegistryCheck {
        var watch: RegistryWatch?
        /// A change was reported (or a check failed) and no check has completed since.
        var pending = true
        var lastStat: Double = 0
        /// How many times the registry was stat'ed (for tests).
        var stats = 0
    }

    /// The longest a lookup relies on the watch alone: a registry change the watch cannot see (another host's
    /// write on a network file system, a replaced mount) is still picked up within this many seconds.
    static let maxUncheckedInterval = 1.0

    private struct State {
        var entries: [String: (IssuedCredential, String)] = [:]
        var stamp: RegistryStamp?
        /// Why the last reload failed (the registry changed but could not be read or trusted): every key is refused
        /// until a reload succeeds, so a revocation written just before the failure is never missed (finding 10).
        var failure: String?
        /// What the ledger says (read at start, then what this gateway records itself).
        var ledger: CredentialLedgerFacts
        /// Every revocation this process has seen: a revocation stays in force even if a later registry no
        /// longer shows it (finding 12).
        var revoked: [String: Int64] = [:]
    }

    /// A store for the gateway of `paths.home`: reads the credential events of its ledger (call it after the
    /// gateway has opened the ledger, so no `credentials issue` can append in between) and the registry.
    public convenience init(paths: GatewayPaths, logger: Logger? = nil) throws {
        try self.init(paths: paths, ledger: CredentialLedgerFacts.scan(home: paths.home), logger: logger)
    }

    init(paths: GatewayPaths, ledger: CredentialLedgerFacts, logger: Logger? = nil) throws {
        registry = CredentialRegistry(paths: paths)
        masterKey = try MasterKey.loadOrCreate(paths: paths)
        mac = RegistryMAC(masterKey: masterKey)
        self.logger = logger
        state = Mutex(State(ledger: ledger, revoked: ledger.revoked))
        // Watching starts before the first read: a change made in between is reported.
        check = Mutex(RegistryCheck(watch: RegistryWatch(folder: paths.directory)))
        // A registry that cannot be read or trusted at start refuses every key (503) until it is fixed; the gateway
        // still starts, and serves again once the file reads and checks (no restart needed).
        do { try reload(force: true) } catch { fail("\(error)") }
    }

    /// The credential and its derived secret, or why the key is refused.
    public func lookup(_ accessKeyId: String, now: Date) -> Result<(credential: IssuedCredential, secret: String), CredentialRejection> {
        // Issuance and revocation take effect on the next request (see the type's documentation).
        refresh(now: now)
        let found = state.withLock { s -> Result<(IssuedCredential, String), CredentialRejection> in
            if let failure = s.failure { return .failure(.registryUnreadable(failure)) }
            guard let entry = s.entries[accessKeyId] else { return .failure(.unknown) }
            return .success(entry)
        }
        let credential: IssuedCredential, secret: String
        switch found {
        case .failure(let rejection): return .failure(rejection)
        case .success(let entry): (credential, secret) = entry
        }
        if let rejection = credential.rejection(at: now) { return .failure(rejection) }
        return .success((credential, secret))
    }

    /// Whether keys are being refused because the registry cannot be read or trusted (checked again first, as a
    /// lookup would): what `/_tally/health` reports.
    public var registryUsable: Bool {
        refresh(now: Date())
        return state.withLock { $0.failure == nil }
    }

    /// Reloads the registry if it changed; a registry that cannot be read or trusted refuses every key until it can.
    private func refresh(now: Date) {
        do { try reload(force: false, now: now.timeIntervalSince1970) } catch { fail("\(error)") }
    }

    /// How many times lookups (and the first load) have stat'ed the registry, and whether the folder watch works.
    var registryChecks: (stats: Int, watching: Bool) {
        check.withLock { ($0.stats, $0.watch?.isWatching ?? false) }
    }

    /// A credential by id (valid or not), for event context.
    public func credential(_ accessKeyId: String) -> IssuedCredential? {
        state.withLock { $0.entries[accessKeyId]?.0 }
    }

    /// Takes in a credential event this gateway has just committed to the ledger (the registry flusher's), so the
    /// entry that says it is recorded is checked against it, and a revocation is in force at once.
    func learn(_ event: JSONValue) {
        state.withLock { s in
            s.ledger.learn(event)
            for (id, at) in s.ledger.revoked where s.revoked[id].map({ at < $0 }) ?? true {
                s.revoked[id] = at
                if var entry = s.entries[id] {
                    entry.0.revokedAt = min(at, entry.0.revokedAt ?? at)
                    s.entries[id] = entry
                }
            }
        }
    }

    /// Enters the failure state, logging the transition once.
    private func fail(_ reason: String) {
        let first = state.withLock { s -> Bool in
            defer { s.failure = reason }
            return s.failure != reason
        }
        if first {
            logger?.error("credential registry refused: every key is refused (503) until it reads and checks again",
                          metadata: ["file": "\(registry.paths.registry)", "reason": "\(reason)"])
        }
    }

    /// Reloads the registry if it changed. The stat is skipped when the watch works, reported nothing since the last
    /// completed check, and that check is less than ``maxUncheckedInterval`` old (and `force` is false).
    private func reload(force: Bool, now: Double = Date().timeIntervalSince1970) throws {
        try check.withLock { c in
            if c.watch?.changed() ?? true { c.pending = true }
            guard force || c.pending || now - c.lastStat >= Self.maxUncheckedInterval || now < c.lastStat else { return }
            c.pending = true  // until this check completes: a failed one is retried by the next lookup
            c.lastStat = now
            c.stats += 1
            try reloadIfChanged(force: force)
            c.pending = false
        }
    }

    /// Stats the registry and reloads it when it changed (or when `force`).
    private func reloadIfChanged(force: Bool) throws {
        let stamp = registry.stamp()
        let unchanged = state.withLock { s -> Bool in
            !force && s.stamp == stamp
        }
        if unchanged { return }
        let (all, legacy) = try registry.loadAuthenticated(mac: mac)
        var entries: [String: (IssuedCredential, String)] = [:]
        for (id, credential) in all { entries[id] = (credential, credential.secret(masterKey: masterKey)) }
        try state.withLock { s in
            for (id, entry) in entries {
                // A pending issuance (not yet in the ledger) is recorded by the handler before its first use; once the
                // ledger has it (recorded, or marked pending again by hand), the entry must agree with it. An entry
                // without a MAC (the old format) must be in the ledger even when it says pending: only the ledger
                // tells it from one added by hand.
                let isLegacy = legacy.contains(id)
                if isLegacy || entry.0.issuanceRecorded != false || s.ledger.issued[id] != nil,
                   let why = s.ledger.disagreement(with: entry.0, legacy: isLegacy) {
                    throw TallyError(.integrity, "\(registry.paths.registry): \(why)")
                }
                if let at = entry.0.revokedAt {
                    s.revoked[id] = min(at, s.revoked[id] ?? at)
                }
                if let at = s.revoked[id] {
                    entries[id]?.0.revokedAt = at
                }
            }
            s.entries = entries
            s.stamp = stamp
            if s.failure != nil {
                logger?.notice("credential registry reads and checks again", metadata: ["file": "\(registry.paths.registry)"])
            }
            s.failure = nil
        }
    }
}
