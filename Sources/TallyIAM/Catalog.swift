public import TallyCore

/// The IAM action catalog: every action of every AWS service with its access level, resource
/// types (and their ARN templates), condition keys and dependent actions.
///
/// Built from the committed resource `Resources/iam-catalog.tlz` (see Tools/generate-iam-catalog.py).
/// Lookups of action names and service prefixes are case-insensitive, as IAM's are.
public struct IAMCatalog: Sendable {
    /// The package the data came from, with its version.
    public let source: IAMCatalogSource
    /// Every service, sorted by prefix.
    public let services: [IAMService]
    /// Every action, sorted by service prefix then name.
    public let allActions: [IAMAction]

    let actionIndex: [String: Int]                  // lowercased "service:name" -> index in allActions
    let serviceRanges: [String: Range<Int>]         // lowercased prefix -> range in allActions
    let serviceIndex: [String: Int]                 // lowercased prefix -> index in services
    let resourceTypesByService: [String: [IAMResourceType]]     // lowercased prefix
    let conditionKeysByService: [String: [IAMConditionKey]]     // lowercased prefix
    let conditionKeyIndex: ConditionKeyIndex

    /// The catalog from the committed resource, parsed once per process and shared afterwards.
    public static func load() throws -> IAMCatalog {
        try shared.get()
    }

    private static let shared: Result<IAMCatalog, TallyError> = loadResult()

    private static func loadResult() -> Result<IAMCatalog, TallyError> {
        do { return .success(try IAMCatalog(contentsOf: try resourcePath())) }
        catch let error as TallyError { return .failure(error) }
        catch { return .failure(TallyError(.io, "cannot load the IAM catalog: \(error)")) }
    }

    /// One action by name ("s3:GetObject"), case-insensitive; nil when the catalog has no such action.
    public func action(named name: String) -> IAMAction? {
        actionIndex[name.lowercased()].map { allActions[$0] }
    }

    /// The service with this prefix (case-insensitive).
    public func service(prefix: String) -> IAMService? {
        serviceIndex[prefix.lowercased()].map { services[$0] }
    }

    /// Every action of a service (empty for an unknown prefix).
    public func actions(service prefix: String) -> ArraySlice<IAMAction> {
        guard let range = serviceRanges[prefix.lowercased()] else { return [] }
        return allActions[range]
    }

    /// The resource types an action can be scoped to, with their ARN templates (empty when the
    /// action supports only "*" or is unknown).
    public func resourceTypes(for actionName: String) -> [IAMActionResourceType] {
        action(named: actionName)?.resourceTypes ?? []
    }

    /// Every resource type a service defines.
    public func resourceTypes(service prefix: String) -> [IAMResourceType] {
        resourceTypesByService[prefix.lowercased()] ?? []
    }

    /// One resource type of a service by its name (exact, as the reference spells it).
    public func resourceType(service prefix: String, name: String) -> IAMResourceType? {
        resourceTypesByService[prefix.lowercased()]?.first { $0.name == name }
    }

    /// Every condition key a service defines (including the global `aws:` keys its reference page lists).
    public func conditionKeys(service prefix: String) -> [IAMConditionKey] {
        conditionKeysByService[prefix.lowercased()] ?? []
    }

    /// The condition key definition that `key` (e.g. "s3:prefix", "aws:ResourceTag/Owner") is an
    /// instance of, looked up in the service named by its prefix and, for `aws:` keys, in every
    /// service. Case-insensitive, as condition key names are. Nil when no definition matches.
    public func conditionKey(named key: String) -> IAMConditionKey? {
        conditionKeyIndex.lookup(key)
    }
}
