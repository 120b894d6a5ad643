import TallyAWS
import TallyIAM

extension GatewayHandler {
    /// The built-in guardrails that read the request, not only its IAM actions (config `builtinDeny: false` turns
    /// them off): role trust policies (``trustPolicyDenial(_:head:body:)``), the gateway's own identity
    /// (``ownIdentityDenial(_:permissions:)``), and resource policies, grants and sharing that reach outside the
    /// upstream account (``resourcePolicyDenial(_:permissions:head:body:)``).
    func builtinRequestDenial(_ identified: IdentifiedOperation, permissions: [RequiredPermission],
                              head: TallyAWS.HTTPRequestHead, body: [UInt8]?) -> (rule: Guardrails.DenyRule, action: String)? {
        guard !configuration.guardrails.builtinRules.isEmpty else { return nil }
        guard identified.service == "iam" else {
            return resourcePolicyDenial(identified, permissions: permissions, head: head, body: body)
        }
        return ownIdentityDenial(identified, permissions: permissions) ?? trustPolicyDenial(identified, head: head, body: body)
    }

    /// IAM operations that act on the caller's own user when `UserName` is left out.
    static let callerUserOperations: Set<String> = [
        "CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey", "ChangePassword", "UploadSigningCertificate",
        "DeleteSigningCertificate", "UpdateSigningCertificate", "DeleteServiceSpecificCredential",
        "ResetServiceSpecificCredential", "UpdateServiceSpecificCredential",
    ]

    /// Denies IAM changes to the gateway's own upstream identity (its user, or the role of its assumed-role
    /// session): an agent must not create, disable or delete the gateway's access keys nor change its
    /// permissions (the review's finding 3 asks for `iam:CreateAccessKey` on the gateway's own identity; the rest
    /// would let the agent take the gateway down or widen what it can do). Read-only actions (Get, List,
    /// Simulate, Generate) pass. While the identity is unknown (STS GetCallerIdentity failed at start), every other IAM
    /// action is refused, since it cannot be checked (it was let through before: review, session 9), and the identity
    /// is asked for again in the background.
    func ownIdentityDenial(_ identified: IdentifiedOperation, permissions: [RequiredPermission])
        -> (rule: Guardrails.DenyRule, action: String)? {
        guard let operation = identified.operation else { return nil }
        let arn = identity.baseARN
        let known = arn.flatMap(Self.iamIdentity)
        for permission in permissions {
            let action = permission.action
            guard action.hasPrefix("iam:") else { continue }
            let verb = action.dropFirst(4)
            if verb.hasPrefix("Get") || verb.hasPrefix("List") || verb.hasPrefix("Simulate") || verb.hasPrefix("Generate") { continue }
            guard let own = known else {
                if arn != nil { return nil }  // not a user or role (the account root, a federated user): no name to protect
                identity.relearnIfUnknown()
                return (Guardrails.DenyRule(actionPattern: action, reason: "built-in: the gateway's own upstream identity is not "
                                            + "known yet (STS GetCallerIdentity failed), so IAM changes cannot be checked against it; "
                                            + "retry shortly"), action)
            }
            let targetsOwn = permission.resources.contains { Self.iamIdentity($0) == own }
                || (own.kind == "user" && identified.parameters["UserName"] == nil && Self.callerUserOperations.contains(operation))
            if targetsOwn {
                return (Guardrails.DenyRule(actionPattern: action, reason: "built-in: the gateway's own upstream identity "
                                            + "(\(own.kind) \(own.name)) is not the agent's to change"), action)
            }
        }
        return nil
    }

    /// (account, "user" or "role", name) of an IAM user / role ARN or an STS assumed-role ARN; the path is ignored
    /// (the IAM mapping builds ARNs without it).
    static func iamIdentity(_ arn: String) -> IAMIdentity? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn" else { return nil }
        let resource = parts[5].split(separator: "/", omittingEmptySubsequences: false)
        guard resource.count >= 2 else { return nil }
        switch (parts[2], resource[0]) {
        case ("iam", "user"): return IAMIdentity(account: String(parts[4]), kind: "user", name: String(resource.last!))
        case ("iam", "role"): return IAMIdentity(account: String(parts[4]), kind: "role", name: String(resource.last!))
        case ("sts", "assumed-role") where resource.count >= 3:
            return IAMIdentity(account: String(parts[4]), kind: "role", name: String(resource[1]))
        default: return nil
        }
    }

    /// An IAM user or role, by account and name.
    struct IAMIdentity: Hashable {
        var account: String
        var kind: String
        var name: String
    }
}
