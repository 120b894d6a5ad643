/// One operation's row of the mapping table, as loaded from the resource.
public struct APIMappingEntry: Sendable, Hashable {
    /// The IAM service prefix, e.g. "s3".
    public var service: String
    /// The botocore service the operation belongs to, e.g. "s3" or "s3control" (both prefix "s3").
    public var api: String
    public var operation: String
    /// False for an operation the table reports as unmapped.
    public var mapped: Bool
    /// "generated" | "override" ("" when unmapped).
    public var provenance: String
    public var rules: [String]
    public var reason: String
    public var permissions: [APIPermissionRule]
}

/// A permission of an operation, with the request condition under which it applies.
public struct APIPermissionRule: Sendable, Hashable {
    public var action: String
    /// Applies only when this input member is present ("Member", "Member|WireName" or "Member?queryName").
    public var when: String?
    /// Applies only when this input member is absent.
    public var unless: String?
    /// Applies only when each member's value has the text as its first word (case-insensitive; white space, `(`, `/`
    /// and SQL comments before it skipped; see `CompiledPermission.firstWord`). A rule whose text is "*" is the
    /// "otherwise" of the rules on that member: it applies when the member is present and none of them matched.
    public var whenPrefix: [String: String]
    /// Resource patterns: ${Partition}, ${Region}, ${Account}, ${in:Member} or ${in:Member|transform}; "*".
    public var resources: [String]
}
