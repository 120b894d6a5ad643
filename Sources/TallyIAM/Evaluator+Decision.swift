/// How `PolicySet` reaches a decision: one pass over the compiled statements, counting what
/// matched per role, then AWS's order of checks.
extension PolicySet {
    /// The role a matching statement plays in the decision.
    enum Role: UInt8 {
        case deny, identity, resourceDirect, resourceRole, boundary, session, scp
    }

    /// Why the decision was reached; the text is built only when explaining.
    enum Reason {
        case explicitDeny
        case scpDoesNotAllow(Int)
        case resourceAllows
        case nothingAllows
        case boundaryDoesNotAllow(Int)
        case sessionDoesNotAllow
        case identityAllows
        case resourceAllowsRole
    }

    func text(_ reason: Reason) -> String {
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
    struct Trace {
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

    func run(_ request: EvaluationRequest, _ trace: inout Trace) -> (Decision, Reason) {
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
    func deciding(_ decision: Decision, _ reason: Reason, _ trace: Trace) -> [Int] {
        switch (decision, reason) {
        case (.explicitDeny, _): trace.statements(.deny)
        case (.allow, .resourceAllows): trace.statements(.resourceDirect, .scp)
        case (.allow, _): trace.statements(.identity, .resourceRole, .boundary, .scp, .session)
        default: []
        }
    }
}
