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

    /// All credentials, keyed by access key id (empty when the file does not exist yet), as the file says: NOT
    /// authenticated (for listings). Whatever decides about access uses ``loadAuthenticated(mac:)``.
    public func load() throws -> [String: IssuedCredential] {
        try read()?.entries ?? [:]
    }

    /// The entries, all of whose MACs check, and which of them were written before MACs existed (`legacy`:
    /// accepted only as far as the ledger backs them, see ``CredentialStore``). Throws `TallyError(.integrity)`
    /// naming the file and the entry when a MAC does not check, or when an entry of an authenticated
    /// (`tally-credentials-v2`) file has none.
    func loadAuthenticated(mac: RegistryMAC) throws -> (entries: [String: IssuedCredential], legacy: Set<String>) {
        guard let file = try read() else { return ([:], []) }
        var legacy = Set<String>()
        for (id, credential) in file.entries {
            if let tag = file.macs[id] {
                guard mac.check(credential, mac: tag) else {
                    throw TallyError(.integrity, "\(paths.registry): the MAC of entry \(id) does not check: the entry was changed "
                                     + "outside tally (restore the file, or delete the entry to drop that credential)")
                }
            } else if file.authenticated {
                throw TallyError(.integrity, "\(paths.registry): entry \(id) has no MAC (in a tally-credentials-v2 file every "
                                 + "entry has one): it was added or changed outside tally")
            } else {
                legacy.insert(id)
            }
        }
        return (file.entries, legacy)
    }

    /// Runs `change` on the current contents under the lock and writes the result atomically, every entry with its
    /// MAC (a registry written before MACs existed is upgraded). Refuses (`.integrity`) to rewrite a registry whose
    /// MACs do not check: that would re-authenticate whatever was changed in it.
    @discardableResult
    public func update<R>(_ change: (inout [String: IssuedCredential]) throws -> R) throws -> R {
        let mac = try RegistryMAC(paths: paths)
        try ensureDirectory(paths.directory)
        let lockFD = open(paths.registryLock, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw TallyError(.io, "cannot open \(paths.registryLock): \(String(cString: strerror(errno)))") }
        defer { close(lockFD) }
        guard flock(lockFD, LOCK_EX) == 0 else { throw TallyError(.io, "cannot lock \(paths.registryLock)") }
        defer { _ = flock(lockFD, LOCK_UN) }
        let (loaded, legacy) = try loadAuthenticated(mac: mac)
        if !legacy.isEmpty { try checkBeforeUpgrade(loaded, legacy: legacy) }
        var all = loaded
        let result = try change(&all)
        try write(all, mac: mac)
        return result
    }

    /// Entries without a MAC get one only when the ledger backs them as they are, and their `credential.issued` does
    /// not say they had one: otherwise stripping the MACs and waiting for the next `credentials issue` would
    /// re-authenticate an edited entry (e.g. a pending revocation removed). An entry without a MAC whose issuance is
    /// not in the ledger cannot be told from one added by hand (say to a file relabelled as the old format): refused
    /// too, pending or not.
    private func checkBeforeUpgrade(_ entries: [String: IssuedCredential], legacy: Set<String>) throws {
        let facts = try CredentialLedgerFacts.scan(home: paths.home)
        for id in legacy.sorted() {
            guard let entry = entries[id] else { continue }
            if let why = facts.disagreement(with: entry, legacy: true) {
                throw TallyError(.integrity, "\(paths.registry): \(why); refusing to add MACs to it (restore the file, "
                                 + "or delete the entry to drop that credential)")
            }
        }
    }

    /// The parsed file: entries, their MACs, and whether it is the authenticated format.
    private func read() throws -> (entries: [String: IssuedCredential], macs: [String: String], authenticated: Bool)? {
        guard let data = FileManager.default.contents(atPath: paths.registry) else {
            // No registry yet (nothing issued) is empty; one that exists but cannot be read (EMFILE under load, EACCES,
            // not a file) is an error, so that the gateway refuses with 503 and reads it again, instead of taking it
            // for empty and refusing every key as unknown until the file next changes.
            var st = stat()
            if stat(paths.registry, &st) != 0 && errno == ENOENT { return nil }
            throw TallyError(.io, "cannot read \(paths.registry)")
        }
        let file: RegistryFile
        do {
            file = try JSONDecoder().decode(RegistryFile.self, from: data)
        } catch {
            throw TallyError(.integrity, "\(paths.registry) is not a valid credential registry: \(Self.describe(error))")
        }
        guard file.format == RegistryFile.legacyFormat || file.format == RegistryFile.currentFormat else {
            throw TallyError(.integrity, "\(paths.registry) has format \(file.format); this tally reads "
                             + "\(RegistryFile.legacyFormat) and \(RegistryFile.currentFormat)")
        }
        var entries: [String: IssuedCredential] = [:]
        for c in file.credentials {
            guard entries.updateValue(c, forKey: c.accessKeyId) == nil else {
                throw TallyError(.integrity, "\(paths.registry) lists \(c.accessKeyId) twice")
            }
        }
        return (entries, file.macs ?? [:], file.format == RegistryFile.currentFormat)
    }

    /// The registry's modification stamp (for cheap reload checks), nil if it does not exist.
    public func stamp() -> RegistryStamp? {
        var st = stat()
        guard stat(paths.registry, &st) == 0 else { return nil }
        return RegistryStamp(seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec, inode: st.st_ino, size: st.st_size)
    }

    private func write(_ all: [String: IssuedCredential], mac: RegistryMAC) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let list = all.values.sorted { ($0.issuedAt, $0.accessKeyId) < ($1.issuedAt, $1.accessKeyId) }
        let macs = Dictionary(list.map { ($0.accessKeyId, mac.mac($0)) }, uniquingKeysWith: { _, b in b })
        let data = try encoder.encode(RegistryFile(credentials: list, macs: macs))
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

/// `credentials.json`. `tally-credentials-v1` (before review finding 12 was closed) has no `macs`;
/// `tally-credentials-v2` has one MAC per entry (``RegistryMAC``), keyed by access key id.
private struct RegistryFile: Codable {
    static let legacyFormat = "tally-credentials-v1"
    static let currentFormat = "tally-credentials-v2"
    var format = currentFormat
    var credentials: [IssuedCredential]
    var macs: [String: String]?
    init(credentials: [IssuedCredential], macs: [String: String]) {
        self.credentials = credentials
        self.macs = macs
    }
}

extension CredentialRegistry {
    /// A decoding error in words (Swift's description of one reads "DecodingError.dataCorrupted: Data was corrupted.
    /// Debug description: ..."; session 12 probe).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .dataCorrupted(let c) where c.codingPath.isEmpty: return "it is not JSON (\(c.debugDescription))"
        case .dataCorrupted(let c): return "bad value at \(at(c.codingPath)): \(c.debugDescription)"
        case .keyNotFound(let key, let c): return "\"\(key.stringValue)\" is missing at \(at(c.codingPath))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type at \(at(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
