import Foundation

/// Where the gateway keeps its own files inside a Tally home (`H/gateway/...`).
public struct GatewayPaths: Sendable {
    /// The Tally home directory.
    public let home: String

    public init(home: String) { self.home = home }

    /// `H/gateway`, created 0700 on first use.
    public var directory: String { (home as NSString).appendingPathComponent("gateway") }
    /// The 32-byte master key every credential secret is derived from (0600).
    public var masterKey: String { (directory as NSString).appendingPathComponent("master.key") }
    /// The credential registry (principal, expiry, role, revocation; never a secret).
    public var registry: String { (directory as NSString).appendingPathComponent("credentials.json") }
    /// Lock file serialising read-modify-write of the registry across processes.
    public var registryLock: String { (directory as NSString).appendingPathComponent("credentials.lock") }
}
