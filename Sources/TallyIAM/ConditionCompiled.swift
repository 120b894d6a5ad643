/// A condition clause compiled for evaluation: key lower-cased, policy values parsed into their
/// operator's type once.
struct CompiledCondition: Sendable {
    let op: ConditionOperator
    /// Lower-cased context key, and its lookup hash.
    let key: String
    let keyHash: UInt64
    let operand: Operand

    enum Operand: Sendable {
        case strings([StringOperand])
        /// Lower-cased values (StringEqualsIgnoreCase / StringNotEqualsIgnoreCase).
        case stringsIgnoringCase([StringOperand])
        case patterns([PatternOperand])
        case numbers([Double])
        case dates([Double])
        case bools([Bool])
        case binary([[UInt8]])
        case networks([IPNetwork])
        case arns([ArnOperand])
        /// Null: each value true = "must be absent", false = "must be present".
        case null([Bool])
    }

    enum StringOperand: Sendable {
        case fixed(String)
        case template(PolicyTemplate)
    }
    enum PatternOperand: Sendable {
        case fixed(WildcardPattern)
        case template(PolicyTemplate)
    }
    enum ArnOperand: Sendable {
        case fixed(ArnPattern)
        case template(PolicyTemplate)
    }

    /// Compiles a clause whose values the grammar has validated. `variables`: the policy's Version
    /// supports policy variables.
    init(_ clause: ConditionClause, variables: Bool) {
        op = clause.op
        key = clause.key.lowercased()
        keyHash = RequestContext.keyHash(key)
        let values = clause.values
        func template(_ value: String) -> PolicyTemplate? {
            guard variables, clause.op.base.allowsPolicyVariables else { return nil }
            let t = PolicyTemplate(value)
            return t.parts == [.text(value)] ? nil : t
        }
        switch clause.op.base {
        case .stringEquals, .stringNotEquals:
            operand = .strings(values.map { v in template(v).map { .template($0) } ?? .fixed(v) })
        case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
            operand = .stringsIgnoringCase(values.map { v in template(v).map { .template($0) } ?? .fixed(v.lowercased()) })
        case .stringLike, .stringNotLike:
            operand = .patterns(values.map { v in template(v).map { .template($0) } ?? .fixed(WildcardPattern(v)) })
        case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
            .numericGreaterThanEquals:
            operand = .numbers(values.compactMap { ConditionValueParsing.number($0) })
        case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
            operand = .dates(values.compactMap { ConditionValueParsing.date($0) })
        case .bool:
            operand = .bools(values.compactMap { ConditionValueParsing.bool($0) })
        case .binaryEquals:
            operand = .binary(values.compactMap { ConditionValueParsing.binary($0) })
        case .ipAddress, .notIpAddress:
            operand = .networks(values.compactMap { IPNetwork($0) })
        case .arnEquals, .arnLike, .arnNotEquals, .arnNotLike:
            operand = .arns(values.map { v in template(v).map { .template($0) } ?? .fixed(ArnPattern(v)) })
        case .null:
            operand = .null(values.compactMap { ConditionValueParsing.bool($0) })
        }
    }
}

/// An ARN pattern for the Arn* operators: each of the six colon-separated parts
/// (`arn:partition:service:region:account:resource`) is matched separately, with wildcards.
struct ArnPattern: Sendable, Hashable {
    let parts: [WildcardPattern]
    /// The whole pattern, for values that are not six-part ARNs.
    let whole: WildcardPattern

    init(_ text: String) {
        self.init(tokens: WildcardPattern(text).tokens)
    }

    /// From wildcard tokens (so policy-variable values stay literal).
    init(tokens: [UInt16]) {
        var parts: [WildcardPattern] = []
        var current: [UInt16] = []
        for token in tokens {
            if token == UInt16(UInt8(ascii: ":")) && parts.count < 5 {
                parts.append(WildcardPattern(tokens: current))
                current = []
            } else {
                current.append(token)
            }
        }
        parts.append(WildcardPattern(tokens: current))
        self.parts = parts
        whole = WildcardPattern(tokens: tokens)
    }

    func matches(_ arn: String) -> Bool {
        let pieces = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        if parts.count != 6 {
            // Not an ARN-shaped pattern (e.g. "*"): match the whole value.
            return whole.matches(arn)
        }
        guard pieces.count == 6 else { return false }
        for i in 0..<6 where !parts[i].matches(String(pieces[i])) { return false }
        return true
    }
}
