extension PolicySet {
    /// Evaluates every (action, resource) pair an API call needs (from ``APIMapping``): the call is
    /// allowed only when every pair is. Returns the overall decision — explicit-deny if any pair is
    /// explicitly denied, else implicit-deny if any is not allowed — and one result per pair, in order.
    public func evaluate(
        _ permissions: [RequiredPermission], principal: String?, context: RequestContext
    ) -> (decision: Decision, results: [(permission: RequiredPermission, resource: String, result: EvaluationResult)]) {
        var results: [(RequiredPermission, String, EvaluationResult)] = []
        var decision = Decision.allow
        for permission in permissions {
            for resource in permission.resources.isEmpty ? ["*"] : permission.resources {
                let result = evaluate(
                    EvaluationRequest(action: permission.action, resource: resource, principal: principal, context: context))
                results.append((permission, resource, result))
                if result.decision == .explicitDeny {
                    decision = .explicitDeny
                } else if result.decision == .implicitDeny && decision == .allow {
                    decision = .implicitDeny
                }
            }
        }
        return (decision, results.map { (permission: $0.0, resource: $0.1, result: $0.2) })
    }
}
