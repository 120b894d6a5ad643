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
    let compiled: [[CompiledPermission]]     // parallel to entries

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
        // The request's own API first: API Gateway V2's GetStage is not V1's (another path, other members).
        let own = request.api.flatMap { apiIndex[$0.lowercased() + ":" + request.operation.lowercased()] }
        guard let i = own.flatMap({ entries[$0].service == iamPrefix(for: request.service) ? $0 : nil }) ?? index[key] else {
            return APIMappingResult(permissions: [], provenance: "", mapped: false,
                                    reason: "\(request.service):\(request.operation) is not in the mapping table")
        }
        let entry = entries[i]
        guard entry.mapped else {
            return APIMappingResult(permissions: [], provenance: "", mapped: false, reason: entry.reason)
        }
        let context = ResolveContext(request: request)
        var permissions: [RequiredPermission] = []
        func add(_ action: String, _ resources: [String]) {
            if let j = permissions.firstIndex(where: { $0.action == action }) {
                for r in resources where !permissions[j].resources.contains(r) { permissions[j].resources.append(r) }
            } else {
                permissions.append(RequiredPermission(action: action, resources: resources))
            }
        }
        var body: JSONValue??  // parsed once, for the first rule that reads list elements
        for rule in compiled[i] {
            guard let (member, keys) = rule.elements else {
                if rule.applies(to: request.parameters) { add(rule.action, rule.resolve(context)) }
                continue
            }
            // A rule on the elements of a list member (DynamoDB's TransactItems[].Put, ...) or the keys of a map member
            // (BatchWriteItem's RequestItems[keys], the table names): applied to each in turn; it adds nothing when the
            // body holds none. A body Tally cannot read (none given, not JSON, duplicate keys, nested too deep) may
            // still be read by the upstream some way: the rule's action is then needed on "*", so that a deny rule
            // naming it still applies (fail closed).
            if body == nil { body = .some(request.jsonBody.flatMap { try? JSONValue(parsing: $0) }) }
            guard case .object(let top)?? = body else {
                add(rule.action, ["*"])
                continue
            }
            guard let value = top[member] else { continue }
            var each: [[String: String]] = []
            switch (value, keys) {
            case (.array(let elements), false):
                each = elements.map { CompiledPermission.elementParameters($0, list: member) }
            case (.object(let map), true):
                each = map.keys.sorted().map { ["\(member)[keys]": $0] }
            default:
                continue
            }
            for element in each {
                let merged = request.parameters.merging(element) { _, new in new }
                if rule.applies(to: merged) { add(rule.action, rule.resolve(ResolveContext(request: request, parameters: merged))) }
            }
        }
        return APIMappingResult(permissions: permissions, provenance: entry.provenance, mapped: true,
                                rules: entry.rules, reason: entry.reason)
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
