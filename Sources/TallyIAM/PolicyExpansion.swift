/// Resolves the action patterns of policies against the catalog: which concrete actions each
/// statement's Action (or NotAction, as the complement) covers.
///
/// Patterns repeat a lot across policies (`s3:Get*`, `ec2:Describe*`), so each distinct
/// lower-cased pattern is expanded once per expander.
public struct PolicyExpander {
    public let catalog: IAMCatalog
    /// Lower-cased pattern → indices into `catalog.allActions`.
    private var cache: [String: [Int32]] = [:]
    /// Per catalog action, the stamp of the last statement that covered it (deduplication without sets).
    private var marks: [UInt32] = []
    private var generation: UInt32 = 0
    /// Per catalog action: its lower-cased name (without the service prefix), as bytes.
    private let lowercasedNames: [[UInt8]]
    /// Per service: its lower-cased prefix (bytes) and its range in `catalog.allActions`.
    private let serviceRanges: [(prefix: [UInt8], range: Range<Int>)]

    public init(catalog: IAMCatalog) {
        self.catalog = catalog
        lowercasedNames = catalog.allActions.map { $0.name.utf8.map(asciiLower) }
        serviceRanges = catalog.services.compactMap { service in
            let prefix = service.prefix.lowercased()
            return catalog.serviceRanges[prefix].map { (Array(prefix.utf8), $0) }
        }
    }

    /// The concrete actions one pattern matches, as indices into `catalog.allActions` — the same
    /// actions as `IAMCatalog.expand(pattern:)` (case-insensitive; unknown names match nothing),
    /// without materialising `IAMAction` values.
    public mutating func actions(matching pattern: String) -> [Int32] {
        let key = pattern.lowercased()
        if let hit = cache[key] { return hit }
        let indices = resolve(key)
        cache[key] = indices
        return indices
    }

    private func resolve(_ pattern: String) -> [Int32] {
        if pattern == "*" { return Array(0..<Int32(catalog.allActions.count)) }
        guard let colon = pattern.firstIndex(of: ":") else { return [] }
        if !pattern.contains("*") && !pattern.contains("?") {
            return catalog.actionIndex[pattern].map { [Int32($0)] } ?? []
        }
        let service = String(pattern[..<colon])
        let namePattern = WildcardPattern(String(pattern[pattern.index(after: colon)...]), caseInsensitive: true)
        var ranges: [Range<Int>] = []
        if service.contains("*") || service.contains("?") {
            let servicePattern = WildcardPattern(service, caseInsensitive: true)
            ranges = serviceRanges.filter { servicePattern.matches(lowercasedUTF8: $0.prefix) }.map(\.range)
        } else if let range = catalog.serviceRanges[service] {
            ranges = [range]
        }
        var result: [Int32] = []
        for range in ranges {
            if namePattern.matchesEverything {
                result += range.map { Int32($0) }
                continue
            }
            for i in range where namePattern.matches(lowercasedUTF8: lowercasedNames[i]) { result.append(Int32(i)) }
        }
        return result
    }

    /// For each statement, the sorted indices (into `catalog.allActions`) of the actions it covers.
    public mutating func expand(_ document: PolicyDocument) -> [[Int32]] {
        if marks.isEmpty { marks = [UInt32](repeating: 0, count: catalog.allActions.count) }
        return document.statements.map { statement in
            generation &+= 1
            if generation == 0 {  // wrapped: start the stamps afresh
                marks = [UInt32](repeating: 0, count: marks.count)
                generation = 1
            }
            let stamp = generation
            var covered: [Int32] = []
            for pattern in statement.action.values {
                for index in actions(matching: pattern) where marks[Int(index)] != stamp {
                    marks[Int(index)] = stamp
                    covered.append(index)
                }
            }
            if statement.action.isNegated {
                return (0..<Int32(marks.count)).filter { marks[Int($0)] != stamp }
            }
            covered.sort()
            return covered
        }
    }

    /// The names of the actions a statement list covers, e.g. for printing.
    public func names(_ indices: [Int32]) -> [String] {
        indices.map { catalog.allActions[Int($0)].fullName }
    }
}
