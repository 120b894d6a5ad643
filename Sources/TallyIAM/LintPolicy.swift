/// Checks a policy against the IAM action catalog and for risky patterns:
/// - `unknown-action`, `unknown-service`: names that exist in no service (patterns matching nothing);
/// - `resource-mismatch`: an action whose resource types' ARN templates none of the statement's
///   resources can match; `resource-not-supported`: an action that only supports `"*"` given ARNs;
/// - `unknown-condition-key`, `condition-type-mismatch`, `set-operator-on-single-value`,
///   `multivalued-key-without-set-operator`;
/// - risky: `full-admin`, `action-wildcard`, `service-wildcard`, `pass-role-wildcard`,
///   `privilege-escalation`, `allow-not-action`, `allow-not-resource`, `not-principal`,
///   `public-principal`, `allow-for-all-values`; hygiene: `missing-version`, `duplicate-sid`,
///   `missing-resource`.
public struct PolicyLinter: Sendable {
    public let catalog: IAMCatalog

    public init(catalog: IAMCatalog) {
        self.catalog = catalog
    }

    /// Every finding, in statement order.
    public func lint(_ document: PolicyDocument) -> [LintFinding] {
        var findings: [LintFinding] = []
        if document.version == nil {
            findings.append(
                LintFinding(
                    code: "missing-version", severity: .warning, statement: nil, sid: nil, field: "Version",
                    message: "no Version: the 2008-10-17 language applies and policy variables such as ${aws:username} are plain text; add \"Version\": \"2012-10-17\""
                ))
        } else if document.version == "2008-10-17" {
            findings.append(
                LintFinding(
                    code: "missing-version", severity: .warning, statement: nil, sid: nil, field: "Version",
                    message: "Version 2008-10-17 does not support policy variables; use 2012-10-17"))
        }
        var seenSids = Set<String>()
        for (index, statement) in document.statements.enumerated() {
            var context = LintContext(index: index, statement: statement, findings: [])
            if let sid = statement.sid, !seenSids.insert(sid).inserted {
                context.add("duplicate-sid", .warning, "Sid", "the Sid '\(sid)' is used by an earlier statement")
            }
            if statement.resource == nil && statement.principal == nil {
                context.add(
                    "missing-resource", .warning, "Resource",
                    "no Resource or NotResource: identity-based policies require one")
            }
            lintActions(&context)
            lintResources(&context)
            lintConditions(&context)
            lintRisks(&context)
            findings += context.findings
        }
        return findings
    }
}

/// The statement being linted and what was found in it.
struct LintContext {
    let index: Int
    let statement: PolicyStatement
    var findings: [LintFinding]

    mutating func add(_ code: String, _ severity: LintFinding.Severity, _ field: String, _ message: String) {
        findings.append(
            LintFinding(
                code: code, severity: severity, statement: index, sid: statement.sid, field: field, message: message))
    }
}
