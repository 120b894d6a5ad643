/// One problem `tally iam lint` found in a policy.
public struct LintFinding: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        /// The policy does not do what it says (unknown actions, mismatched resources).
        case error
        /// The policy works but is risky or probably not what was meant.
        case warning
    }

    /// A stable identifier, e.g. `unknown-action`, `resource-mismatch`, `pass-role-wildcard`.
    public var code: String
    public var severity: Severity
    /// The statement (0-based); nil for document-level findings.
    public var statement: Int?
    public var sid: String?
    /// The element concerned, e.g. `Action`, `Condition.StringEquals.s3:prefx`.
    public var field: String
    public var message: String

    public init(code: String, severity: Severity, statement: Int?, sid: String?, field: String, message: String) {
        self.code = code
        self.severity = severity
        self.statement = statement
        self.sid = sid
        self.field = field
        self.message = message
    }

    public var description: String {
        let location = statement.map { "Statement[\($0)]" + (sid.map { " (\($0))" } ?? "") } ?? "Policy"
        return "\(severity.rawValue) \(code): \(location) \(field): \(message)"
    }
}
