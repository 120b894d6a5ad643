import TallyCore

/// The JSON tree the policy parser works on.
///
/// Kept private to the policy grammar and built in this one file, so the JSON reader underneath
/// (TallyCore's `JSONValue`) can change without touching the grammar.
enum PolicyJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number as text ("10", "1.5").
    case number(String)
    case string(String)
    case array([PolicyJSON])
    /// Members in document order (IAM cares about duplicates only to reject them).
    case object([(key: String, value: PolicyJSON)])

    static func == (lhs: PolicyJSON, rhs: PolicyJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// A short name of the JSON type, for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Parses JSON text with TallyCore's strict reader (duplicate keys are rejected). Throws
    /// `TallyError(.badInput)` naming `source` on malformed JSON.
    static func parse(_ bytes: some Collection<UInt8>, source: String) throws -> PolicyJSON {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: bytes)
        } catch let error as TallyError {
            throw TallyError(.badInput, "\(source): \(error.reason)")
        }
        return convert(value)
    }

    private static func convert(_ value: JSONValue) -> PolicyJSON {
        switch value {
        case .null: .null
        case .bool(let b): .bool(b)
        case .number(let n): .number(n)
        case .string(let s): .string(s)
        case .array(let items): .array(items.map(convert))
        case .object(let members): .object(members.keys.sorted().map { ($0, convert(members[$0]!)) })
        }
    }
}
