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
                                      sha256: src["sha256"] as? String ?? "")
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
            var fields: [Range<Int>] = []
            fields.reserveCapacity(6)
            var lineNumber = 0
            var start = 0
            guard let base = buffer.baseAddress else { return }
            while start < buffer.count {
                let end = Self.find(0x0A, base, from: start, to: buffer.count)
                lineNumber += 1
                fields.removeAll(keepingCapacity: true)
                var fieldStart = start
                while true {
                    let tab = Self.find(0x09, base, from: fieldStart, to: end)
                    fields.append(fieldStart..<tab)
                    if tab == end { break }
                    fieldStart = tab + 1
                }
                let lineStart = start
                start = end + 1
                if end == lineStart { continue }
                do { try builder.add(CatalogLine(bytes: buffer, fields: fields)) }
                catch { throw TallyError(.badInput, "\(origin): line \(lineNumber): \(error)") }
            }
        }
        self = try builder.finish(source: source)
    }

    /// The index of the first `byte` in base[from..<to], or `to`.
    private static func find(_ byte: UInt8, _ base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int {
        guard from < to, let hit = memchr(base + from, Int32(byte), to - from) else { return to }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
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

/// One payload line: its bytes and the ranges of its TAB-separated fields.
private struct CatalogLine {
    let bytes: UnsafeBufferPointer<UInt8>
    let fields: [Range<Int>]

    var kind: UInt8 { bytes[fields[0].lowerBound] }
    var count: Int { fields.count }

    func string(_ i: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[fields[i]]), as: UTF8.self)
    }

    func isDash(_ i: Int) -> Bool { fields[i].count == 1 && bytes[fields[i].lowerBound] == UInt8(ascii: "-") }

    /// A non-negative decimal number.
    func int(_ i: Int) throws -> Int {
        try Self.number(bytes, fields[i])
    }

    /// Comma-separated decimal numbers.
    func ints(_ i: Int) throws -> [Int] {
        let range = fields[i]
        if range.isEmpty { return [] }
        var out: [Int] = []
        var from = range.lowerBound
        for j in range.lowerBound...range.upperBound where j == range.upperBound || bytes[j] == UInt8(ascii: ",") {
            out.append(try Self.number(bytes, from..<j))
            from = j + 1
        }
        return out
    }

    static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws -> Int {
        guard !range.isEmpty, range.count < 10 else { throw CatalogBuilder.LineError(description: "bad number") }
        var n = 0
        for j in range {
            let d = Int(bytes[j]) - 0x30
            guard d >= 0 && d <= 9 else { throw CatalogBuilder.LineError(description: "bad number") }
            n = n * 10 + d
        }
        return n
    }
}

/// Accumulates catalog records line by line.
private struct CatalogBuilder {
    struct LineError: Error, CustomStringConvertible { var description: String }

    static let levels: [IAMAccessLevel] = [.list, .read, .write, .permissionsManagement, .tagging]

    var strings: [String] = []
    var services: [IAMService] = []
    var actions: [IAMAction] = []
    var resourceTypes: [String: [IAMResourceType]] = [:]
    var conditionKeys: [String: [IAMConditionKey]] = [:]
    var prefix = ""
    var lowerPrefix = ""
    var templates: [Int: String] = [:]     // resource type string index -> ARN template, current service
    var actionStart = 0

    func string(_ index: Int) throws -> String {
        guard index < strings.count else { throw LineError(description: "string index \(index) out of range") }
        return strings[index]
    }

    func strings(_ indices: [Int]) throws -> [String] {
        try indices.map(string)
    }

    mutating func closeService() {
        guard !prefix.isEmpty else { return }
        services[services.count - 1].actionCount = actions.count - actionStart
    }

    mutating func add(_ line: CatalogLine) throws {
        func need(_ n: Int) throws {
            guard line.count >= n else { throw LineError(description: "record needs \(n) fields, has \(line.count)") }
        }
        switch line.kind {
        case UInt8(ascii: "Z"):
            try need(2)
            strings.append(line.string(1))
        case UInt8(ascii: "S"):
            try need(3)
            closeService()
            prefix = line.string(1)
            lowerPrefix = prefix.lowercased()
            templates = [:]
            actionStart = actions.count
            services.append(IAMService(prefix: prefix, name: line.string(2), actionCount: 0))
        case UInt8(ascii: "R"):
            try need(4)
            let index = try line.int(1)
            let arn = line.string(2)
            templates[index] = arn
            resourceTypes[lowerPrefix, default: []].append(IAMResourceType(
                service: prefix, name: try string(index), arnTemplate: arn, conditionKeys: try strings(line.ints(3))))
        case UInt8(ascii: "K"):
            try need(3)
            conditionKeys[lowerPrefix, default: []].append(IAMConditionKey(name: line.string(1), type: line.string(2)))
        case UInt8(ascii: "A"):
            try need(4)
            guard !prefix.isEmpty else { throw LineError(description: "action before any service") }
            let level = try line.int(2)
            guard level < Self.levels.count else { throw LineError(description: "unknown access level \(level)") }
            actions.append(IAMAction(service: prefix, name: line.string(1), accessLevel: Self.levels[level],
                                     description: line.string(3), resourceTypes: [], conditionKeys: [], dependentActions: []))
        case UInt8(ascii: "T"):
            try need(5)
            guard !actions.isEmpty else { throw LineError(description: "resource type before any action") }
            let keys = try strings(line.ints(3)), deps = try strings(line.ints(4))
            let i = actions.count - 1
            if !line.isDash(1) {
                let index = try line.int(1)
                actions[i].resourceTypes.append(IAMActionResourceType(
                    name: try string(index), required: (try line.int(2)) == 1, arnTemplate: templates[index] ?? "",
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
            throw LineError(description: "unknown record kind \(Character(Unicode.Scalar(line.kind)))")
        }
    }

    mutating func finish(source: IAMCatalogSource) throws -> IAMCatalog {
        closeService()
        guard !actions.isEmpty else { throw TallyError(.badInput, "the IAM catalog has no actions") }
        return IAMCatalog(source: source, services: services, allActions: actions,
                          resourceTypesByService: resourceTypes, conditionKeysByService: conditionKeys)
    }
}
