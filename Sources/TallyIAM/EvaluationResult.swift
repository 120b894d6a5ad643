import TallyCore

/// The kind of a policy, which decides its role in evaluation.
public enum PolicyKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Attached to the user, group or role: one of them must allow.
    case identity
    /// Attached to the resource (bucket policy, key policy, ...): can allow on its own within the account.
    case resource = "resource-based"
    /// The permissions boundary: must allow what identity-based policies grant.
    case boundary = "permissions-boundary"
    /// A service control policy: every level of SCPs must allow.
    case scp
    /// Session policies (passed when assuming a role or federating): must allow.
    case session
}

/// A policy with its name (file) and kind, as handed to the evaluator.
public struct NamedPolicy: Sendable, Hashable {
    public var name: String
    public var kind: PolicyKind
    public var document: PolicyDocument
    /// For SCPs and boundaries: policies with the same level combine as a union and every level
    /// must allow (e.g. the SCPs attached to one OU). nil: the policy is a level of its own.
    public var level: String?

    public init(name: String, kind: PolicyKind, document: PolicyDocument, level: String? = nil) {
        self.name = name
        self.kind = kind
        self.document = document
        self.level = level
    }
}

/// The outcome of an evaluation.
public enum Decision: String, Sendable, Hashable, Codable {
    case allow
    case explicitDeny = "explicit-deny"
    case implicitDeny = "implicit-deny"

    public var isAllowed: Bool { self == .allow }
}

/// A statement that took part in a decision.
public struct StatementReference: Sendable, Hashable, Codable {
    /// The policy's name (file).
    public var policy: String
    public var kind: PolicyKind
    /// Index in the policy's Statement array (0-based).
    public var index: Int
    public var sid: String?
    public var effect: PolicyEffect

    public init(policy: String, kind: PolicyKind, index: Int, sid: String?, effect: PolicyEffect) {
        self.policy = policy
        self.kind = kind
        self.index = index
        self.sid = sid
        self.effect = effect
    }
}

/// The decision, the statements that decided it, and a one-line reason.
///
/// - explicit-deny: every Deny statement that matched;
/// - allow: the Allow statements that granted it (identity or resource-based, plus the boundary,
///   SCP and session-policy statements that let it through);
/// - implicit-deny: no statements; `reason` says which policy kind failed to allow.
public struct EvaluationResult: Sendable, Hashable, Codable {
    public var decision: Decision
    public var statements: [StatementReference]
    public var reason: String

    public init(decision: Decision, statements: [StatementReference], reason: String) {
        self.decision = decision
        self.statements = statements
        self.reason = reason
    }
}

extension PolicyDocument {
    /// Refuses (bad input, naming `name` and the statement) a shape AWS rejects for a policy of `kind`, which the
    /// evaluator would otherwise read some way of its own (session 12 probe: a resource-based Deny without Principal
    /// was skipped, an identity policy's Principal ignored):
    /// - resource-based: every statement names Principal or NotPrincipal;
    /// - identity-based, boundary, session policy, SCP: no Principal or NotPrincipal; and (not SCPs) Resource or
    ///   NotResource in every statement.
    public func check(as kind: PolicyKind, name: String) throws {
        for (i, statement) in statements.enumerated() {
            let which = "\(name): Statement[\(i)]\(statement.sid.map { " (Sid \($0))" } ?? "")"
            switch kind {
            case .resource:
                if statement.principal == nil {
                    throw TallyError(.badInput, "\(which) has no Principal or NotPrincipal, which every statement of a resource-based policy needs")
                }
            case .identity, .boundary, .session, .scp:
                if statement.principal != nil {
                    throw TallyError(.badInput, "\(which) has a Principal or NotPrincipal, which a policy of kind \(kind.rawValue) cannot have")
                }
                if kind != .scp && statement.resource == nil {
                    throw TallyError(.badInput, "\(which) has no Resource or NotResource, which a policy of kind \(kind.rawValue) needs")
                }
            }
        }
    }
}
