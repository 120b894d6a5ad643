import Foundation
public import TallyCore

extension IAMCatalog {
    /// The path of the committed catalog resource.
    public static func resourcePath() throws -> String { try TallyResource.path("iam-catalog.tlz") }

    /// Parses a catalog resource file (uncached; `load()` is the cached form).
    public init(contentsOf path: String) throws {
        let (header, payload) = try TallyResource.read(path: path)
        guard header["format"] as? String == "tally-iam-catalog", header["formatVersion"] as? Int == 1 else {
            throw TallyError(.badInput, "\(path): not a tally-iam-catalog version 1 file")
        }
        let src = header["source"] as? [String: Any] ?? [:]
        let source = IAMCatalogSource(package: src["package"] as? String ?? "?",
                                      version: src["version"] as? String ?? "?",
                                      sha256: src["sha256"] as? String ?? "")
        try self.init(payload: payload, source: source, origin: path)
    }

    /// Parses the decompressed text payload (format in Tools/generate-iam-catalog.py).
    init(payload: [UInt8], source: IAMCatalogSource, origin: String) throws {
        var builder = CatalogBuilder()
        try payload.withUnsafeBufferPointer { buffer in
            var lineNumber = 0
            var start = 0
            while start < buffer.count {
                var end = start
                while end < buffer.count && buffer[end] != 0x0A { end += 1 }
                lineNumber += 1
                let line = UnsafeBufferPointer(rebasing: buffer[start..<end])
                start = end + 1
                if line.isEmpty { continue }
                var parts: [String] = []
                parts.reserveCapacity(5)
                var fieldStart = 0
                for i in 0...line.count where i == line.count || line[i] == 0x09 {
                    parts.append(String(decoding: UnsafeBufferPointer(rebasing: line[fieldStart..<i]), as: UTF8.self))
                    fieldStart = i + 1
                }
                do { try builder.add(parts) }
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
        for (i, action) in allActions.enumerated() {
            actionIndex[action.fullName.lowercased()] = i
            if i + 1 == allActions.count || allActions[i + 1].service != action.service {
                ranges[action.service.lowercased()] = lower..<(i + 1)
                lower = i + 1
            }
        }
        self.actionIndex = actionIndex
        self.serviceRanges = ranges
        var serviceIndex: [String: Int] = [:]
        for (i, service) in services.enumerated() { serviceIndex[service.prefix.lowercased()] = i }
        self.serviceIndex = serviceIndex
    }
}

/// Accumulates catalog records line by line.
private struct CatalogBuilder {
    struct LineError: Error, CustomStringConvertible { var description: String }

    var services: [IAMService] = []
    var actions: [IAMAction] = []
    var resourceTypes: [String: [IAMResourceType]] = [:]
    var conditionKeys: [String: [IAMConditionKey]] = [:]
    var prefix = ""
    var templates: [String: String] = [:]     // resource type name -> ARN template, current service
    var actionStart = 0

    static func list(_ field: String) -> [String] {
        field.isEmpty ? [] : field.utf8.split(separator: UInt8(ascii: ",")).map { String(Substring($0)) }
    }

    mutating func closeService() {
        guard !prefix.isEmpty else { return }
        services[services.count - 1].actionCount = actions.count - actionStart
    }

    mutating func add(_ f: [String]) throws {
        func need(_ n: Int) throws {
            guard f.count >= n else { throw LineError(description: "record \(f[0]) needs \(n) fields, has \(f.count)") }
        }
        switch f[0] {
        case "S":
            try need(3)
            closeService()
            prefix = f[1]
            templates = [:]
            actionStart = actions.count
            services.append(IAMService(prefix: f[1], name: f[2], actionCount: 0))
        case "R":
            try need(4)
            templates[f[1]] = f[2]
            resourceTypes[prefix.lowercased(), default: []].append(
                IAMResourceType(service: prefix, name: f[1], arnTemplate: f[2], conditionKeys: Self.list(f[3])))
        case "K":
            try need(3)
            conditionKeys[prefix.lowercased(), default: []].append(IAMConditionKey(name: f[1], type: f[2]))
        case "A":
            try need(4)
            guard !prefix.isEmpty else { throw LineError(description: "action before any service") }
            guard let level = IAMAccessLevel(rawValue: f[2]) else {
                throw LineError(description: "unknown access level \(f[2])")
            }
            actions.append(IAMAction(service: prefix, name: f[1], accessLevel: level, description: f[3],
                                     resourceTypes: [], conditionKeys: [], dependentActions: []))
        case "T":
            try need(5)
            guard !actions.isEmpty else { throw LineError(description: "resource type before any action") }
            let keys = Self.list(f[3]), deps = Self.list(f[4])
            let i = actions.count - 1
            if !f[1].isEmpty {
                actions[i].resourceTypes.append(IAMActionResourceType(
                    name: f[1], required: f[2] == "1", arnTemplate: templates[f[1]] ?? "",
                    conditionKeys: keys, dependentActions: deps))
            }
            if actions[i].conditionKeys.isEmpty {
                actions[i].conditionKeys = keys
            } else {
                for key in keys where !actions[i].conditionKeys.contains(key) { actions[i].conditionKeys.append(key) }
            }
            if actions[i].dependentActions.isEmpty {
                actions[i].dependentActions = deps
            } else {
                for dep in deps where !actions[i].dependentActions.contains(dep) { actions[i].dependentActions.append(dep) }
            }
        default:
            throw LineError(description: "unknown record kind \(f[0])")
        }
    }

    mutating func finish(source: IAMCatalogSource) throws -> IAMCatalog {
        closeService()
        guard !actions.isEmpty else { throw TallyError(.badInput, "the IAM catalog has no actions") }
        return IAMCatalog(source: source, services: services, allActions: actions,
                          resourceTypesByService: resourceTypes, conditionKeysByService: conditionKeys)
    }
}
