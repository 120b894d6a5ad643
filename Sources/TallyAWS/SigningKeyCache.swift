import Synchronization
import TallyCore

/// A bounded, thread-safe cache of derived SigV4 signing keys (four HMACs each), keyed by the SHA-256 of the
/// secret and the scope. Owned by whoever verifies or signs many requests (the gateway); pass it to
/// ``SigV4/verify(_:auth:secretAccessKey:payloadHash:now:keyCache:)`` and
/// ``SigV4/sign(_:credentials:region:service:payloadHash:date:keyCache:)``. Keys are valid for one day and
/// scope, so the cache is simply cleared when full.
public final class SigningKeyCache: Sendable {
    private let entries = Mutex<[Key: [UInt8]]>([:])
    private let capacity: Int

    /// The SHA-256 of the secret (never the secret itself) and the scope.
    private struct Key: Hashable {
        var d0: UInt64, d1: UInt64, d2: UInt64, d3: UInt64
        var date: String, region: String, service: String
    }

    /// Creates a cache holding up to `capacity` keys.
    public init(capacity: Int = 4096) { self.capacity = capacity }

    /// The signing key for the secret and scope, derived once.
    public func signingKey(secretAccessKey: String, date: String, region: String, service: String) -> [UInt8] {
        // A struct key (no hex text or concatenated string to build and hash per lookup).
        var d: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var secret = secretAccessKey
        secret.withUTF8 { raw in withUnsafeMutableBytes(of: &d) { SHA256.hash(UnsafeRawBufferPointer(raw), into: $0.baseAddress!) } }
        let id = Key(d0: d.0, d1: d.1, d2: d.2, d3: d.3, date: date, region: region, service: service)
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
