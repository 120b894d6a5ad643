public import Foundation
import Synchronization
import TallyCore

/// The gateway's view of issued credentials: the registry file, cached in memory and reloaded
/// when the file changes (one stat per lookup).
public final class CredentialStore: Sendable {
    private let registry: CredentialRegistry
    private let masterKey: MasterKey
    private let state: Mutex<State>

    private struct State {
        var entries: [String: (IssuedCredential, String)] = [:]
        var stamp: RegistryStamp?
        var lastCheck: Double = 0
        /// Why the last reload failed (the registry changed but could not be read): every key is refused until
        /// a reload succeeds, so a revocation written just before the failure is never missed (review finding 10).
        var failure: String?
        /// Every revocation this process has seen: a revocation stays in force even if a later registry no
        /// longer shows it (an edited `revokedAt`; review finding 12).
        var revoked: [String: Int64] = [:]
    }

    public init(paths: GatewayPaths) throws {
        registry = CredentialRegistry(paths: paths)
        masterKey = try MasterKey.loadOrCreate(paths: paths)
        state = Mutex(State())
        try reload(force: true)
    }

    /// The credential and its derived secret, or why the key is refused.
    public func lookup(_ accessKeyId: String, now: Date) -> Result<(credential: IssuedCredential, secret: String), CredentialRejection> {
        // One stat(2) per lookup: issuance and revocation take effect on the next request.
        do { try reload(force: false, now: now.timeIntervalSince1970) } catch {
            let reason = "\(error)"
            state.withLock { $0.failure = reason }
        }
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

    /// A credential by id (valid or not), for event context.
    public func credential(_ accessKeyId: String) -> IssuedCredential? {
        state.withLock { $0.entries[accessKeyId]?.0 }
    }

    private func reload(force: Bool, now: Double = Date().timeIntervalSince1970) throws {
        let stamp = registry.stamp()
        let unchanged = state.withLock { s -> Bool in
            s.lastCheck = now
            return !force && s.stamp == stamp
        }
        if unchanged { return }
        let all = try registry.load()
        var entries: [String: (IssuedCredential, String)] = [:]
        for (id, credential) in all { entries[id] = (credential, credential.secret(masterKey: masterKey)) }
        state.withLock {
            for (id, entry) in entries {
                if let at = entry.0.revokedAt {
                    $0.revoked[id] = min(at, $0.revoked[id] ?? at)
                } else if let at = $0.revoked[id] {
                    entries[id]?.0.revokedAt = at
                }
            }
            $0.entries = entries
            $0.stamp = stamp
            $0.failure = nil
        }
    }
}
