public import TallyCore

extension LintFinding {
    /// The finding as JSON: {code, severity, statement, sid, field, message}.
    public var json: JSONValue {
        .object([
            "code": .string(code), "severity": .string(severity.rawValue),
            "statement": statement.map { JSONValue.int($0) } ?? .null, "sid": sid.map(JSONValue.string) ?? .null,
            "field": .string(field), "message": .string(message),
        ])
    }
}
