/// Resolves the action patterns of policies against the catalog: which concrete actions each
/// statement's Action (or NotAction, as the complement) covers.
///
/// Patterns repeat a lot across policies (`s3:Get*`, `ec2:Describe*`), so each distinct
/// lower-cased pattern is expanded once per expander.
public struct PolicyExpander {
    public let catalog: IAMCatalog
    /// Lower-cased pattern → indices into `catalog.allActions`.
    private var cache: [String: [Int32]] = [:]
    private let indexByName: [String: Int32]

    public init(catalog: IAMCatalog) {
        self.catalog = catalog
        var index: [String: Int32] = [:]
        index.reserveCapacity(catalog.allActions.count)
        for (i, action) in catalog.allActions.enumerated() { index[action.fullName.lowercased()] = Int32(i) }
        indexByName = index
    }

    /// The concrete actions one pattern matches (case-insensitive; unknown names match nothing).
    public mutating func actions(matching pattern: String) -> [Int32] {
        let key = pattern.lowercased()
        if let hit = cache[key] { return hit }
        let indices = catalog.expand(pattern: pattern).compactMap { indexByName[$0.fullName.lowercased()] }
        cache[key] = indices
        return indices
    }

    /// For each statement, the sorted indices (into `catalog.allActions`) of the actions it covers.
    public mutating func expand(_ document: PolicyDocument) -> [[Int32]] {
        document.statements.map { statement in
            var covered = Set<Int32>()
            for pattern in statement.action.values { covered.formUnion(actions(matching: pattern)) }
            if statement.action.isNegated {
                return (0..<Int32(catalog.allActions.count)).filter { !covered.contains($0) }
            }
            return covered.sorted()
        }
    }

    /// The names of the actions a statement list covers, e.g. for printing.
    public func names(_ indices: [Int32]) -> [String] {
        indices.map { catalog.allActions[Int($0)].fullName }
    }
}
