import ArgumentParser
import TallyCore
import TallyIAM

/// `tally iam evaluate`: decides a request against a set of policies with AWS's evaluation logic.
struct IAMEvaluateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a request against IAM policies (exit 0 allow, 1 deny).",
        discussion: """
            Explicit Deny anywhere wins; every SCP must allow; a resource-based policy naming the caller \
            allows; otherwise an identity-based policy must allow, and then the permissions boundary and \
            the session policies (if given) must allow. Across accounts (the --principal's account is not the \
            resource's: the ARN's account field, else --context aws:ResourceAccount=ID) a resource-based policy \
            and an identity-based policy must both allow. An --action the catalog does not have (a typo, a \
            wildcard), or a policy of the wrong shape for its kind (a resource-based statement without \
            Principal, an identity-based one with it), is bad input (exit 2), not a deny.
            """
    )

    @Option(name: .customLong("policy"), help: "An identity-based policy file (repeatable).")
    var policies: [String] = []
    @Option(help: "The permissions boundary policy file.")
    var boundary: String?
    @Option(
        name: .customLong("scp"),
        help: "Service control policy files of one level of the organization, comma-separated (one level = a union); repeat for each level (every level must allow).")
    var scps: [String] = []
    @Option(name: .customLong("session-policy"), help: "A session policy file (repeatable).")
    var sessionPolicies: [String] = []
    @Option(name: .customLong("resource-policy"), help: "A resource-based policy file (repeatable).")
    var resourcePolicies: [String] = []
    @Option(help: "The action, e.g. s3:GetObject (one action of the catalog, any case).")
    var action: String
    @Option(help: "The resource ARN (or *).")
    var resource: String
    @Option(name: .customLong("context"), help: "A context key, key=value (repeat a key for a multivalued key).")
    var context: [String] = []
    @Option(help: "The caller's ARN (user, role, assumed-role session).")
    var principal: String?
    @OptionGroup var output: JSONOption

    /// `arn:` and six colon-separated parts, the partition and service named.
    static func isARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0] == "arn" && !parts[1].isEmpty && !parts[2].isEmpty && !parts[5].isEmpty
            && !text.contains(where: \.isWhitespace)
    }

    /// A service principal: a DNS name (`ec2.amazonaws.com`, `states.us-east-1.amazonaws.com`).
    static func isServicePrincipal(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { label in
            !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    func run() async throws {
        // A misspelt action would otherwise be an implicit deny (exit 1), indistinguishable from a real one.
        _ = try IAMCatalog.load().knownAction(action, what: "--action: ")
        // So would a resource or principal that is no ARN (a typo read as a deny, or a principal no policy can name;
        // session 12 probe).
        if resource != "*" && !Self.isARN(resource) {
            throw TallyError(.badInput, "--resource '\(resource)': expected an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE) or *")
        }
        if let principal, !Self.isARN(principal) && !Self.isServicePrincipal(principal) {
            throw TallyError(.badInput, "--principal '\(principal)': expected an IAM or STS ARN (arn:aws:iam::123456789012:user/alice, "
                             + "arn:aws:sts::123456789012:assumed-role/ROLE/SESSION) or a service principal (ec2.amazonaws.com)")
        }
        var named: [NamedPolicy] = []
        func load(_ paths: [String], _ kind: PolicyKind) throws {
            for path in paths {
                let document = try PolicyDocument(contentsOfFile: path)
                try document.check(as: kind, name: path)
                named.append(NamedPolicy(name: path, kind: kind, document: document))
            }
        }
        try load(policies, .identity)
        try load(resourcePolicies, .resource)
        try load(boundary.map { [$0] } ?? [], .boundary)
        for group in scps {
            for path in group.split(separator: ",").map(String.init) {
                let document = try PolicyDocument(contentsOfFile: path)
                try document.check(as: .scp, name: path)
                named.append(NamedPolicy(name: path, kind: .scp, document: document, level: group))
            }
        }
        try load(sessionPolicies, .session)
        let request = EvaluationRequest(
            action: action, resource: resource, principal: principal, context: try RequestContext(arguments: context))
        let result = PolicySet(named).evaluate(request)
        if output.json {
            print(String(decoding: result.json.canonicalBytes(), as: UTF8.self))
        } else {
            print("\(result.decision.rawValue): \(result.reason)")
            for s in result.statements {
                print("  \(s.effect.rawValue) \(s.kind.rawValue) \(s.policy) Statement[\(s.index)]\(s.sid.map { " Sid \($0)" } ?? "")")
            }
        }
        if !result.decision.isAllowed { throw ExitCode(1) }
    }
}
