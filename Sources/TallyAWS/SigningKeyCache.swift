import Synchronization
import TallyCore

/// A bounded, thread-safe cache of derived SigV4 signing keys (four HMACs each), keyed by the SHA-256 of the
/// secret and the scope. Owned by whoever verifies or signs many requests (the gateway); pass it to
/// ``SigV4/verify(_:auth:secretAccessKey:payloadHash:now:keyCache:)`` and
/// ``SigV4/sign(_:credentials:region:service:payloadHash:date:keyCache:)``. Keys are valid for one day and
/// scope, so the cache is simply cleared when full.
public final class SigningKeyCache: Sendable {
    private let entries = Mutex<[String: [UInt8]]>([:])
    private let capacity: Int

    /// Creates a cache holding up to `capacity` keys.
    public init(capacity: Int = 4096) { self.capacity = capacity }

    /// The signing key for the secret and scope, derived once.
    public func signingKey(secretAccessKey: String, date: String, region: String, service: String) -> [UInt8] {
        let id = Hex.encode(SHA256.hash(Array(secretAccessKey.utf8))) + "/" + date + "/" + region + "/" + service
        if let k = entries.withLock({ $0[id] }) { return k }
        let k = SigV4.signingKey(secretAccessKey: secretAccessKey, date: date, region: region, service: service)
        entries.withLock { e in
            if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            e[id] = k
        }
        return k
    }

    /// The number of keys held.
    public var count: Int { entries.withLock { $0.count } }
}
