public import TallyCore

/// Why a policy document is invalid, and where: the statement index (0-based), the element and
/// the reason. Converted to `TallyError(.badInput)` (exit 2) at the API boundary.
public struct PolicyParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The policy's name or file.
    public var source: String
    /// Index into the Statement array (0 for a single statement object); nil for document-level errors.
    public var statementIndex: Int?
    /// The element path, e.g. `Condition.StringEquals.aws:username`.
    public var field: String
    public var reason: String

    public init(source: String, statementIndex: Int? = nil, field: String, reason: String) {
        self.source = source
        self.statementIndex = statementIndex
        self.field = field
        self.reason = reason
    }

    public var description: String {
        let location = statementIndex.map { "Statement[\($0)]" + (field.isEmpty ? "" : ".\(field)") } ?? field
        return "\(source): \(location.isEmpty ? "" : location + ": ")\(reason)"
    }

    /// The error as the project's error type (`bad-input`, exit 2).
    public var tallyError: TallyError { TallyError(.badInput, "invalid policy \(description)") }
}
