extension CompiledCondition {
    /// Evaluates the clause against the request context, with AWS's rules:
    /// - key absent (for `Null` and set operators also: only empty strings): `Null` checks absence; `...IfExists` holds; `ForAllValues:` holds;
    ///   `ForAnyValue:` fails; otherwise negated operators hold and the rest fail;
    /// - without a set qualifier a positive operator holds when any request value matches any
    ///   policy value (OR), a negated one when no request value matches any policy value (NOR);
    /// - `ForAnyValue:` holds when at least one request value satisfies the operator, `ForAllValues:`
    ///   when every request value does;
    /// - a request value that cannot be read as the operator's type satisfies nothing.
    func holds(in context: RequestContext) -> Bool {
        // AWS: a policy variable that cannot be resolved makes the statement invalid. Read as "this value matches
        // nothing", a negated operator then held (StringNotEquals ${aws:username} for a role session: a wrong allow;
        // session 12 probe): the condition fails instead.
        if op.base.isNegated && hasUnresolvedVariable(in: context) { return false }
        var requestValues = context.values(forLowercased: key, hash: keyHash) ?? []
        // For Null and the set operators, a key whose values are all empty strings is a null
        // data set, as if absent (AWS: "resolves to a null dataset, such as an empty string").
        if op.setQualifier != nil || op.base == .null, !requestValues.isEmpty, requestValues.allSatisfy(\.isEmpty) {
            requestValues = []
        }
        if case .null(let expectations) = operand {
            let absent = requestValues.isEmpty
            return expectations.contains { $0 == absent }
        }
        if requestValues.isEmpty {
            if op.ifExists { return true }
            switch op.setQualifier {
            case .forAllValues: return true
            case .forAnyValue: return false
            case nil: return op.base.isNegated
            }
        }
        let negated = op.base.isNegated
        func satisfies(_ value: String) -> Bool {
            guard let matched = matchesAnyPolicyValue(value, context: context) else { return false }
            return negated ? !matched : matched
        }
        switch op.setQualifier {
        case .forAnyValue:
            return requestValues.contains(where: satisfies)
        case .forAllValues:
            return requestValues.allSatisfy(satisfies)
        case nil:
            return negated ? requestValues.allSatisfy(satisfies) : requestValues.contains(where: satisfies)
        }
    }

    /// Whether a policy value holds a variable the request cannot resolve.
    private func hasUnresolvedVariable(in context: RequestContext) -> Bool {
        switch operand {
        case .strings(let operands), .stringsIgnoringCase(let operands):
            for case .template(let t) in operands where !t.isResolvable(in: context) { return true }
        case .patterns(let operands):
            for case .template(let t) in operands where !t.isResolvable(in: context) { return true }
        case .arns(let operands):
            for case .template(let t) in operands where !t.isResolvable(in: context) { return true }
        default:
            break
        }
        return false
    }

    /// Whether one request value matches at least one policy value under the operator's positive
    /// form; nil when the value cannot be read as the operator's type.
    private func matchesAnyPolicyValue(_ value: String, context: RequestContext) -> Bool? {
        switch operand {
        case .strings(let operands):
            return operands.contains { operand in
                switch operand {
                case .fixed(let s): return s == value
                case .template(let t): return t.resolve(in: context) == value
                }
            }
        case .stringsIgnoringCase(let operands):
            let lowered = value.lowercased()
            return operands.contains { operand in
                switch operand {
                case .fixed(let s): return s == lowered
                case .template(let t): return t.resolve(in: context)?.lowercased() == lowered
                }
            }
        case .patterns(let operands):
            return operands.contains { operand in
                switch operand {
                case .fixed(let p): return p.matches(value)
                case .template(let t): return t.resolvePattern(in: context, wildcards: true)?.matches(value) ?? false
                }
            }
        case .numbers(let numbers):
            guard let n = ConditionValueParsing.number(value) else { return nil }
            return numbers.contains { compare(n, $0) }
        case .dates(let dates):
            guard let d = ConditionValueParsing.date(value) else { return nil }
            return dates.contains { compare(d, $0) }
        case .bools(let bools):
            guard let b = ConditionValueParsing.bool(value) else { return nil }
            return bools.contains(b)
        case .binary(let blobs):
            guard let bytes = ConditionValueParsing.binary(value) else { return nil }
            return blobs.contains(bytes)
        case .networks(let networks):
            guard let address = IPNetwork.parseAddress(value) else { return nil }
            return networks.contains { $0.contains(parsed: address) }
        case .arns(let operands):
            return operands.contains { operand in
                switch operand {
                case .fixed(let p): return p.matches(value)
                case .template(let t):
                    guard let pattern = t.resolvePattern(in: context, wildcards: true) else { return false }
                    return ArnPattern(tokens: pattern.tokens).matches(value)
                }
            }
        case .null:
            return nil
        }
    }

    /// The ordering comparison of Numeric* and Date* operators (request value `a`, policy value `b`).
    private func compare(_ a: Double, _ b: Double) -> Bool {
        switch op.base {
        case .numericLessThan, .dateLessThan: a < b
        case .numericLessThanEquals, .dateLessThanEquals: a <= b
        case .numericGreaterThan, .dateGreaterThan: a > b
        case .numericGreaterThanEquals, .dateGreaterThanEquals: a >= b
        default: a == b  // Equals and NotEquals (negation applied by the caller)
        }
    }
}
