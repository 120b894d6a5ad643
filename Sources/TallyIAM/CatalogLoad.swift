import Foundation
public import TallyCore

extension IAMCatalog {
    /// The path of the committed catalog resource.
    public static func resourcePath() throws -> String { try TallyResource.path("iam-catalog.tlz") }

    /// Parses a catalog resource file (uncached; `load()` is the cached form).
    public init(contentsOf path: String) throws {
        let (header, payload) = try TallyResource.read(path: path)
        guard header["format"] as? String == "tally-iam-catalog", header["formatVersion"] as? Int == 2 else {
            throw TallyError(.badInput, "\(path): not a tally-iam-catalog version 2 file")
        }
        let src = header["source"] as? [String: Any] ?? [:]
        let source = IAMCatalogSource(package: src["package"] as? String ?? "?",
                                      version: src["version"] as? String ?? "?",
                                      sha256: src["sha256"] as? String ?? "",
                                      payloadSHA256: header["sha256"] as? String ?? "")
        let counts = header["counts"] as? [String: Any] ?? [:]
        try self.init(payload: payload, source: source, origin: path,
                      expectedActions: counts["actions"] as? Int ?? 0, expectedStrings: counts["strings"] as? Int ?? 0)
    }

    /// Parses the decompressed text payload (format in Tools/generate-iam-catalog.py, version 2).
    init(payload: [UInt8], source: IAMCatalogSource, origin: String, expectedActions: Int = 0, expectedStrings: Int = 0) throws {
        var builder = CatalogBuilder()
        builder.actions.reserveCapacity(min(max(expectedActions, 0), 1 << 20))
        builder.strings.reserveCapacity(min(max(expectedStrings, 0), 1 << 20))
        try payload.withUnsafeBufferPointer { buffer in
            try TabSeparatedLines.forEach(in: buffer) { lineNumber, fields in
                do { try builder.add(CatalogLine(bytes: buffer, fields: fields)) }
                catch { throw TallyError(.badInput, "\(origin): line \(lineNumber): \(error)") }
            }
        }
        self = try builder.finish(source: source)
    }

    init(source: IAMCatalogSource, services: [IAMService], allActions: [IAMAction],
         resourceTypesByService: [String: [IAMResourceType]], conditionKeysByService: [String: [IAMConditionKey]]) {
        self.source = source
        self.services = services
        self.allActions = allActions
        self.resourceTypesByService = resourceTypesByService
        self.conditionKeysByService = conditionKeysByService
        var actionIndex: [String: Int] = [:]
        actionIndex.reserveCapacity(allActions.count)
        var ranges: [String: Range<Int>] = [:]
        var lower = 0
        for i in allActions.indices {
            actionIndex[(allActions[i].service + ":" + allActions[i].name).lowercased()] = i
            if i + 1 == allActions.count || allActions[i + 1].service != allActions[i].service {
                ranges[allActions[i].service.lowercased()] = lower..<(i + 1)
                lower = i + 1
            }
        }
        self.actionIndex = actionIndex
        self.serviceRanges = ranges
        var serviceIndex: [String: Int] = [:]
        for (i, service) in services.enumerated() { serviceIndex[service.prefix.lowercased()] = i }
        self.serviceIndex = serviceIndex
        self.conditionKeyIndex = ConditionKeyIndex(services: services, keysByService: conditionKeysByService)
    }
}
