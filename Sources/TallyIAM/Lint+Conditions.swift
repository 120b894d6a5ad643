import Foundation

extension PolicyLinter {
    /// Global condition keys (AWS's "global condition context keys" page); tag-style keys end in "/".
    static let globalConditionKeys: [String] = [
        "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime", "aws:EpochTime",
        "aws:FederatedProvider", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:PrincipalAccount",
        "aws:PrincipalArn", "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalTag/", "aws:PrincipalType",
        "aws:Referer", "aws:RequestedRegion", "aws:RequestTag/", "aws:ResourceAccount", "aws:ResourceOrgID",
        "aws:ResourceOrgPaths", "aws:ResourceTag/", "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn",
        "aws:SourceIdentity", "aws:SourceIp", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc",
        "aws:SourceVpce", "aws:SourceVpcArn", "aws:TagKeys", "aws:TokenIssueTime", "aws:UserAgent", "aws:userid",
        "aws:username", "aws:ViaAWSService", "aws:VpcSourceIp", "aws:Ec2InstanceSourceVpc",
        "aws:Ec2InstanceSourcePrivateIPv4", "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths",
        "aws:AssumedRoot", "aws:ChatbotSourceArn", "aws:RequestAttribute/", "aws:ResourceAttribute/",
        "aws:IsMcpServiceAction",
    ]

    /// The type of a condition key (catalog type names such as "String", "ArrayOfString", "Date"),
    /// nil when unknown.
    func conditionKeyType(_ key: String) -> String? {
        let lower = key.lowercased()
        for global in PolicyLinter.globalConditionKeys {
            let g = global.lowercased()
            if g.hasSuffix("/") ? (lower.hasPrefix(g) && lower.count > g.count) : lower == g {
                return PolicyLinter.globalKeyTypes[g] ?? "String"
            }
        }
        if let known = catalog.conditionKey(named: key) { return known.type }
        // Templates the catalog's matcher does not cover: a placeholder after ":" or "/" anywhere
        // ("kms:EncryptionContext:${EncryptionContextKey}") or the reference's literal "tag-key".
        let prefix = String(lower.prefix { $0 != ":" })
        for definition in catalog.conditionKeys(service: prefix) {
            let name = definition.name.lowercased()
            var head: Substring?
            if let open = name.range(of: "${") ?? name.range(of: "<") {
                head = name[..<open.lowerBound]
            } else if name.hasSuffix("/tag-key") {
                head = name.dropLast("tag-key".count)
            }
            if let head, !head.isEmpty, lower.hasPrefix(head), lower.count > head.count { return definition.type }
        }
        return nil
    }

    static let globalKeyTypes: [String: String] = [
        "aws:calledvia": "ArrayOfString", "aws:currenttime": "Date", "aws:epochtime": "Date",
        "aws:multifactorauthage": "Numeric", "aws:multifactorauthpresent": "Bool",
        "aws:principalisawsservice": "Bool", "aws:principalarn": "ARN", "aws:principalorgpaths": "ArrayOfString",
        "aws:principalservicenameslist": "ArrayOfString", "aws:securetransport": "Bool", "aws:sourcearn": "ARN",
        "aws:sourceip": "IPAddress", "aws:sourceorgpaths": "ArrayOfString", "aws:tagkeys": "ArrayOfString",
        "aws:tokenissuetime": "Date", "aws:viaawsservice": "Bool", "aws:vpcsourceip": "IPAddress",
        "aws:resourceorgpaths": "ArrayOfString", "aws:ec2instancesourceprivateipv4": "IPAddress",
        "aws:vpceorgpaths": "ArrayOfString", "aws:assumedroot": "Bool", "aws:ismcpserviceaction": "Bool", "aws:chatbotsourcearn": "ARN",
        "aws:sourcevpcarn": "ARN",
    ]

    /// Unknown condition keys, operators that do not fit the key's type, and set operators on
    /// single-valued keys (or multivalued keys without one).
    func lintConditions(_ context: inout LintContext) {
        for clause in context.statement.conditions {
            let field = "Condition.\(clause.op).\(clause.key)"
            let prefix = clause.key.prefix { $0 != ":" }.lowercased()
            // Federation keys (saml:, OIDC provider hosts such as accounts.google.com:aud) are not in the catalog.
            if prefix == "saml" || prefix.contains(".") { continue }
            guard let type = conditionKeyType(clause.key) else {
                context.add(
                    "unknown-condition-key", .warning, field,
                    "'\(clause.key)' is not a global condition key nor one defined by the '\(prefix)' service")
                continue
            }
            let lowerType = type.lowercased()
            let multivalued = lowerType.hasPrefix("arrayof")
            let element = multivalued ? String(lowerType.dropFirst("arrayof".count)) : lowerType
            if clause.op.base != .null, let expected = expectedFamily(element), !fits(clause.op.base, family: expected) {
                context.add(
                    "condition-type-mismatch", .warning, field,
                    "'\(clause.key)' is of type \(type); use a \(expected) operator instead of \(clause.op.base.rawValue)")
            }
            if clause.op.setQualifier != nil && !multivalued {
                context.add(
                    "set-operator-on-single-value", .warning, field,
                    "'\(clause.key)' is single-valued: \(clause.op.setQualifier!.rawValue): is meant for multivalued keys"
                        + (clause.op.setQualifier == .forAllValues ? " and makes the condition true when the key is absent" : ""))
            } else if clause.op.setQualifier == nil && multivalued && clause.op.base != .null {
                context.add(
                    "multivalued-key-without-set-operator", .warning, field,
                    "'\(clause.key)' is multivalued: qualify the operator with ForAllValues: or ForAnyValue:")
            }
        }
    }

    private func expectedFamily(_ elementType: String) -> String? {
        switch elementType {
        case "string": "String"
        case "arn": "Arn or String"
        case "numeric", "long", "integer": "Numeric"
        case "date": "Date"
        case "bool", "boolean": "Bool"
        case "ipaddress", "ip": "IpAddress"
        case "binary": "BinaryEquals"
        default: nil
        }
    }

    private func fits(_ base: ConditionOperator.Base, family: String) -> Bool {
        let name = base.rawValue
        switch family {
        // ARN operators on string keys are common (ARNs in tags, encryption contexts) and work.
        case "String": return name.hasPrefix("String") || name.hasPrefix("Arn")
        case "Arn or String": return name.hasPrefix("Arn") || name.hasPrefix("String")
        case "Numeric": return name.hasPrefix("Numeric")
        case "Date": return name.hasPrefix("Date")
        case "Bool": return base == .bool
        case "IpAddress": return base == .ipAddress || base == .notIpAddress
        case "BinaryEquals": return base == .binaryEquals
        default: return true
        }
    }
}
