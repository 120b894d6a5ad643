/// A set of policies compiled for evaluation, with AWS's single-account evaluation logic:
///
/// 1. an explicit Deny in any policy (identity, resource-based, boundary, SCP, session) wins;
/// 2. every SCP must allow;
/// 3. a resource-based policy that names the caller exactly (its ARN or `*`) allows;
/// 4. otherwise an identity-based policy (or a resource-based policy naming the caller's role)
///    must allow, and then the permissions boundary and the session policies, if any, must allow.
///
/// The compiled form is immutable and `Sendable`: share one across threads.
public struct PolicySet: Sendable {
    public let policies: [NamedPolicy]
    let statements: [CompiledStatement]
    /// Indices of the SCP policies (each must allow).
    let scpIndices: [Int]
    let hasBoundary: Bool
    let hasSession: Bool

    public init(_ policies: [NamedPolicy]) {
        self.policies = policies
        var statements: [CompiledStatement] = []
        for (p, policy) in policies.enumerated() {
            for (s, statement) in policy.document.statements.enumerated() {
                statements.append(
                    CompiledStatement(
                        statement, policyIndex: p, statementIndex: s,
                        variables: policy.document.supportsPolicyVariables))
            }
        }
        self.statements = statements
        scpIndices = policies.indices.filter { policies[$0].kind == .scp }
        hasBoundary = policies.contains { $0.kind == .boundary }
        hasSession = policies.contains { $0.kind == .session }
    }

    /// Evaluates a request and explains the decision.
    public func evaluate(_ request: EvaluationRequest) -> EvaluationResult {
        var trace = Trace(explain: true, policyCount: policies.count)
        let decision = run(request, &trace)
        return EvaluationResult(decision: decision.0, statements: decision.1.map(reference), reason: decision.2)
    }

    /// Evaluates a request, returning only the decision (no allocation in the common case).
    public func decide(_ request: EvaluationRequest) -> Decision {
        var trace = Trace(explain: false, policyCount: policies.count)
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
        var denies: [CompiledStatement] = []
        var denyCount = 0
        var identity: [CompiledStatement] = []
        var identityCount = 0
        var resourceDirect: [CompiledStatement] = []
        var resourceDirectCount = 0
        var resourceRole: [CompiledStatement] = []
        var resourceRoleCount = 0
        var boundary: [CompiledStatement] = []
        var boundaryCount = 0
        var session: [CompiledStatement] = []
        var sessionCount = 0
        var scp: [CompiledStatement] = []
        /// Per policy index: whether an SCP allowed (only SCP entries are used).
        var scpAllowedMask: [Bool]

        init(explain: Bool, policyCount: Int) {
            self.explain = explain
            scpAllowedMask = []
            _ = policyCount
        }
    }

    private func run(_ request: EvaluationRequest, _ trace: inout Trace) -> (Decision, [CompiledStatement], String) {
        var scpAllowed = 0  // bit set over SCP ordinal (up to 64 SCPs tracked precisely)
        var scpAllowedOverflow = Set<Int>()
        request.actionBytes.withUnsafeBufferPointer { action in
            request.resourceBytes.withUnsafeBufferPointer { resource in
                for statement in statements {
                    guard statement.coversAction(action), statement.coversResource(request, resource) else { continue }
                    let kind = policies[statement.policyIndex].kind
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
                    guard statement.conditionsHold(request.context) else { continue }
                    if statement.effect == .deny {
                        trace.denyCount += 1
                        if trace.explain { trace.denies.append(statement) }
                        continue
                    }
                    switch kind {
                    case .identity:
                        trace.identityCount += 1
                        if trace.explain { trace.identity.append(statement) }
                    case .resource:
                        if principalMatch == .direct {
                            trace.resourceDirectCount += 1
                            if trace.explain { trace.resourceDirect.append(statement) }
                        } else if principalMatch == .role {
                            trace.resourceRoleCount += 1
                            if trace.explain { trace.resourceRole.append(statement) }
                        }
                    case .boundary:
                        trace.boundaryCount += 1
                        if trace.explain { trace.boundary.append(statement) }
                    case .session:
                        trace.sessionCount += 1
                        if trace.explain { trace.session.append(statement) }
                    case .scp:
                        let ordinal = scpIndices.firstIndex(of: statement.policyIndex) ?? 0
                        if ordinal < 64 { scpAllowed |= 1 << ordinal } else { scpAllowedOverflow.insert(ordinal) }
                        if trace.explain { trace.scp.append(statement) }
                    }
                }
            }
        }
        if trace.denyCount > 0 {
            return (.explicitDeny, trace.denies, "an explicit Deny matched")
        }
        for (ordinal, index) in scpIndices.enumerated() {
            let allowed = ordinal < 64 ? scpAllowed & (1 << ordinal) != 0 : scpAllowedOverflow.contains(ordinal)
            if !allowed {
                return (.implicitDeny, [], "the service control policy '\(policies[index].name)' does not allow it")
            }
        }
        if trace.resourceDirectCount > 0 {
            return (.allow, trace.resourceDirect + trace.scp, "a resource-based policy allows the caller")
        }
        guard trace.identityCount > 0 || trace.resourceRoleCount > 0 else {
            return (.implicitDeny, [], "no identity-based or resource-based policy allows it")
        }
        if hasBoundary && trace.boundaryCount == 0 {
            return (.implicitDeny, [], "the permissions boundary does not allow it")
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
