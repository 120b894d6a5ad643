extension PolicyLinter {
    /// Actions that let a principal grant itself more (classic IAM privilege escalation paths).
    static let escalationActions = [
        "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachUserPolicy", "iam:AttachRolePolicy",
        "iam:AttachGroupPolicy", "iam:PutUserPolicy", "iam:PutRolePolicy", "iam:PutGroupPolicy",
        "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:UpdateAssumeRolePolicy",
        "iam:AddUserToGroup", "iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
        "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
    ]

    /// Risky shapes of Allow statements.
    func lintRisks(_ context: inout LintContext) {
        let statement = context.statement
        guard statement.effect == .allow else {
            if case .negated = statement.principal {
                context.add(
                    "not-principal", .warning, "NotPrincipal",
                    "Deny with NotPrincipal also denies every principal with a permissions boundary and role sessions not listed by session ARN; prefer a Condition on aws:PrincipalArn")
            }
            return
        }
        let patterns = statement.action.values.map { WildcardPattern($0, caseInsensitive: true) }
        func covers(_ action: String) -> Bool {
            let hit = patterns.contains { $0.matches(action) }
            return statement.action.isNegated ? !hit : hit
        }
        let allResources: Bool = {
            switch statement.resource {
            case nil: return true
            case .positive(let list): return list.contains("*")
            case .negated: return true
            }
        }()
        let unconditioned = statement.conditions.isEmpty

        if statement.action.isNegated {
            context.add(
                "allow-not-action", .warning, "NotAction",
                "Allow with NotAction grants every other action of every service, including ones added later")
        }
        if case .negated = statement.resource {
            context.add(
                "allow-not-resource", .warning, "NotResource",
                "Allow with NotResource grants the actions on every other resource, including ones created later")
        }
        var fullAdmin = false
        if !statement.action.isNegated, statement.action.values.contains(where: { $0 == "*" || $0 == "*:*" }) {
            if allResources && unconditioned {
                fullAdmin = true
                context.add("full-admin", .warning, "Action", "\"Action\": \"*\" on \"Resource\": \"*\" is full administrator access")
            } else {
                context.add("action-wildcard", .warning, "Action", "\"Action\": \"*\" grants every action of every service")
            }
        }
        if !statement.action.isNegated {
            for pattern in statement.action.values where pattern.hasSuffix(":*") && pattern != "*:*" {
                context.add("service-wildcard", .warning, "Action", "'\(pattern)' grants every action of the service, including ones added later")
            }
        }
        // Every role: "*", or a pattern whose resource part covers any role name (arn:aws:iam::*:role/*,
        // arn:aws:iam::123456789012:role/*; only "*" was flagged; session 12 probe).
        let everyRole: Bool = {
            if allResources { return true }
            guard case .positive(let list) = statement.resource else { return false }
            return list.contains { pattern in
                let parts = pattern.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
                guard parts.count == 6, parts[2] == "iam" || parts[2] == "*" else { return false }
                return parts[5] == "*" || parts[5] == "role/*" || parts[5] == "role*"
            }
        }()
        if !fullAdmin && everyRole && covers("iam:passrole") {
            context.add(
                "pass-role-wildcard", .warning, "Resource",
                "iam:PassRole on every role lets the caller hand any role (including admin roles) to a service; name the roles"
                    + (unconditioned ? " or add an iam:PassedToService condition" : ""))
        }
        if !fullAdmin && allResources {
            let escalation = PolicyLinter.escalationActions.filter { covers($0.lowercased()) }
            if !escalation.isEmpty {
                context.add(
                    "privilege-escalation", .warning, "Action",
                    "grants \(escalation.prefix(5).joined(separator: ", "))\(escalation.count > 5 ? " and \(escalation.count - 5) more" : "") on every resource: a path to escalate privileges"
                )
            }
        }
        if case .negated = statement.principal {
            context.add("not-principal", .warning, "NotPrincipal", "Allow with NotPrincipal grants to everyone else, including anonymous callers")
        }
        if case .positive(let principals) = statement.principal, let p = principals.first,
            p.isEveryone || p.identifiers[.aws]?.contains("*") == true, unconditioned
        {
            context.add(
                "public-principal", .warning, "Principal",
                "allows everyone, including anonymous callers from any account; add a Condition (aws:SourceAccount, aws:PrincipalOrgID, ...)")
        }
        for clause in statement.conditions where clause.op.setQualifier == .forAllValues {
            let hasNullCheck = statement.conditions.contains {
                $0.op.base == .null && $0.key.lowercased() == clause.key.lowercased() && $0.values == ["false"]
            }
            if !hasNullCheck && !clause.op.base.isNegated {
                context.add(
                    "allow-for-all-values", .warning, "Condition.\(clause.op).\(clause.key)",
                    "ForAllValues: holds when '\(clause.key)' is absent, so this Allow applies to requests without it; add a Null check (\"Null\": {\"\(clause.key)\": \"false\"})"
                )
            }
        }
    }
}
