/// A set of policies compiled for evaluation, with AWS's single-account evaluation logic:
///
/// 1. an explicit Deny in any policy (identity, resource-based, boundary, SCP, session) wins;
/// 2. every SCP must allow;
/// 3. a resource-based policy that names the caller exactly (its ARN or `*`) allows;
/// 4. otherwise an identity-based policy (or a resource-based policy naming the caller's role)
///    must allow, and then the permissions boundary and the session policies, if any, must allow.
///
/// Identity-based, resource-based and session policies combine as a union (one Allow among them
/// is enough); SCPs and permissions boundaries as an intersection (each document must allow: SCPs
/// at different levels of the organization, and an entity has at most one boundary).
///
/// The compiled form is immutable and `Sendable`: share one across threads.
public struct PolicySet: Sendable {
    public let policies: [NamedPolicy]
    let statements: [CompiledStatement]
    /// Indices of the SCP and boundary policies (each must allow), in policy order.
    let limitIndices: [Int]
    /// Per policy index: its ordinal in `limitIndices`, or -1.
    let limitOrdinal: [Int]
    let hasSession: Bool

    public init(_ policies: [NamedPolicy]) {
        self.policies = policies
        var statements: [CompiledStatement] = []
        for (p, policy) in policies.enumerated() {
            for (s, statement) in policy.document.statements.enumerated() {
                statements.append(
                    CompiledStatement(
                        statement, kind: policy.kind, policyIndex: p, statementIndex: s,
                        variables: policy.document.supportsPolicyVariables))
            }
        }
        self.statements = statements
        let limits = policies.indices.filter { policies[$0].kind == .scp }
            + policies.indices.filter { policies[$0].kind == .boundary }
        limitIndices = limits
        var ordinal = [Int](repeating: -1, count: policies.count)
        for (o, index) in limits.enumerated() { ordinal[index] = o }
        limitOrdinal = ordinal
        hasSession = policies.contains { $0.kind == .session }
    }

    /// Evaluates a request and explains the decision.
    public func evaluate(_ request: EvaluationRequest) -> EvaluationResult {
        var trace = Trace(explain: true)
        let decision = run(request, &trace)
        return EvaluationResult(
            decision: decision.0, statements: decision.1.map { reference(statements[$0]) }, reason: decision.2)
    }

    /// Evaluates a request, returning only the decision (no allocation in the common case).
    public func decide(_ request: EvaluationRequest) -> Decision {
        var trace = Trace(explain: false)
        return run(request, &trace).0
    }

    private func reference(_ statement: CompiledStatement) -> StatementReference {
        let policy = policies[statement.policyIndex]
        return StatementReference(
            policy: policy.name, kind: policy.kind, index: statement.statementIndex,
            sid: policy.document.statements[statement.statementIndex].sid, effect: statement.effect)
    }

    /// What matched, per role in the decision.
    private struct Trace {
        let explain: Bool
        // Indices into `statements` (collected only when explaining) and counts.
        var denies: [Int] = []
        var denyCount = 0
        var identity: [Int] = []
        var identityCount = 0
        var resourceDirect: [Int] = []
        var resourceDirectCount = 0
        var resourceRole: [Int] = []
        var resourceRoleCount = 0
        var boundary: [Int] = []
        var session: [Int] = []
        var sessionCount = 0
        var scp: [Int] = []
        init(explain: Bool) {
            self.explain = explain
        }
    }

    private func run(_ request: EvaluationRequest, _ trace: inout Trace) -> (Decision, [Int], String) {
        var limitAllowed: UInt64 = 0  // bit set over limit ordinals (SCPs, boundaries)
        var limitAllowedOverflow = Set<Int>()
        let context = request.context
        request.actionBytes.withUnsafeBufferPointer { action in
            request.resourceBytes.withUnsafeBufferPointer { resource in
                for n in statements.indices {
                    let statement = statements[n]
                    guard statement.coversAction(action), statement.coversResource(context, resource) else { continue }
                    let kind = statement.kind
                    var principalMatch = PrincipalMatch.direct
                    if kind == .resource {
                        guard let principal = statement.principal else { continue }
                        let match = principal.match(request)
                        if statement.principalNegated {
                            guard match == .none else { continue }
                            principalMatch = .direct
                        } else {
                            guard match != .none else { continue }
                            principalMatch = match
                        }
                    }
                    guard statement.conditionsHold(context) else { continue }
                    if statement.effect == .deny {
                        trace.denyCount += 1
                        if trace.explain { trace.denies.append(n) }
                        continue
                    }
                    switch kind {
                    case .identity:
                        trace.identityCount += 1
                        if trace.explain { trace.identity.append(n) }
                    case .resource:
                        if principalMatch == .direct {
                            trace.resourceDirectCount += 1
                            if trace.explain { trace.resourceDirect.append(n) }
                        } else if principalMatch == .role {
                            trace.resourceRoleCount += 1
                            if trace.explain { trace.resourceRole.append(n) }
                        }
                    case .boundary:
                        let ordinal = limitOrdinal[statement.policyIndex]
                        if ordinal < 64 { limitAllowed |= 1 << UInt64(ordinal) } else { limitAllowedOverflow.insert(ordinal) }
                        if trace.explain { trace.boundary.append(n) }
                    case .session:
                        trace.sessionCount += 1
                        if trace.explain { trace.session.append(n) }
                    case .scp:
                        let ordinal = limitOrdinal[statement.policyIndex]
                        if ordinal < 64 { limitAllowed |= 1 << UInt64(ordinal) } else { limitAllowedOverflow.insert(ordinal) }
                        if trace.explain { trace.scp.append(n) }
                    }
                }
            }
        }
        if trace.denyCount > 0 {
            return (.explicitDeny, trace.denies, "an explicit Deny matched")
        }
        func limitAllows(_ ordinal: Int) -> Bool {
            ordinal < 64 ? limitAllowed & (1 << UInt64(ordinal)) != 0 : limitAllowedOverflow.contains(ordinal)
        }
        for (ordinal, index) in limitIndices.enumerated() where policies[index].kind == .scp && !limitAllows(ordinal) {
            return (.implicitDeny, [], "the service control policy '\(policies[index].name)' does not allow it")
        }
        if trace.resourceDirectCount > 0 {
            return (.allow, trace.resourceDirect + trace.scp, "a resource-based policy allows the caller")
        }
        guard trace.identityCount > 0 || trace.resourceRoleCount > 0 else {
            return (.implicitDeny, [], "no identity-based or resource-based policy allows it")
        }
        for (ordinal, index) in limitIndices.enumerated() where policies[index].kind == .boundary && !limitAllows(ordinal) {
            return (.implicitDeny, [], "the permissions boundary '\(policies[index].name)' does not allow it")
        }
        if hasSession && trace.sessionCount == 0 {
            return (.implicitDeny, [], "no session policy allows it")
        }
        return (
            .allow, trace.identity + trace.resourceRole + trace.boundary + trace.scp + trace.session,
            trace.identityCount > 0 ? "an identity-based policy allows it" : "a resource-based policy allows the caller's role"
        )
    }
}
