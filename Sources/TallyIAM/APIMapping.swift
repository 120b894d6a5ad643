public import TallyCore

/// The API operation → IAM actions table (Resources/api-mapping.tlz, made by
/// Tools/generate-api-mapping.py from botocore's models, the catalog and Tools/iam-overrides.json).
public struct APIMapping: Sendable {
    /// Every row, in the generator's order (reviewed services first).
    public let entries: [APIMappingEntry]
    /// Signing names that differ from their IAM prefix, e.g. "monitoring" → "cloudwatch".
    public let signingNameAliases: [String: String]
    /// Where the table came from: botocore version, catalog version, overrides digest.
    public let sources: APIMappingSources

    let index: [String: Int]                 // lowercased "prefix:operation" -> entries index (the first such row)
    let apiIndex: [String: Int]              // lowercased "botocore API:operation" -> entries index
    let shared: Set<String>                  // the "prefix:operation" keys of more than one row
    let shapes: [RuleShape]                  // parallel to entries: each row's rules, sorted by how they apply

    /// A row's compiled rules as `permissions(for:)` applies them, sorted once at load.
    struct RuleShape: Sendable {
        /// Rules on the request's top-level members (the others' `elements` is nil).
        var topLevel: [CompiledPermission]
        /// Rules on values found along a path deep in the JSON body.
        var deep: [CompiledPermission]
        /// The list elements / map keys rules, per member, in first-rule order.
        var scopes: [(member: String, keys: Bool, rules: [CompiledPermission])]
        /// The generator's "readsBody" marker (see ``APIMappingResult/readsBody``).
        var readsBody: Bool

        init(_ rules: [CompiledPermission], entryRules: [String]) {
            topLevel = rules.filter { $0.elements == nil }
            deep = rules.filter { $0.deepPath != nil }
            scopes = []
            for rule in rules {
                guard let e = rule.elements, !scopes.contains(where: { $0.member == e.member && $0.keys == e.keys }) else { continue }
                scopes.append((e.member, e.keys, rules.filter { $0.elements?.member == e.member && $0.elements?.keys == e.keys }))
            }
            readsBody = entryRules.contains("readsBody")
        }
    }

    /// The most elements (or map keys) whose permissions are built one by one; AWS takes at most 100 (TransactItems,
    /// TransactStatements, BatchGetItem keys), so a longer list is refused upstream and is mapped to "*" instead.
    public static let maxElements = 100

    /// The table from the committed resource, parsed once per process and shared afterwards.
    public static func load() throws -> APIMapping {
        try shared.get()
    }

    private static let shared: Result<APIMapping, TallyError> = loadResult()

    private static func loadResult() -> Result<APIMapping, TallyError> {
        do { return .success(try APIMapping(contentsOf: try resourcePath())) }
        catch let error as TallyError { return .failure(error) }
        catch { return .failure(TallyError(.io, "cannot load the API mapping: \(error)")) }
    }

    /// The IAM prefix for a service name the gateway knows (a prefix or a signing name).
    public func iamPrefix(for service: String) -> String {
        let lower = service.lowercased()
        return signingNameAliases[lower] ?? lower
    }

    /// The table row of an operation (service: prefix or signing name; operation: exact or any case).
    public func entry(service: String, operation: String) -> APIMappingEntry? {
        index[iamPrefix(for: service) + ":" + operation.lowercased()].map { entries[$0] }
    }

