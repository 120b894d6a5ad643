/// A statement compiled for fast evaluation: lower-cased action patterns, pre-split wildcards,
/// pre-parsed conditions. A class, so that the evaluation loop passes references instead of
/// copying (and reference-counting) every field.
final class CompiledStatement: Sendable {
    let effect: PolicyEffect
    let kind: PolicyKind
    /// Index of the policy in the set, and of the statement in the policy.
    let policyIndex: Int
    let statementIndex: Int
    let actions: [WildcardPattern]
    let actionsNegated: Bool
    /// nil: no Resource element (matches any resource).
    let resources: [ResourcePattern]?
    let resourcesNegated: Bool
    let principal: CompiledPrincipal?
    let principalNegated: Bool
    let conditions: [CompiledCondition]

    enum ResourcePattern: Sendable {
        case fixed(WildcardPattern)
        case template(PolicyTemplate)
    }

    init(_ statement: PolicyStatement, kind: PolicyKind, policyIndex: Int, statementIndex: Int, variables: Bool) {
        effect = statement.effect
        self.kind = kind
        self.policyIndex = policyIndex
        self.statementIndex = statementIndex
        actions = statement.action.values.map { WildcardPattern($0, caseInsensitive: true) }
        actionsNegated = statement.action.isNegated
        resources = statement.resource.map { element in
            element.values.map { value in
                let template = PolicyTemplate(value, variables: variables)
                return template.parts == [.text(value)] ? .fixed(WildcardPattern(arnResource: value)) : .template(template)
            }
        }
        resourcesNegated = statement.resource?.isNegated ?? false
        principal = statement.principal.map { CompiledPrincipal($0.values[0]) }
        principalNegated = statement.principal?.isNegated ?? false
        conditions = statement.conditions.map { CompiledCondition($0, variables: variables) }
    }

    /// Whether the statement's Action/NotAction covers the (lower-cased) action.
    @inline(__always)
    func coversAction(_ action: UnsafeBufferPointer<UInt8>) -> Bool {
        let hit = actions.withUnsafeBufferPointer { patterns in
            for i in 0..<patterns.count where patterns[i].matches(bytes: action) { return true }
            return false
        }
        return hit != actionsNegated
    }

    @inline(__always)
    func coversResource(_ context: RequestContext, _ resource: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let resources else { return true }
        if resourcesNegated {
            // AWS: a policy variable that cannot be resolved makes the statement invalid. Read as "this value matches
            // nothing", a NotResource with ${aws:username} applied to every resource of a role session (a wrong allow,
            // or a wrong explicit deny; session 12 probe): the statement does not apply instead.
            for case .template(let t) in resources where !t.isResolvable(in: context) { return false }
        }
        var hit = false
        for pattern in resources {
            switch pattern {
            case .fixed(let p):
                hit = p.matches(bytes: resource)
            case .template(let t):
                // A variable that cannot be resolved makes this value match nothing.
                hit = t.matchesResource(resource, in: context)
            }
            if hit { break }
        }
        return hit != resourcesNegated
    }

    @inline(__always)
    func conditionsHold(_ context: RequestContext) -> Bool {
        for condition in conditions where !condition.holds(in: context) { return false }
        return true
    }
}

/// How strongly a Principal element names the caller (resource-based policies).
enum PrincipalMatch: Int, Sendable, Comparable {
    case none = 0
    /// Names the caller's account (`"123456789012"` or `arn:aws:iam::123456789012:root`): within
    /// the account this delegates to identity-based policies and does not grant by itself.
    case account = 1
    /// Names the role of the caller's assumed-role session: grants, limited by the boundary and
    /// session policies.
    case role = 2
    /// Names the caller exactly (its ARN, `*`, a service principal): grants by itself.
    case direct = 3

    static func < (a: PrincipalMatch, b: PrincipalMatch) -> Bool { a.rawValue < b.rawValue }
}

/// A Principal / NotPrincipal value compiled for matching.
struct CompiledPrincipal: Sendable {
    let everyone: Bool
    let aws: [String]
    let others: Set<String>

    init(_ principal: PolicyPrincipal) {
        everyone = principal.isEveryone
        aws = principal.identifiers[.aws] ?? []
        var others = Set<String>()
        for kind in [PolicyPrincipal.Kind.service, .federated, .canonicalUser] {
            others.formUnion(principal.identifiers[kind] ?? [])
        }
        self.others = others
    }

    /// Whether a Deny's NotPrincipal leaves the caller out: `"*"`; a service principal it names; an IAM caller it names
    /// exactly together with the caller's account (the account root itself needs only its own ARN), and for an
    /// assumed-role session together with the session's role.
    func exempts(_ request: EvaluationRequest) -> Bool {
        if everyone || aws.contains("*") { return true }
        guard let principal = request.principal else { return false }
        if others.contains(principal) { return true }
        guard aws.contains(principal) else { return false }
        let facts = request.principalFacts
        guard let account = facts.account else { return true }
        if principal.hasSuffix(":iam::\(account):root") { return true }
        guard aws.contains(where: { Self.names(account: account, $0) }) else { return false }
        if let role = facts.roleArn { return aws.contains(role) }
        return true
    }

    /// Whether a Principal entry names `account` (`"123456789012"` or `arn:PARTITION:iam::123456789012:root`).
    static func names(account: String, _ id: String) -> Bool {
        id == account || (id.hasPrefix("arn:") && id.hasSuffix(":iam::\(account):root"))
    }

    func match(_ request: EvaluationRequest) -> PrincipalMatch {
        if everyone { return .direct }
        var best = PrincipalMatch.none
        for id in aws {
            if id == "*" { return .direct }
            guard let principal = request.principal else { continue }
            if id == principal { return .direct }
            let facts = request.principalFacts
            if let role = facts.roleArn, id == role { best = max(best, .role) }
            if let account = facts.account, Self.names(account: account, id) {
                best = max(best, .account)
            }
        }
        if let principal = request.principal, others.contains(principal) { return .direct }
        return best
    }
}
