import Foundation
public import TallyCore

extension APIMapping {
    /// The path of the committed mapping resource.
    public static func resourcePath() throws -> String { try TallyResource.path("api-mapping.tlz") }

    /// Parses a mapping resource file (uncached; `load()` is the cached form).
    ///
    /// Payload: UTF-8 lines of TAB-separated fields —
    /// `N signingName prefix` (an alias), `U prefix Operation reason api` (unmapped),
    /// `O prefix Operation provenance rules reason api` (a mapped operation), followed by its
    /// `P action when unless whenPrefix resource...` lines (whenPrefix as `Member=text,...`).
    public init(contentsOf path: String) throws {
        let (header, payload) = try TallyResource.read(path: path)
        guard header["format"] as? String == "tally-api-mapping", header["formatVersion"] as? Int == 1 else {
            throw TallyError(.badInput, "\(path): not a tally-api-mapping version 1 file")
        }
        let src = header["sources"] as? [String: Any] ?? [:]
        let catalog = src["catalog"] as? [String: Any] ?? [:]
        let overrides = src["overrides"] as? [String: Any] ?? [:]
        let sources = APIMappingSources(
            botocore: src["botocore"] as? String ?? "?",
            catalogPackage: catalog["package"] as? String ?? "?",
            catalogVersion: catalog["version"] as? String ?? "?",
            overridesSHA256: overrides["sha256"] as? String ?? "",
            reviewedServices: header["reviewedServices"] as? [String] ?? [])
        var entries: [APIMappingEntry] = []
        var aliases: [String: String] = [:]
        var lineNumber = 0
        for line in payload.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            let f = line.split(separator: 0x09, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            func bad(_ why: String) -> TallyError { TallyError(.badInput, "\(path): line \(lineNumber): \(why)") }
            switch f[0] {
            case "N" where f.count >= 3:
                aliases[f[1].lowercased()] = f[2].lowercased()
            case "U" where f.count >= 5:
                entries.append(APIMappingEntry(service: f[1], api: f[4], operation: f[2], mapped: false, provenance: "",
                                               rules: [], reason: f[3], permissions: []))
            case "O" where f.count >= 7:
                entries.append(APIMappingEntry(service: f[1], api: f[6], operation: f[2], mapped: true, provenance: f[3],
                                               rules: f[4].isEmpty ? [] : f[4].utf8.split(separator: 0x2C).map { String(Substring($0)) },
                                               reason: f[5], permissions: []))
            case "P" where f.count >= 6:
                guard !entries.isEmpty, entries[entries.count - 1].mapped else { throw bad("permission outside a mapped operation") }
                var prefixes: [String: String] = [:]
                for test in f[4].split(separator: ",") {
                    guard let eq = test.firstIndex(of: "=") else { throw bad("whenPrefix \(test) lacks =") }
                    prefixes[String(test[..<eq])] = String(test[test.index(after: eq)...])
                }
                entries[entries.count - 1].permissions.append(APIPermissionRule(
                    action: f[1], when: f[2].isEmpty ? nil : f[2], unless: f[3].isEmpty ? nil : f[3],
                    whenPrefix: prefixes, resources: Array(f[5...])))
            default:
                throw bad("malformed record \(f[0]) with \(f.count) fields")
            }
        }
        var index: [String: Int] = [:]
        var compiled: [[CompiledPermission]] = []
        compiled.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            index[entry.service.lowercased() + ":" + entry.operation.lowercased()] = i
            do { compiled.append(try entry.permissions.map(CompiledPermission.init)) }
            catch { throw TallyError(.badInput, "\(path): \(entry.service):\(entry.operation): \(error)") }
        }
        self.entries = entries
        self.signingNameAliases = aliases
        self.sources = sources
        self.index = index
        self.compiled = compiled
    }
}
