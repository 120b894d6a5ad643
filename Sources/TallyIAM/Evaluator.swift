/// A set of policies compiled for evaluation, with AWS's single-account evaluation logic:
///
/// 1. an explicit Deny in any policy (identity, resource-based, boundary, SCP, session) wins;
/// 2. every SCP must allow;
/// 3. a resource-based policy that names the caller exactly (its ARN or `*`) allows;
/// 4. otherwise an identity-based policy (or a resource-based policy naming the caller's role)
///    must allow, and then the permissions boundary and the session policies, if any, must allow.
///
/// Identity-based, resource-based and session policies combine as a union (one Allow among them
/// is enough); SCPs and permissions boundaries by level: each level must allow, and the policies
/// of one level (same ``NamedPolicy/level``; by default every policy is its own level) combine as
/// a union — as SCPs attached to the root, an OU and the account do.
///
/// The compiled form is immutable and `Sendable`: share one across threads.
public struct PolicySet: Sendable {
    public let policies: [NamedPolicy]
    let statements: [CompiledStatement]
    /// Per level of SCPs and boundaries (each level must allow): its first policy's index.
    let limitIndices: [Int]
    /// Per level: the names of its policies, for reasons.
    let limitNames: [String]
    /// Per policy index: its ordinal in `limitIndices`, or -1.
    let limitOrdinal: [Int]
    /// Per limit ordinal: an SCP (else a boundary).
    let limitIsSCP: [Bool]
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
        // Levels: SCPs first (AWS checks them before identity policies), then boundaries. Policies
        // sharing a `level` form one level (a union); every level must allow.
        var levelOf: [String: Int] = [:]
        var levels: [[Int]] = []
        var ordinal = [Int](repeating: -1, count: policies.count)
        for kind in [PolicyKind.scp, .boundary] {
            for index in policies.indices where policies[index].kind == kind {
                let key = "\(kind.rawValue)\u{0}" + (policies[index].level ?? "#\(index)")
                let o = levelOf[key] ?? {
                    levels.append([])
                    levelOf[key] = levels.count - 1
                    return levels.count - 1
                }()
                levels[o].append(index)
                ordinal[index] = o
            }
        }
        limitIndices = levels.map { $0[0] }
        limitNames = levels.map { $0.map { policies[$0].name }.joined(separator: "', '") }
        limitOrdinal = ordinal
        limitIsSCP = levels.map { policies[$0[0]].kind == .scp }
        hasSession = policies.contains { $0.kind == .session }
    }

    /// Evaluates a request and explains the decision.
    public func evaluate(_ request: EvaluationRequest) -> EvaluationResult {
        var trace = Trace(explain: true)
        let (decision, reason) = run(request, &trace)
        return EvaluationResult(
            decision: decision, statements: deciding(decision, reason, trace).map { reference(statements[$0]) },
            reason: text(reason))
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

    /// The role a matching statement plays in the decision.
    private enum Role: UInt8 {
        case deny, identity, resourceDirect, resourceRole, boundary, session, scp
    }

    /// Why the decision was reached; the text is built only when explaining.
    private enum Reason {
        case explicitDeny
        case scpDoesNotAllow(Int)
        case resourceAllows
        case nothingAllows
        case boundaryDoesNotAllow(Int)
        case sessionDoesNotAllow
        case identityAllows
        case resourceAllowsRole
    }

    private func text(_ reason: Reason) -> String {
        switch reason {
        case .explicitDeny: "an explicit Deny matched"
        case .scpDoesNotAllow(let level): "the service control policy '\(limitNames[level])' does not allow it"
        case .resourceAllows: "a resource-based policy allows the caller"
        case .nothingAllows: "no identity-based or resource-based policy allows it"
        case .boundaryDoesNotAllow(let level): "the permissions boundary '\(limitNames[level])' does not allow it"
        case .sessionDoesNotAllow: "no session policy allows it"
        case .identityAllows: "an identity-based policy allows it"
        case .resourceAllowsRole: "a resource-based policy allows the caller's role"
        }
    }

    /// Counts per role, and (only when explaining) the matching statements with their roles.
    private struct Trace {
        let explain: Bool
        var counts: (deny: Int, identity: Int, resourceDirect: Int, resourceRole: Int, session: Int) = (0, 0, 0, 0, 0)
        var matched: [(index: Int, role: Role)] = []
        init(explain: Bool) {
            self.explain = explain
        }

        /// The matching statements with one of `roles`, in policy order.
        func statements(_ roles: Role...) -> [Int] {
            matched.filter { roles.contains($0.role) }.map(\.index)
        }
    }

    private func run(_ request: EvaluationRequest, _ trace: inout Trace) -> (Decision, Reason) {
        var limitAllowed: UInt64 = 0  // bit set over limit ordinals (SCPs, boundaries)
        var limitAllowedOverflow = Set<Int>()
        let prepared = request.storage
        let context = prepared.context
        prepared.actionBytes.withUnsafeBufferPointer { action in
            prepared.resourceBytes.withUnsafeBufferPointer { resource in
                statements.withUnsafeBufferPointer { all in
                    for n in 0..<all.count {
                        let statement = all[n]
                        guard statement.coversAction(action), statement.coversResource(context, resource) else {
                            continue
                        }
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
                        var role: Role
                        if statement.effect == .deny {
                            role = .deny
                            trace.counts.deny += 1
                        } else {
                            switch kind {
                            case .identity:
                                role = .identity
                                trace.counts.identity += 1
                            case .resource:
                                if principalMatch == .direct {
                                    role = .resourceDirect
                                    trace.counts.resourceDirect += 1
                                } else if principalMatch == .role {
                                    role = .resourceRole
                                    trace.counts.resourceRole += 1
                                } else {
                                    continue  // the account only: delegates, grants nothing
                                }
                            case .boundary, .scp:
                                role = kind == .scp ? .scp : .boundary
                                let ordinal = limitOrdinal[statement.policyIndex]
                                if ordinal < 64 {
                                    limitAllowed |= 1 << UInt64(ordinal)
                                } else {
                                    limitAllowedOverflow.insert(ordinal)
                                }
                            case .session:
                                role = .session
                                trace.counts.session += 1
                            }
                        }
                        if trace.explain { trace.matched.append((n, role)) }
                    }
                }
            }
        }
        if trace.counts.deny > 0 { return (.explicitDeny, .explicitDeny) }
        func limitAllows(_ ordinal: Int) -> Bool {
            ordinal < 64 ? limitAllowed & (1 << UInt64(ordinal)) != 0 : limitAllowedOverflow.contains(ordinal)
        }
        for ordinal in limitIndices.indices where limitIsSCP[ordinal] && !limitAllows(ordinal) {
            return (.implicitDeny, .scpDoesNotAllow(ordinal))
        }
        if trace.counts.resourceDirect > 0 { return (.allow, .resourceAllows) }
        guard trace.counts.identity > 0 || trace.counts.resourceRole > 0 else { return (.implicitDeny, .nothingAllows) }
        for ordinal in limitIndices.indices where !limitIsSCP[ordinal] && !limitAllows(ordinal) {
            return (.implicitDeny, .boundaryDoesNotAllow(ordinal))
        }
        if hasSession && trace.counts.session == 0 { return (.implicitDeny, .sessionDoesNotAllow) }
        return (.allow, trace.counts.identity > 0 ? .identityAllows : .resourceAllowsRole)
    }

    /// The statements that decided: every Deny for explicit-deny; for allow the granting
    /// statements and the boundary, SCP and session statements that let it through.
    private func deciding(_ decision: Decision, _ reason: Reason, _ trace: Trace) -> [Int] {
        switch (decision, reason) {
        case (.explicitDeny, _): trace.statements(.deny)
        case (.allow, .resourceAllows): trace.statements(.resourceDirect, .scp)
        case (.allow, _): trace.statements(.identity, .resourceRole, .boundary, .scp, .session)
        default: []
        }
    }
}
