extension PolicyGrammar {
    func conditions(_ json: PolicyJSON, index: Int, variables: Bool) throws(PolicyParseError) -> [ConditionClause] {
        guard case .object(let operators) = json else {
            throw fail(index, "Condition", "must be an object of operators, found \(json.typeName)")
        }
        var clauses: [ConditionClause] = []
        for (name, body) in operators {
            guard let op = ConditionOperator(name: name) else {
                throw fail(index, "Condition.\(name)", "unknown condition operator")
            }
            guard case .object(let keys) = body else {
                throw fail(index, "Condition.\(name)", "must be an object of condition keys, found \(body.typeName)")
            }
            guard !keys.isEmpty else { throw fail(index, "Condition.\(name)", "has no condition keys") }
            for (key, value) in keys {
                let field = "Condition.\(name).\(key)"
                guard !key.isEmpty, !key.contains(where: \.isWhitespace) else {
                    throw fail(index, field, "'\(key)' is not a condition key")
                }
                let values = try conditionValues(value, index: index, field: field)
                try validate(values, op: op, index: index, field: field)
                clauses.append(ConditionClause(op, key: key, values: values))
            }
        }
        return clauses
    }

    /// A scalar (string, number, boolean) or a non-empty array of scalars, as strings.
    func conditionValues(_ json: PolicyJSON, index: Int, field: String) throws(PolicyParseError) -> [String] {
        func scalar(_ value: PolicyJSON, _ field: String) throws(PolicyParseError) -> String {
            switch value {
            case .string(let s): return s
            case .number(let n): return n
            case .bool(let b): return b ? "true" : "false"
            default: throw fail(index, field, "a condition value must be a string, number or boolean, found \(value.typeName)")
            }
        }
        if case .array(let items) = json {
            guard !items.isEmpty else { throw fail(index, field, "must not be an empty array") }
            var result: [String] = []
            for (i, item) in items.enumerated() { result.append(try scalar(item, "\(field)[\(i)]")) }
            return result
        }
        return [try scalar(json, field)]
    }

    /// Checks that every policy value has the operator's type.
    func validate(_ values: [String], op: ConditionOperator, index: Int, field: String) throws(PolicyParseError) {
        for value in values {
            let ok: Bool
            let expected: String
            switch op.base {
            case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
                .numericGreaterThanEquals:
                ok = ConditionValueParsing.number(value) != nil
                expected = "a number"
            case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan,
                .dateGreaterThanEquals:
                ok = ConditionValueParsing.date(value) != nil
                expected = "an ISO 8601 date or epoch seconds"
            case .bool, .null:
                ok = ConditionValueParsing.bool(value) != nil
                expected = "\"true\" or \"false\""
            case .binaryEquals:
                ok = ConditionValueParsing.binary(value) != nil
                expected = "base64"
            case .ipAddress, .notIpAddress:
                ok = IPNetwork(value) != nil
                expected = "an IPv4/IPv6 address or CIDR block"
            default:
                ok = true
                expected = ""
            }
            if !ok { throw fail(index, field, "'\(value)' is not \(expected) (operator \(op))") }
        }
    }
}
