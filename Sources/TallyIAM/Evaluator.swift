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
}
