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
            catalogSHA256: catalog["sha256"] as? String ?? "",
            overridesSHA256: overrides["sha256"] as? String ?? "",
            reviewedServices: header["reviewedServices"] as? [String] ?? [])
        var entries: [APIMappingEntry] = []
        var aliases: [String: String] = [:]
        var compiled: [[CompiledPermission]] = []
        var patternCache: [String: [PatternSegment]] = [:]
        try payload.withUnsafeBufferPointer { buffer in
            func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: buffer[r]), as: UTF8.self) }
            try TabSeparatedLines.forEach(in: buffer) { lineNumber, fields in
                let kind = buffer[fields[0].lowerBound]
                func bad(_ why: String) -> TallyError { TallyError(.badInput, "\(path): line \(lineNumber): \(why)") }
                switch kind {
                case UInt8(ascii: "N") where fields.count >= 3:
                    aliases[text(fields[1]).lowercased()] = text(fields[2]).lowercased()
                case UInt8(ascii: "U") where fields.count >= 5:
                    entries.append(APIMappingEntry(service: text(fields[1]), api: text(fields[4]), operation: text(fields[2]),
                                                   mapped: false, provenance: "", rules: [], reason: text(fields[3]), permissions: []))
                    compiled.append([])
                case UInt8(ascii: "O") where fields.count >= 7:
                    let rules = fields[4].isEmpty ? [] : text(fields[4]).utf8.split(separator: 0x2C).map { String(Substring($0)) }
                    entries.append(APIMappingEntry(service: text(fields[1]), api: text(fields[6]), operation: text(fields[2]),
                                                   mapped: true, provenance: text(fields[3]), rules: rules,
                                                   reason: text(fields[5]), permissions: []))
                    compiled.append([])
                case UInt8(ascii: "P") where fields.count >= 6:
                    guard !entries.isEmpty, entries[entries.count - 1].mapped else { throw bad("permission outside a mapped operation") }
                    var prefixes: [String: String] = [:]
                    if !fields[4].isEmpty {
                        for test in text(fields[4]).split(separator: ",") {
                            guard let eq = test.firstIndex(of: "=") else { throw bad("whenPrefix \(test) lacks =") }
                            prefixes[String(test[..<eq])] = String(test[test.index(after: eq)...])
                        }
                    }
                    let resources = fields[5...].map(text)
                    let rule = APIPermissionRule(
                        action: text(fields[1]), when: fields[2].isEmpty ? nil : text(fields[2]),
                        unless: fields[3].isEmpty ? nil : text(fields[3]), whenPrefix: prefixes, resources: resources)
                    var patterns: [[PatternSegment]] = []
                    for resource in resources {
                        if let hit = patternCache[resource] { patterns.append(hit); continue }
                        do {
                            let segments = try CompiledPermission.compile(resource)
                            patternCache[resource] = segments
                            patterns.append(segments)
                        } catch { throw bad("\(error)") }
                    }
                    entries[entries.count - 1].permissions.append(rule)
                    compiled[compiled.count - 1].append(CompiledPermission(rule, patterns: patterns))
                default:
                    throw bad("malformed record with \(fields.count) fields")
                }
            }
        }
        // By IAM prefix, the first row of a name winning (API Gateway V1 before V2, which shares 40 operation names),
        // and by botocore API for the rows a request can name by its model (see `permissions(for:)`).
        var index: [String: Int] = [:]
        var apiIndex: [String: Int] = [:]
        var shared = Set<String>()
        index.reserveCapacity(entries.count)
        for i in entries.indices {
            let key = (entries[i].service + ":" + entries[i].operation).lowercased()
            if index[key] == nil { index[key] = i } else { shared.insert(key) }
            apiIndex[(entries[i].api + ":" + entries[i].operation).lowercased()] = i
        }
        self.apiIndex = apiIndex
        self.shared = shared
        self.entries = entries
        self.signingNameAliases = aliases
        self.sources = sources
        self.index = index
        self.shapes = zip(compiled, entries).map { RuleShape($0, entryRules: $1.rules) }
    }
}
