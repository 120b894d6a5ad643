import TallyCore

extension PolicyDocument {
    /// Parses and validates a policy document (JSON bytes). `source` names it in errors.
    ///
    /// Throws `TallyError(.badInput)` whose reason names the statement index, the element and what
    /// is wrong (see ``PolicyParseError``).
    public init(parsing bytes: some Collection<UInt8>, source: String = "policy") throws {
        let json = try PolicyJSON.parse(bytes, source: source)
        do {
            self = try PolicyGrammar(source: source).document(json)
        } catch {
            throw error.tallyError
        }
    }

    /// Parses a policy from a JSON string.
    public init(json: String, source: String = "policy") throws {
        try self.init(parsing: Array(json.utf8), source: source)
    }
}

/// The grammar: turns a JSON tree into a validated ``PolicyDocument``.
struct PolicyGrammar {
    let source: String

    func fail(_ index: Int?, _ field: String, _ reason: String) -> PolicyParseError {
        PolicyParseError(source: source, statementIndex: index, field: field, reason: reason)
    }

    func document(_ json: PolicyJSON) throws(PolicyParseError) -> PolicyDocument {
        guard case .object(let members) = json else {
            throw fail(nil, "", "a policy must be a JSON object, found \(json.typeName)")
        }
        var version: String?
        var id: String?
        var statementJSON: PolicyJSON?
        for (key, value) in members {
            switch key {
            case "Version":
                guard case .string(let v) = value else { throw fail(nil, "Version", "must be a string") }
                guard v == "2012-10-17" || v == "2008-10-17" else {
                    throw fail(nil, "Version", "'\(v)' is not a policy language version (2012-10-17 or 2008-10-17)")
                }
                version = v
            case "Id":
                guard case .string(let v) = value else { throw fail(nil, "Id", "must be a string") }
                id = v
            case "Statement":
                statementJSON = value
            default:
                throw fail(nil, key, "unknown top-level element (expected Version, Id, Statement)")
            }
        }
        guard let statementJSON else { throw fail(nil, "Statement", "missing") }
        let variables = version == PolicyDocument.currentVersion
        var statements: [PolicyStatement] = []
        switch statementJSON {
        case .object:
            statements = [try statement(statementJSON, index: 0, variables: variables)]
        case .array(let items):
            for (index, item) in items.enumerated() {
                statements.append(try statement(item, index: index, variables: variables))
            }
        default:
            throw fail(nil, "Statement", "must be an object or an array of objects, found \(statementJSON.typeName)")
        }
        return PolicyDocument(version: version, id: id, statements: statements)
    }

    func statement(_ json: PolicyJSON, index: Int, variables: Bool) throws(PolicyParseError) -> PolicyStatement {
        guard case .object(let members) = json else {
            throw fail(index, "", "a statement must be an object, found \(json.typeName)")
        }
        var sid: String?
        var effect: PolicyEffect?
        var action: PolicyStatement.Element<String>?
        var resource: PolicyStatement.Element<String>?
        var principal: PolicyStatement.Element<PolicyPrincipal>?
        var conditions: [ConditionClause] = []
        for (key, value) in members {
            switch key {
            case "Sid":
                guard case .string(let s) = value else { throw fail(index, "Sid", "must be a string") }
                sid = s
            case "Effect":
                guard case .string(let e) = value, let parsed = PolicyEffect(rawValue: e) else {
                    throw fail(index, "Effect", "must be \"Allow\" or \"Deny\", found \(describe(value))")
                }
                effect = parsed
            case "Action", "NotAction":
                guard action == nil else { throw fail(index, key, "a statement has either Action or NotAction, not both") }
                let list = try actions(value, index: index, field: key)
                action = key == "Action" ? .positive(list) : .negated(list)
            case "Resource", "NotResource":
                guard resource == nil else {
                    throw fail(index, key, "a statement has either Resource or NotResource, not both")
                }
                let list = try resources(value, index: index, field: key)
                resource = key == "Resource" ? .positive(list) : .negated(list)
            case "Principal", "NotPrincipal":
                guard principal == nil else {
                    throw fail(index, key, "a statement has either Principal or NotPrincipal, not both")
                }
                let p = try self.principal(value, index: index, field: key)
                principal = key == "Principal" ? .positive([p]) : .negated([p])
            case "Condition":
                conditions = try self.conditions(value, index: index, variables: variables)
            default:
                throw fail(
                    index, key,
                    "unknown element (expected Sid, Effect, Action, NotAction, Resource, NotResource, Principal, NotPrincipal, Condition)"
                )
            }
        }
        guard let effect else { throw fail(index, "Effect", "missing") }
        guard let action else { throw fail(index, "Action", "missing (a statement needs Action or NotAction)") }
        return PolicyStatement(
            sid: sid, effect: effect, action: action, resource: resource, principal: principal, conditions: conditions)
    }

