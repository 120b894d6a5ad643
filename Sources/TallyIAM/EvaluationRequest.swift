/// A request to authorize: who (principal), what (action), on what (resource), and the context.
///
/// Immutable and prepared once (lower-cased action bytes, resource bytes, facts derived from the
/// principal); copies share one allocation.
public struct EvaluationRequest: Sendable, Hashable {
    /// `service:Action`, matched case-insensitively.
    public var action: String { storage.action }
    /// The resource ARN (or `*`), matched case-sensitively.
    public var resource: String { storage.resource }
    /// The calling principal's ARN (user, role, assumed-role session, account root) or a service
    /// principal such as `ec2.amazonaws.com`; nil when unknown.
    public var principal: String? { storage.principal }
    public var context: RequestContext { storage.context }

    var actionBytes: [UInt8] { storage.actionBytes }
    var resourceBytes: [UInt8] { storage.resourceBytes }
    var principalFacts: PrincipalFacts { storage.principalFacts }

    let storage: Storage

    final class Storage: Sendable {
        let action: String
        let resource: String
        let principal: String?
        let context: RequestContext
        let actionBytes: [UInt8]
        let resourceBytes: [UInt8]
        let principalFacts: PrincipalFacts

        init(action: String, resource: String, principal: String?, context: RequestContext) {
            self.action = action
            self.resource = resource
            self.principal = principal
            actionBytes = action.utf8.map(asciiLower)
            resourceBytes = Array(resource.utf8)
            var facts = PrincipalFacts(principal)
            // A session's ARN has no path: a role with one (role/ops/Deployer) is known only from an aws:PrincipalArn
            // given in the context, which is then the role a Principal element is matched against (it was rebuilt
            // as role/Deployer, and a Deny naming role/ops/Deployer missed its sessions; session 12 probe).
            if let derived = facts.roleArn, let given = context.values(forLowercased: "aws:principalarn")?.first,
               PrincipalFacts.sameRoleWithPath(given, derived) {
                facts.roleArn = given
            }
            principalFacts = facts
            var context = context
            if let principal, facts.account != nil {
                context.setIfAbsent(lowercased: "aws:principalarn", facts.roleArn ?? principal)
            }
            if let account = facts.account {
                context.setIfAbsent(lowercased: "aws:principalaccount", account)
            }
            if let userName = facts.userName {
                context.setIfAbsent(lowercased: "aws:username", userName)
            }
            self.context = context
        }
    }

    /// Creates a request. Keys derivable from the principal (`aws:PrincipalArn` — the role ARN for
    /// an assumed-role session —, `aws:PrincipalAccount`, and `aws:username` for IAM users) are
    /// added unless the context already has them.
    public init(action: String, resource: String, principal: String? = nil, context: RequestContext = .init()) {
        storage = Storage(action: action, resource: resource, principal: principal, context: context)
    }

    public static func == (a: EvaluationRequest, b: EvaluationRequest) -> Bool {
        a.action == b.action && a.resource == b.resource && a.principal == b.principal && a.context == b.context
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(action)
        hasher.combine(resource)
        hasher.combine(principal)
        hasher.combine(context)
    }
}

/// What the evaluator derives from a principal ARN.
struct PrincipalFacts: Sendable, Hashable {
    /// The account id for IAM/STS ARNs.
    var account: String?
    /// For an assumed-role session `arn:aws:sts::A:assumed-role/R/s`, the role ARN `arn:aws:iam::A:role/R`.
    var roleArn: String?
    /// For an IAM user `arn:aws:iam::A:user/path/name`, its name.
    var userName: String?

    /// Whether `given` is the role `derived` (a role ARN rebuilt from a session, without path) with a path:
    /// same partition and account, `role/PATH/NAME` with the same NAME.
    static func sameRoleWithPath(_ given: String, _ derived: String) -> Bool {
        let parts = derived.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[5].hasPrefix("role/") else { return false }
        let prefix = parts[0..<5].joined(separator: ":") + ":role/"  // arn:PART:iam::ACCOUNT:role/
        let name = parts[5].dropFirst(5)
        guard given.hasPrefix(prefix), given.hasSuffix("/" + name) else { return false }
        return given.utf8.count > prefix.utf8.count + name.utf8.count + 1
    }

    init(_ principal: String?) {
        guard let principal else { return }
        let parts = principal.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam" || parts[2] == "sts" else { return }
        account = parts[4].isEmpty ? nil : String(parts[4])
        let resource = parts[5]
        if parts[2] == "sts" && resource.hasPrefix("assumed-role/") {
            let pieces = resource.split(separator: "/")
            if pieces.count >= 3 {
                roleArn = "arn:\(parts[1]):iam::\(parts[4]):role/\(pieces[1])"
            }
        } else if parts[2] == "iam" && resource.hasPrefix("user/") {
            userName = resource.split(separator: "/").last.map(String.init)
        }
    }
}
