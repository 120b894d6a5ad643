import Foundation
import TallyCore

/// The JSON tree the policy parser works on.
///
/// Kept private to the policy grammar and built in this one file, so the JSON reader underneath
/// (Foundation today) can be swapped for TallyCore's `JSONValue` without touching the grammar.
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

    /// Parses JSON text. Throws `TallyError(.badInput)` naming `source` on malformed JSON.
    static func parse(_ bytes: some Collection<UInt8>, source: String) throws -> PolicyJSON {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw TallyError(.badInput, "\(source): not valid JSON (\(error.localizedDescription))")
        }
        return convert(object)
    }

    private static func convert(_ value: Any) -> PolicyJSON {
        switch value {
        case is NSNull:
            return .null
        case let string as String:
            return .string(string)
        case let number as NSNumber:
            // Foundation reports JSON booleans as NSNumber with objCType "c".
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            return .number(number.stringValue)
        case let array as [Any]:
            return .array(array.map(convert))
        case let dictionary as [String: Any]:
            return .object(dictionary.keys.sorted().map { ($0, convert(dictionary[$0]!)) })
        default:
            return .string(String(describing: value))
        }
    }
}
