/// A condition operator as written in a policy: an optional set qualifier (`ForAllValues:` /
/// `ForAnyValue:`), a base operator and an optional `IfExists` suffix.
public struct ConditionOperator: Sendable, Hashable, CustomStringConvertible {
    public enum SetQualifier: String, Sendable, Hashable {
        case forAllValues = "ForAllValues"
        case forAnyValue = "ForAnyValue"
    }

    /// The base operators, grouped by the type their values are compared as.
    public enum Base: String, Sendable, Hashable, CaseIterable {
        case stringEquals = "StringEquals"
        case stringNotEquals = "StringNotEquals"
        case stringEqualsIgnoreCase = "StringEqualsIgnoreCase"
        case stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
        case stringLike = "StringLike"
        case stringNotLike = "StringNotLike"
        case numericEquals = "NumericEquals"
        case numericNotEquals = "NumericNotEquals"
        case numericLessThan = "NumericLessThan"
        case numericLessThanEquals = "NumericLessThanEquals"
        case numericGreaterThan = "NumericGreaterThan"
        case numericGreaterThanEquals = "NumericGreaterThanEquals"
        case dateEquals = "DateEquals"
        case dateNotEquals = "DateNotEquals"
        case dateLessThan = "DateLessThan"
        case dateLessThanEquals = "DateLessThanEquals"
        case dateGreaterThan = "DateGreaterThan"
        case dateGreaterThanEquals = "DateGreaterThanEquals"
        case bool = "Bool"
        case binaryEquals = "BinaryEquals"
        case ipAddress = "IpAddress"
        case notIpAddress = "NotIpAddress"
        case arnEquals = "ArnEquals"
        case arnLike = "ArnLike"
        case arnNotEquals = "ArnNotEquals"
        case arnNotLike = "ArnNotLike"
        case null = "Null"

        /// Negated operators hold when the request value matches none of the policy values, and
        /// hold when the key is absent.
        public var isNegated: Bool {
            switch self {
            case .stringNotEquals, .stringNotEqualsIgnoreCase, .stringNotLike, .numericNotEquals, .dateNotEquals,
                .notIpAddress, .arnNotEquals, .arnNotLike:
                true
            default: false
            }
        }

        /// Whether `${...}` in the values are policy variables (string and ARN operators).
        public var allowsPolicyVariables: Bool {
            switch self {
            case .stringEquals, .stringNotEquals, .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase, .stringLike,
                .stringNotLike, .arnEquals, .arnLike, .arnNotEquals, .arnNotLike:
                true
            default: false
            }
        }

        /// Lower-cased raw value → operator, for case-insensitive lookup.
        static let byLowercasedName: [String: Base] = Dictionary(
            uniqueKeysWithValues: allCases.map { ($0.rawValue.lowercased(), $0) })
    }

    public var setQualifier: SetQualifier?
    public var base: Base
    public var ifExists: Bool

    public init(_ base: Base, setQualifier: SetQualifier? = nil, ifExists: Bool = false) {
        self.base = base
        self.setQualifier = setQualifier
        self.ifExists = ifExists
    }

    /// Parses an operator name such as `ForAnyValue:StringLikeIfExists`. Returns nil when unknown.
    public init?(name: String) {
        var rest = Substring(name)
        var qualifier: SetQualifier?
        if let colon = rest.firstIndex(of: ":") {
            switch rest[..<colon].lowercased() {
            case "forallvalues": qualifier = .forAllValues
            case "foranyvalue": qualifier = .forAnyValue
            default: return nil
            }
            rest = rest[rest.index(after: colon)...]
        }
        var lowered = rest.lowercased()
        var ifExists = false
        if lowered.hasSuffix("ifexists") {
            ifExists = true
            lowered.removeLast("ifexists".count)
        }
        guard let base = Base.byLowercasedName[lowered] else { return nil }
        // Null tests existence itself: NullIfExists and set-qualified Null are not operators.
        if base == .null && (ifExists || qualifier != nil) { return nil }
        self.init(base, setQualifier: qualifier, ifExists: ifExists)
    }

    public var description: String {
        (setQualifier.map { $0.rawValue + ":" } ?? "") + base.rawValue + (ifExists ? "IfExists" : "")
    }
}

/// One `operator: { key: values }` pair of a Condition block.
public struct ConditionClause: Sendable, Hashable {
    public var op: ConditionOperator
    /// The context key as written (matched case-insensitively).
    public var key: String
    /// The policy values as strings (JSON numbers and booleans keep their JSON text).
    public var values: [String]

    public init(_ op: ConditionOperator, key: String, values: [String]) {
        self.op = op
        self.key = key
        self.values = values
    }
}
