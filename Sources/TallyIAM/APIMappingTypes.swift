/// One AWS API request as the gateway identified it, for the API → IAM action mapping.
public struct APIRequestContext: Sendable {
    /// The IAM service prefix or the botocore signing name, e.g. "s3", "dynamodb", "monitoring".
    public var service: String
    /// The botocore operation name, e.g. "GetObject", "PutItem".
    public var operation: String
    /// Top-level input members as strings ("Bucket": "b", "Key": "k", "QueueUrl": ...); a present
    /// non-scalar member is "".
    public var parameters: [String: String]
    public var region: String
    /// The upstream account id.
    public var account: String
    /// The request's JSON body, for the rules that read the elements of a list member (`List[].Member`, e.g.
    /// DynamoDB's `TransactItems[].Put.TableName`); read only for those operations. Nil for other protocols.
    public var jsonBody: [UInt8]?
    /// The botocore API the operation was identified in (e.g. "apigatewayv2"), when known: its own row is used
    /// where two APIs of one IAM prefix share an operation name.
    public var api: String?

    public init(service: String, operation: String, parameters: [String: String], region: String, account: String,
                jsonBody: [UInt8]? = nil, api: String? = nil) {
        self.api = api
        self.service = service
        self.operation = operation
        self.parameters = parameters
        self.region = region
        self.account = account
        self.jsonBody = jsonBody
    }
}

/// One IAM action a request needs, and the resources it needs it on.
public struct RequiredPermission: Sendable, Hashable, Codable {
    /// e.g. "s3:GetObject".
    public var action: String
    /// ARNs built from the action's templates; ["*"] when the action has no resource type or a value is unknown.
    public var resources: [String]

    public init(action: String, resources: [String]) {
        self.action = action
        self.resources = resources
    }
}

/// What the mapping says about one request.
public struct APIMappingResult: Sendable {
    /// The permissions the request needs (empty for a mapped operation that needs none, e.g. sts:GetCallerIdentity).
    public var permissions: [RequiredPermission]
    /// "generated" (botocore + catalog) or "override" (Tools/iam-overrides.json); "" when unmapped.
    public var provenance: String
    /// False: the operation is not in the table (reported, never guessed).
    public var mapped: Bool
    /// Generator rules that added permissions, e.g. ["passrole"], and the marker "readsBody" (see ``readsBody``).
    public var rules: [String]
    /// Why the mapping is what it is (the override's reason), or why the operation is unmapped.
    public var reason: String
    /// Which actions the request needs depends on a member of its JSON body (the generator's marker "readsBody": a
    /// rule's `when`, `unless`, `whenPrefix` or element test, or iam:PassRole on a role member, names a body member of
    /// a JSON or REST-JSON operation): a body the caller could not read (so left out of `parameters`) may hide an action.
    public var readsBody: Bool

    public init(permissions: [RequiredPermission], provenance: String, mapped: Bool, rules: [String] = [], reason: String = "",
                readsBody: Bool = false) {
        self.permissions = permissions
        self.provenance = provenance
        self.mapped = mapped
        self.rules = rules
        self.reason = reason
        self.readsBody = readsBody
    }
}
