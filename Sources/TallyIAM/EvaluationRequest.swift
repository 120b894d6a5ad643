/// The context keys of a request (`aws:SourceIp`, `s3:prefix`, `aws:PrincipalTag/team`, ...).
/// Key names are case-insensitive; a key may carry several values (multivalued keys such as
/// `aws:TagKeys`).
public struct RequestContext: Sendable, Hashable {
    /// Lower-cased key → values.
    private var storage: [String: [String]]

    public init() { storage = [:] }

    /// Builds a context from keys as written; values of keys that differ only in case are merged.
    public init(_ values: [String: [String]]) {
        storage = [:]
        for (key, list) in values { storage[key.lowercased(), default: []] += list }
    }

    /// The values of `key` (empty when absent).
    public func values(for key: String) -> [String] {
        storage[key.lowercased()] ?? []
    }

    /// The values of an already lower-cased key (the evaluator's fast path).
    func values(forLowercased key: String) -> [String]? {
        storage[key]
    }

    /// Adds one value (a repeated key becomes multivalued).
    public mutating func add(_ key: String, _ value: String) {
        storage[key.lowercased(), default: []].append(value)
    }

    /// Sets a key's values, replacing any.
    public mutating func set(_ key: String, _ values: [String]) {
        storage[key.lowercased()] = values
    }

    /// Sets a value under an already lower-cased key unless the key is present.
    mutating func setIfAbsent(lowercased key: String, _ value: String) {
        if storage[key] == nil { storage[key] = [value] }
    }

    public func contains(_ key: String) -> Bool { storage[key.lowercased()] != nil }

    /// Lower-cased keys present.
    public var keys: [String] { Array(storage.keys) }
}

/// A request to authorize: who (principal), what (action), on what (resource), and the context.
public struct EvaluationRequest: Sendable, Hashable {
    /// `service:Action`, matched case-insensitively.
    public let action: String
    /// The resource ARN (or `*`), matched case-sensitively.
    public let resource: String
    /// The calling principal's ARN (user, role, assumed-role session, account root) or a service
    /// principal such as `ec2.amazonaws.com`; nil when unknown.
    public let principal: String?
    public let context: RequestContext

    let actionBytes: [UInt8]
    let resourceBytes: [UInt8]
    let principalFacts: PrincipalFacts

    /// Creates a request. Keys derivable from the principal (`aws:PrincipalArn` — the role ARN for
    /// an assumed-role session —, `aws:PrincipalAccount`, and `aws:username` for IAM users) are
    /// added unless the context already has them.
    public init(action: String, resource: String, principal: String? = nil, context: RequestContext = .init()) {
        self.action = action
        self.resource = resource
        self.principal = principal
        actionBytes = action.utf8.map(asciiLower)
        resourceBytes = Array(resource.utf8)
        let facts = PrincipalFacts(principal)
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

/// What the evaluator derives from a principal ARN.
struct PrincipalFacts: Sendable, Hashable {
    /// The account id for IAM/STS ARNs.
    var account: String?
    /// For an assumed-role session `arn:aws:sts::A:assumed-role/R/s`, the role ARN `arn:aws:iam::A:role/R`.
    var roleArn: String?
    /// For an IAM user `arn:aws:iam::A:user/path/name`, its name.
    var userName: String?

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
