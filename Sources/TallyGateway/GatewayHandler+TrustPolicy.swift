import TallyAWS
import TallyCore

extension GatewayHandler {
    /// Built-in guardrail (run by ``builtinRequestDenial(_:permissions:head:body:)``): an IAM role
    /// trust policy (`iam:CreateRole`, `iam:UpdateAssumeRolePolicy`) may trust only principals of the upstream
    /// account and AWS services. A role that trusts another account, `*`, or a federated identity provider lets
    /// the agent assume it from outside the gateway and hold upstream credentials with no record (review
    /// finding 3). Nil when the request is not such a call or its policy passes.
    func trustPolicyDenial(_ identified: IdentifiedOperation, head: TallyAWS.HTTPRequestHead, body: [UInt8]?)
        -> (rule: Guardrails.DenyRule, action: String)? {
        guard let operation = identified.operation, operation == "CreateRole" || operation == "UpdateAssumeRolePolicy"
        else { return nil }
        let action = "iam:\(operation)"
        let member = operation == "CreateRole" ? "AssumeRolePolicyDocument" : "PolicyDocument"
        var documents = head.queryItems.filter { $0.name == member }.map(\.value)
        if let body { documents += QueryString.formPairs(String(decoding: body, as: UTF8.self))
            .filter { $0.name == member }.map(\.value) }
        let account = identity.baseARN.flatMap(Self.accountOf) ?? configuration.account
        let problem: String?
        switch documents.count {
        case 0: problem = nil  // the upstream refuses a call without its required policy
        case 1: problem = Self.trustPolicyProblem(documents[0], account: account)
        default: problem = "\(member) is sent more than once"
        }
        guard let problem else { return nil }
        return (Guardrails.DenyRule(actionPattern: action, reason: "built-in: the trust policy \(problem); only principals of "
                                    + "account \(account) and AWS services may be trusted"), action)
    }

    /// The account id of an ARN (`arn:aws:iam::123456789012:user/x` → `123456789012`).
    static func accountOf(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 6, parts[0] == "arn", parts[4].count == 12, parts[4].allSatisfy(\.isNumber) else { return nil }
        return String(parts[4])
    }

    /// Why `document` trusts something outside `account` (or cannot be checked), or nil when it does not.
    /// Unlike a resource policy, a trust policy may not name `*` even under a condition.
    static func trustPolicyProblem(_ document: String, account: String) -> String? {
        policyPrincipalProblem(document, account: account, verb: "trusts", starWhenPinned: false)
    }

    /// Why a policy document's Allow statements reach principals outside `account` (or cannot be
    /// checked), or nil when they do not: principals must be the account (id or its ARNs) or AWS
    /// services; `NotPrincipal` is refused; `*` passes only when `starWhenPinned` and the statement's
    /// condition pins the caller to the account. `verb` words the reason ("trusts", "grants").
    static func policyPrincipalProblem(_ document: String, account: String, verb: String, starWhenPinned: Bool) -> String? {
        guard let policy = try? JSONValue(parsing: Array(document.utf8)), case .object = policy else {
            return "is not a JSON object"
        }
        let statements: [JSONValue]
        switch policy["Statement"] {
        case .array(let list)?: statements = list
        case .object?: statements = [policy["Statement"]!]
        default: return "has no Statement"
        }
        for statement in statements {
            guard case .object = statement else { return "has a Statement that is not an object" }
            if statement["Effect"]?.stringValue == "Deny" { continue }
            if statement["NotPrincipal"] != nil { return "uses NotPrincipal" }
            guard let principal = statement["Principal"] else { continue }
            let pinned = starWhenPinned && pinsToAccount(statement["Condition"], account: account)
            if let s = principal.stringValue {
                if s == "*" && pinned { continue }
                return "\(verb) \(s)"
            }
            guard case .object(let kinds) = principal else { return "has a Principal of an unknown shape" }
            for (kind, value) in kinds {
                let names: [String]
                switch value {
                case .string(let s): names = [s]
                case .array(let list):
                    names = list.compactMap(\.stringValue)
                    if names.count != list.count { return "has a non-string \(kind) principal" }
                default: return "has a non-string \(kind) principal"
                }
                for name in names {
                    switch kind {
                    case "AWS":
                        if name == "*" && pinned { continue }
                        if name == account || accountOf(name) == account { continue }
                        return name == "*" ? "\(verb) * (everyone)" : "\(verb) the AWS principal \(name)"
                    case "Service":
                        if name.hasSuffix(".amazonaws.com") || name.hasSuffix(".amazonaws.com.cn") { continue }
                        return "\(verb) the service principal \(name)"
                    default:
                        return "\(verb) the \(kind) principal \(name)"
                    }
                }
            }
        }
        return nil
    }
}
