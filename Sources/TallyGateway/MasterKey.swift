import Foundation
import TallyCore
#if canImport(Glibc)
import Glibc
#endif

/// The gateway master key: 32 random bytes in `H/gateway/master.key`, mode 0600.
///
/// Every credential secret is `HMAC-SHA256(masterKey, accessKeyId ‖ expiry ‖ principal)`, so no
/// secret is ever stored; whoever can read this file can mint secrets, hence 0600 and a 0700 folder.
public struct MasterKey: Sendable {
    /// The raw key bytes.
    let bytes: [UInt8]

    /// Loads the key, creating it (and `H/gateway`) when missing.
    public static func loadOrCreate(paths: GatewayPaths) throws -> MasterKey {
        guard FileManager.default.fileExists(atPath: paths.home) else {
            throw TallyError(.notFound, "Tally home \(paths.home) does not exist (run `tally init --home \(paths.home)`)")
        }
        try ensureDirectory(paths.directory)
        if let existing = try load(path: paths.masterKey) { return existing }
        // A registry means credentials were issued under a key: a new one would make every issued secret and every
        // registry MAC wrong (and the MAC error would suggest deleting good entries). Never replace a lost key.
        if let size = try? FileManager.default.attributesOfItem(atPath: paths.registry)[.size] as? Int, size > 0 {
            throw TallyError(.badInput, "\(paths.masterKey) is missing, but \(paths.registry) lists credentials issued under "
                             + "it: restore master.key from a backup (a new key would invalidate every issued credential); "
                             + "to start over instead, move credentials.json away first")
        }
        let key = try secureRandomBytes(32)
        let fd = open(paths.masterKey, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST, let raced = try load(path: paths.masterKey) { return raced }
            throw TallyError(.io, "cannot create \(paths.masterKey): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == key.count, fsync(fd) == 0 else {
            throw TallyError(.io, "cannot write \(paths.masterKey): \(String(cString: strerror(errno)))")
        }
        fsyncDirectory(paths.directory)
        return MasterKey(bytes: key)
    }

    /// Reads an existing key; nil when the file does not exist.
    static func load(path: String) throws -> MasterKey? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard data.count == 32 else {
            throw TallyError(.integrity, "\(path) holds \(data.count) bytes, a gateway master key is 32")
        }
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
            throw TallyError(.badInput, "\(path) is readable by others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        return MasterKey(bytes: [UInt8](data))
    }
}

/// Creates a directory (mode 0700) and its parents if missing.
func ensureDirectory(_ path: String) throws {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
        guard isDir.boolValue else { throw TallyError(.io, "\(path) exists and is not a directory") }
        return
    }
    do {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
        throw TallyError(.io, "cannot create directory \(path): \(error)")
    }
}

/// fsyncs a directory so a rename or create inside it is durable.
func fsyncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
}
