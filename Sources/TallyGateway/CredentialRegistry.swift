import Foundation
import TallyCore
#if canImport(Glibc)
import Glibc
#endif

/// The registry file `H/gateway/credentials.json`: every issued credential's public facts.
///
/// Written atomically (temp file, fsync, rename, fsync of the folder) under an exclusive
/// `flock` on `credentials.lock`, so concurrent `tally credentials issue` runs do not lose entries.
public struct CredentialRegistry: Sendable {
    public let paths: GatewayPaths

    public init(paths: GatewayPaths) { self.paths = paths }

    /// All credentials, keyed by access key id (empty when the file does not exist yet).
    public func load() throws -> [String: IssuedCredential] {
        guard let data = FileManager.default.contents(atPath: paths.registry) else { return [:] }
        do {
            let list = try JSONDecoder().decode(RegistryFile.self, from: data).credentials
            return Dictionary(list.map { ($0.accessKeyId, $0) }, uniquingKeysWith: { _, b in b })
        } catch {
            throw TallyError(.integrity, "\(paths.registry) is not a valid credential registry: \(error)")
        }
    }

    /// Runs `change` on the current contents under the lock and writes the result atomically.
    @discardableResult
    public func update<R>(_ change: (inout [String: IssuedCredential]) throws -> R) throws -> R {
        try ensureDirectory(paths.directory)
        let lockFD = open(paths.registryLock, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw TallyError(.io, "cannot open \(paths.registryLock): \(String(cString: strerror(errno)))") }
        defer { close(lockFD) }
        guard flock(lockFD, LOCK_EX) == 0 else { throw TallyError(.io, "cannot lock \(paths.registryLock)") }
        defer { _ = flock(lockFD, LOCK_UN) }
        var all = try load()
        let result = try change(&all)
        try write(all)
        return result
    }

    /// The registry's modification stamp (for cheap reload checks), nil if it does not exist.
    public func stamp() -> RegistryStamp? {
        var st = stat()
        guard stat(paths.registry, &st) == 0 else { return nil }
        return RegistryStamp(seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec, inode: st.st_ino, size: st.st_size)
    }

    private func write(_ all: [String: IssuedCredential]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let list = all.values.sorted { ($0.issuedAt, $0.accessKeyId) < ($1.issuedAt, $1.accessKeyId) }
        let data = try encoder.encode(RegistryFile(credentials: list))
        let temp = paths.registry + ".tmp.\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TallyError(.io, "cannot create \(temp): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temp, paths.registry) == 0 else {
            unlink(temp)
            throw TallyError(.io, "cannot write \(paths.registry): \(String(cString: strerror(errno)))")
        }
        fsyncDirectory(paths.directory)
    }
}

/// What identifies one version of the registry file.
public struct RegistryStamp: Sendable, Hashable {
    var seconds: Int, nanoseconds: Int, inode: UInt, size: Int
}

private struct RegistryFile: Codable {
    var format = "tally-credentials-v1"
    var credentials: [IssuedCredential]
    init(credentials: [IssuedCredential]) { self.credentials = credentials }
}