    /// The IAM permissions a request needs, with the ARNs built from its parameters.
    /// Unknown operations come back with `mapped == false` and no permissions: never guessed.
    public func permissions(for request: APIRequestContext) -> APIMappingResult {
        let key = iamPrefix(for: request.service) + ":" + request.operation.lowercased()
        // A name two APIs of the prefix share: the request's own API's row (API Gateway V2's GetStage is not V1's:
        // another path, other members).
        let own = shared.contains(key) ? request.api.flatMap { apiIndex[$0.lowercased() + ":" + request.operation.lowercased()] } : nil
        guard let i = own.flatMap({ entries[$0].service == iamPrefix(for: request.service) ? $0 : nil }) ?? index[key] else {
            return APIMappingResult(permissions: [], provenance: "", mapped: false,
                                    reason: "\(request.service):\(request.operation) is not in the mapping table")
        }
        let entry = entries[i]
        guard entry.mapped else {
            return APIMappingResult(permissions: [], provenance: "", mapped: false, reason: entry.reason)
        }
        var permissions: [RequiredPermission] = []
        // Resources are merged per action; a set is built only for an action with many (element rules), so the
        // common call (one action, one or two ARNs) allocates nothing more than its result.
        var seen: [Int: Set<String>] = [:]
        func add(_ action: String, _ resources: [String]) {
            let j: Int
            if let k = permissions.firstIndex(where: { $0.action == action }) { j = k } else {
                permissions.append(RequiredPermission(action: action, resources: []))
                j = permissions.count - 1
            }
            for r in resources {
                if seen[j] == nil && permissions[j].resources.count >= 16 { seen[j] = Set(permissions[j].resources) }
                if seen[j] != nil {
                    if !seen[j]!.insert(r).inserted { continue }
                } else if permissions[j].resources.contains(r) {
                    continue
                }
                permissions[j].resources.append(r)
            }
        }
        /// Applies `rules` to one set of parameters (the top level, or one element merged over it). A rule whose
        /// `whenPrefix` text is "*" is the "otherwise" of the rules testing the same member's first word (PartiQL's
        /// verb, SSM's ResourceType): it applies when the member is present and none of their texts matched it (another
        /// verb, or a character Tally does not read as a word boundary), so a deny rule naming one still applies.
        func apply(_ rules: [CompiledPermission], _ parameters: [String: String]) {
            let context = ResolveContext(request: request, parameters: parameters)
            var matched = Set<String>()  // members whose first word a rule recognised
            for rule in rules where !rule.otherwise && rule.deepPath == nil && rule.applies(to: parameters) {
                add(rule.action, rule.resolve(context))
                for test in rule.whenPrefix { matched.insert(test.member) }
            }
            for rule in rules where rule.otherwise && rule.applies(to: parameters)
                && !rule.whenPrefix.contains(where: { matched.contains($0.member) }) {
                add(rule.action, rule.resolve(context))
            }
        }
        // Top-level rules, then the rules on the elements of each list member (DynamoDB's TransactItems[].Put, ...) or
        // the keys of each map member (BatchWriteItem's RequestItems[keys], the table names), element by element.
        let shape = shapes[i]
        apply(shape.topLevel, request.parameters)
        // Deep-path rules (a role passed three levels down): once per value found in the body; a body Tally cannot
        // read, or more values than AWS takes, gives the action on "*" (fail closed).
        let body = !shape.scopes.isEmpty || !shape.deep.isEmpty ? request.jsonBody.flatMap { try? JSONValue(parsing: $0) } : nil
        for rule in shape.deep {
            guard let path = rule.deepPath else { continue }
            guard let body, let values = CompiledPermission.deepValues(path, in: body, limit: Self.maxElements) else {
                add(rule.action, ["*"])
                continue
            }
            // A list the path ends in that is there but empty ("SecretIdList": [] beside Filters) names nothing: the
            // action on "*" (it was left out, and a deny rule naming it let the call through; session 12 review).
            if values.isEmpty, Self.isEmptyList(at: path, in: body) {
                add(rule.action, ["*"])
                continue
            }
            for value in values {
                add(rule.action, rule.resolve(ResolveContext(request: request, parameters: [path: value])))
            }
        }
        guard !shape.scopes.isEmpty else {
            return APIMappingResult(permissions: permissions, provenance: entry.provenance, mapped: true,
                                    rules: entry.rules, reason: entry.reason, readsBody: shape.readsBody)
        }
        // Element names in the top level are not the body's elements (a member named "TransactItems[].Delete" is data).
        let top = request.parameters.filter { !$0.key.utf8.contains(UInt8(ascii: "[")) }
        for scope in shape.scopes {
            let scoped = scope.rules
            // A body Tally cannot read (none given, not JSON, duplicate keys, nested too deep) may still be read by the
            // upstream some way, and one with more elements than AWS takes is refused there: each rule's action on
            // "*" (fail closed: a deny rule naming it still applies), without building ARNs element by element.
            guard case .object(let members)? = body else {
                for rule in scoped { add(rule.action, ["*"]) }
                continue
            }
            guard let value = members[scope.member] else { continue }
            var each: [[String: String]] = []
            switch (value, scope.keys) {
            case (.array(let elements), false) where elements.count <= Self.maxElements:
                each = elements.map { CompiledPermission.elementParameters($0, list: scope.member) }
            case (.object, false):
                // An object where the model has a list is read as one element (the upstream may accept either shape).
                each = [CompiledPermission.elementParameters(value, list: scope.member)]
            case (.object(let map), true) where map.count <= Self.maxElements:
                each = map.keys.sorted().map { ["\(scope.member)[keys]": $0] }
            case (.array, false), (.object, true):
                for rule in scoped { add(rule.action, ["*"]) }
                continue
            default:
                continue  // not a list (or map): the upstream refuses it
            }
            for element in each { apply(scoped, top.merging(element) { _, new in new }) }
        }
        return APIMappingResult(permissions: permissions, provenance: entry.provenance, mapped: true,
                                rules: entry.rules, reason: entry.reason, readsBody: shape.readsBody)
    }
}

extension APIMapping {
    /// True when `path` (`$.A.B[]`, objects down to a list) leads to a list that is there and empty.
    static func isEmptyList(at path: String, in body: JSONValue) -> Bool {
        guard path.hasPrefix("$."), path.hasSuffix("[]") else { return false }
        var node = body
        for segment in path.dropFirst(2).dropLast(2).split(separator: ".", omittingEmptySubsequences: false) {
            guard !segment.hasSuffix("[]"), case .object(let members) = node, let next = members[String(segment)] else { return false }
            node = next
        }
        if case .array(let elements) = node { return elements.isEmpty }
        return false
    }
}

/// The versions of the inputs the mapping table was generated from.
public struct APIMappingSources: Sendable, Hashable, Codable {
    public var botocore: String
    public var catalogPackage: String
    public var catalogVersion: String
    /// SHA-256 of the catalog payload the table was generated against.
    public var catalogSHA256: String
    public var overridesSHA256: String
    /// The services whose coverage is reviewed and held by a test.
    public var reviewedServices: [String]
}
