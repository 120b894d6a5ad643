/// An IAM policy document: identity-based, resource-based, permissions boundary, SCP or session
/// policy (they share one grammar).
public struct PolicyDocument: Sendable, Hashable {
    /// "2012-10-17", "2008-10-17", or nil when the document has no Version (treated as 2008-10-17:
    /// policy variables are then plain text).
    public var version: String?
    public var id: String?
    public var statements: [PolicyStatement]

    public init(version: String? = PolicyDocument.currentVersion, id: String? = nil, statements: [PolicyStatement]) {
        self.version = version
        self.id = id
        self.statements = statements
    }

    /// The current policy language version, the only one with policy variables.
    public static let currentVersion = "2012-10-17"
    /// Whether `${...}` in resources and condition values are policy variables.
    public var supportsPolicyVariables: Bool { version == PolicyDocument.currentVersion }
}

/// Allow or Deny.
public enum PolicyEffect: String, Sendable, Hashable, Codable {
    case allow = "Allow"
    case deny = "Deny"
}

/// One statement of a policy.
public struct PolicyStatement: Sendable, Hashable {
    public var sid: String?
    public var effect: PolicyEffect
    /// Action or NotAction patterns (`service:Name`, with `*` and `?`; matched case-insensitively).
    public var action: Element<String>
    /// Resource or NotResource patterns (ARNs with `*`, `?` and policy variables; case-sensitive).
    /// nil when the statement has neither (trust policies).
    public var resource: Element<String>?
    /// Principal or NotPrincipal (resource-based policies only).
    public var principal: Element<PolicyPrincipal>?
    /// The Condition block, one clause per operator and key, in document order. All must hold.
    public var conditions: [ConditionClause]

    public init(
        sid: String? = nil, effect: PolicyEffect, action: Element<String>, resource: Element<String>? = .positive(["*"]),
        principal: Element<PolicyPrincipal>? = nil, conditions: [ConditionClause] = []
    ) {
        self.sid = sid
        self.effect = effect
        self.action = action
        self.resource = resource
        self.principal = principal
        self.conditions = conditions
    }

    /// An element that comes in a positive and a negated form (Action/NotAction, ...).
    public enum Element<Value: Sendable & Hashable>: Sendable, Hashable {
        /// Action, Resource, Principal: the statement applies to what matches.
        case positive([Value])
        /// NotAction, NotResource, NotPrincipal: the statement applies to everything else.
        case negated([Value])

        public var values: [Value] {
            switch self {
            case .positive(let v), .negated(let v): v
            }
        }
        public var isNegated: Bool {
            if case .negated = self { return true }
            return false
        }
    }
}

/// A Principal / NotPrincipal value: `"*"` or a map of principal types to identifiers.
public struct PolicyPrincipal: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case aws = "AWS"
        case service = "Service"
        case federated = "Federated"
        case canonicalUser = "CanonicalUser"
    }
    /// `"Principal": "*"`: everyone, including anonymous callers.
    public var isEveryone: Bool
    /// Identifiers per kind (account ids, ARNs, service names, canonical user ids, or "*").
    public var identifiers: [Kind: [String]]

    public init(isEveryone: Bool = false, identifiers: [Kind: [String]] = [:]) {
        self.isEveryone = isEveryone
        self.identifiers = identifiers
    }
    public static let everyone = PolicyPrincipal(isEveryone: true)
}
