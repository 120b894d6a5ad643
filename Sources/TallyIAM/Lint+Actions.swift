extension PolicyLinter {
    /// Unknown actions and services, and patterns that match nothing.
    func lintActions(_ context: inout LintContext) {
        let field = context.statement.action.isNegated ? "NotAction" : "Action"
        for pattern in context.statement.action.values where pattern != "*" {
            let service = String(pattern.prefix { $0 != ":" })
            let serviceHasWildcard = service.contains("*") || service.contains("?")
            if !serviceHasWildcard && catalog.service(prefix: service) == nil {
                context.add("unknown-service", .error, field, "'\(pattern)': no AWS service has the prefix '\(service)'")
                continue
            }
            if catalog.expand(pattern: pattern).isEmpty {
                let wildcard = pattern.contains("*") || pattern.contains("?")
                context.add(
                    "unknown-action", .error, field,
                    wildcard ? "'\(pattern)' matches no action" : "'\(pattern)' is not an action of \(service)")
            }
        }
    }

    /// Actions whose resource types none of the statement's resources can match.
    func lintResources(_ context: inout LintContext) {
        let statement = context.statement
        guard case .positive(let actionPatterns) = statement.action,
            case .positive(let resources) = statement.resource,
            !resources.contains("*")
        else { return }
        // Resources as wildcard patterns; policy variables may stand for anything.
        let resourcePatterns = resources.map(LintGlob.init(resource:))
        for pattern in actionPatterns where pattern != "*" {
            let actions = catalog.expand(pattern: pattern)
            guard !actions.isEmpty else { continue }  // reported as unknown
            let isWildcard = pattern.contains("*") || pattern.contains("?")
            var matchedAny = false
            var mismatched: [(IAMAction, String)] = []
            for action in actions {
                if action.resourceTypes.isEmpty {
                    if isWildcard { continue }
                    context.add(
                        "resource-not-supported", .warning, "Resource",
                        "\(action.fullName) does not support resource-level permissions: it needs \"Resource\": \"*\" and never matches \(resources.joined(separator: ", "))"
                    )
                    matchedAny = true
                    continue
                }
                let fits = action.resourceTypes.contains { type in
                    let template = LintGlob(template: type.arnTemplate)
                    return resourcePatterns.contains { $0.intersects(template) }
                }
                if fits {
                    matchedAny = true
                } else {
                    mismatched.append((action, action.resourceTypes.map { "\($0.name) (\($0.arnTemplate))" }.joined(separator: ", ")))
                }
            }
            if !isWildcard, let (action, types) = mismatched.first {
                context.add(
                    "resource-mismatch", .error, "Resource",
                    "\(action.fullName) applies to \(types); none of the resources \(resources.joined(separator: ", ")) is one")
            } else if isWildcard && !matchedAny && !mismatched.isEmpty {
                context.add(
                    "resource-mismatch", .error, "Resource",
                    "none of the \(actions.count) actions matching '\(pattern)' applies to \(resources.joined(separator: ", "))")
            }
        }
    }
}