    /// A string or a non-empty array of strings.
    func strings(_ json: PolicyJSON, index: Int, field: String) throws(PolicyParseError) -> [String] {
        switch json {
        case .string(let s):
            return [s]
        case .array(let items):
            guard !items.isEmpty else { throw fail(index, field, "must not be an empty array") }
            var result: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw fail(index, "\(field)[\(i)]", "must be a string, found \(item.typeName)")
                }
                result.append(s)
            }
            return result
        default:
            throw fail(index, field, "must be a string or an array of strings, found \(json.typeName)")
        }
    }

    func actions(_ json: PolicyJSON, index: Int, field: String) throws(PolicyParseError) -> [String] {
        let list = try strings(json, index: index, field: field)
        for action in list where action != "*" && !PolicyGrammar.isAction(action) {
            throw fail(index, field, "'\(action)' is not an action (expected \"service:ActionName\" or \"*\")")
        }
        return list
    }

    /// `service:Name`: a service prefix of ASCII letters, digits, `-` (and wildcards), one colon, and
    /// a non-empty name without colons, spaces or control characters. Checked on bytes (this runs for
    /// every action of every policy).
    static func isAction(_ action: String) -> Bool {
        var sawColon = false
        var serviceLength = 0
        var nameLength = 0
        for byte in action.utf8 {
            if byte == UInt8(ascii: ":") {
                if sawColon { return false }
                sawColon = true
            } else if !sawColon {
                let lower = byte | 0x20
                guard (lower >= 97 && lower <= 122) || (byte >= 48 && byte <= 57) || byte == 45 || byte == 42 || byte == 63
                else { return false }
                serviceLength += 1
            } else {
                guard byte > 0x20 && byte != 0x7F else { return false }
                nameLength += 1
            }
        }
        return sawColon && serviceLength > 0 && nameLength > 0
    }

    func resources(_ json: PolicyJSON, index: Int, field: String) throws(PolicyParseError) -> [String] {
        let list = try strings(json, index: index, field: field)
        for resource in list where resource != "*" {
            // API Gateway resource policies may abbreviate their own ARNs as "execute-api:/...".
            if resource.hasPrefix("execute-api:/") { continue }
            guard resource.hasPrefix("arn:"), resource.split(separator: ":", omittingEmptySubsequences: false).count >= 6
            else {
                throw fail(
                    index, field, "'\(resource)' is not an ARN (arn:partition:service:region:account:resource) or \"*\"")
            }
        }
        return list
    }

    func principal(_ json: PolicyJSON, index: Int, field: String) throws(PolicyParseError) -> PolicyPrincipal {
        switch json {
        case .string("*"):
            return .everyone
        case .object(let members):
            guard !members.isEmpty else { throw fail(index, field, "must name at least one principal type") }
            var principal = PolicyPrincipal()
            for (key, value) in members {
                guard let kind = PolicyPrincipal.Kind(rawValue: key) else {
                    throw fail(index, "\(field).\(key)", "unknown principal type (expected AWS, Service, Federated, CanonicalUser)")
                }
                let ids = try strings(value, index: index, field: "\(field).\(key)")
                if let empty = ids.first(where: \.isEmpty) {
                    throw fail(index, "\(field).\(key)", "'\(empty)' is not a principal")
                }
                principal.identifiers[kind] = ids
            }
            return principal
        default:
            throw fail(index, field, "must be \"*\" or an object such as {\"AWS\": \"arn:...\"}, found \(describe(json))")
        }
    }

    func describe(_ json: PolicyJSON) -> String {
        if case .string(let s) = json { return "'\(s)'" }
        return json.typeName
    }
}
