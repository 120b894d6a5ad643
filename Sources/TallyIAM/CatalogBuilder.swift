import TallyCore

/// Parsing support for the catalog payload (format 2, see Tools/generate-iam-catalog.py).

/// One payload line: its bytes and the ranges of its TAB-separated fields.
struct CatalogLine {
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
struct CatalogBuilder {
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
