/// How `PolicySet` reaches a decision: one pass over the compiled statements, counting what
/// matched per role, then AWS's order of checks.
extension PolicySet {
    /// The role a matching statement plays in the decision.
    enum Role: UInt8 {
        case deny, identity, resourceDirect, resourceRole, resourceAccount, boundary, session, scp
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
        case crossAccountNoResourcePolicy
        case crossAccountNoIdentityPolicy
        case crossAccountAllows
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
        case .crossAccountNoResourcePolicy: "the caller is in another account than the resource: a resource-based policy of the resource's account must also allow it, and none does"
        case .crossAccountNoIdentityPolicy: "the caller is in another account than the resource: an identity-based policy of the caller's account must also allow it, and none does"
        case .crossAccountAllows: "the caller is in another account than the resource: an identity-based policy and a resource-based policy both allow it"
        }
    }

    /// Counts per role, and (only when explaining) the matching statements with their roles.
    struct Trace {
        let explain: Bool
        var counts: (deny: Int, identity: Int, resourceDirect: Int, resourceRole: Int, session: Int, resourceAccount: Int) = (0, 0, 0, 0, 0, 0)
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
                                if statement.effect == .deny {
                                    // A Deny leaves out only a caller AWS would: named exactly, with its account (and for a
                                    // role session its role) named too (AWS: "you must also include the account ARN";
                                    // [user/Bob, ACCOUNT:root] denies everyone but Bob; an account or role match
                                    // exempted every user and session of it; session 12 probe and review).
                                    guard !principal.exempts(request) else { continue }
                                } else {
                                    // An Allow with NotPrincipal grants nobody it names at any level (the narrower reading).
                                    guard match == .none else { continue }
                                }
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
                                    // The account only: within it this delegates to identity-based policies and grants
                                    // nothing; across accounts it is the resource side's trust in the caller's account.
                                    trace.counts.resourceAccount += 1
                                    if trace.explain { trace.matched.append((n, .resourceAccount)) }
                                    continue
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
        // SCPs limit the IAM users and roles of the accounts they apply to, not AWS service principals (session 12
        // probe: an SCP denied cloudtrail.amazonaws.com writing to a bucket).
        let servicePrincipal = request.principal.map { !$0.hasPrefix("arn:") && $0 != "*" } ?? false
        for ordinal in limitIndices.indices where limitIsSCP[ordinal] && !servicePrincipal && !limitAllows(ordinal) {
            return (.implicitDeny, .scpDoesNotAllow(ordinal))
        }
        if let callerAccount = request.principalFacts.account, let resourceAccount = Self.resourceAccount(request),
           callerAccount != resourceAccount {
            // Across accounts (AWS's cross-account evaluation): the resource's account must allow the caller (a
            // resource-based policy naming it, its role or its account) and the caller's account must allow the
            // request (an identity-based policy, within the boundary and session policies). Evaluated as within one
            // account, either alone allowed (session 12 probe).
            guard trace.counts.resourceDirect + trace.counts.resourceRole + trace.counts.resourceAccount > 0 else {
                return (.implicitDeny, .crossAccountNoResourcePolicy)
            }
            guard trace.counts.identity > 0 else { return (.implicitDeny, .crossAccountNoIdentityPolicy) }
            for ordinal in limitIndices.indices where !limitIsSCP[ordinal] && !limitAllows(ordinal) {
                return (.implicitDeny, .boundaryDoesNotAllow(ordinal))
            }
            if hasSession && trace.counts.session == 0 { return (.implicitDeny, .sessionDoesNotAllow) }
            return (.allow, .crossAccountAllows)
        }
        if trace.counts.resourceDirect > 0 { return (.allow, .resourceAllows) }
        guard trace.counts.identity > 0 || trace.counts.resourceRole > 0 else { return (.implicitDeny, .nothingAllows) }
        for ordinal in limitIndices.indices where !limitIsSCP[ordinal] && !limitAllows(ordinal) {
            return (.implicitDeny, .boundaryDoesNotAllow(ordinal))
        }
        if hasSession && trace.counts.session == 0 { return (.implicitDeny, .sessionDoesNotAllow) }
        return (.allow, trace.counts.identity > 0 ? .identityAllows : .resourceAllowsRole)
    }

    /// The account that owns the request's resource: the account field of the resource ARN when it holds one, else
    /// `aws:ResourceAccount` from the context (S3 bucket and object ARNs have no account: without it the caller's is
    /// assumed). The ARN wins: a context value cannot turn a cross-account request into a same-account one (session 12
    /// review).
    static func resourceAccount(_ request: EvaluationRequest) -> String? {
        let parts = request.resource.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        if parts.count == 6, parts[0] == "arn", parts[4].utf8.count == 12, parts[4].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return String(parts[4])
        }
        return request.context.values(forLowercased: "aws:resourceaccount")?.first
    }

    /// The statements that decided: every Deny for explicit-deny; for allow the granting
    /// statements and the boundary, SCP and session statements that let it through.
    func deciding(_ decision: Decision, _ reason: Reason, _ trace: Trace) -> [Int] {
        switch (decision, reason) {
        case (.explicitDeny, _): trace.statements(.deny)
        case (.allow, .resourceAllows): trace.statements(.resourceDirect, .scp)
        case (.allow, .crossAccountAllows):
            trace.statements(.identity, .resourceDirect, .resourceRole, .resourceAccount, .boundary, .scp, .session)
        case (.allow, _): trace.statements(.identity, .resourceRole, .boundary, .scp, .session)
        default: []
        }
    }
}
