import Foundation
import TallyAWS
import TallyCore
import TallyIAM

extension GatewayHandler {
    /// Built-in guardrail (run by ``builtinRequestDenial(_:permissions:head:body:)``): a resource policy, grant or
    /// sharing setting may give access only to principals of the upstream account and to AWS services. A bucket,
    /// queue, topic, key, secret, repository or function opened to another account or to everyone lets the agent (or
    /// anyone) reach the data from outside the gateway, with no record. Nil when the request is no such call or it
    /// grants nothing outside the account.
    func resourcePolicyDenial(_ identified: IdentifiedOperation, permissions: [RequiredPermission], head: TallyAWS.HTTPRequestHead,
                              body: [UInt8]?) -> (rule: Guardrails.DenyRule, action: String)? {
        guard let operation = identified.operation,
              Self.resourceSharingOperations[identified.service]?.contains(operation) == true else { return nil }
        let account = identity.baseARN.flatMap(Self.accountOf) ?? configuration.account
        guard let problem = Self.resourceSharingProblem(service: identified.service, operation: operation, head: head,
                                                        body: body, account: account) else { return nil }
        let action = permissions.first { $0.action.lowercased().hasSuffix(":" + operation.lowercased()) }?.action
            ?? permissions.first?.action ?? "\(identified.service):\(operation)"
        return (Guardrails.DenyRule(actionPattern: action, reason: "built-in: \(problem); resource policies and grants may "
                                    + "name only principals of account \(account) and AWS services"), action)
    }

    /// The operations ``resourceSharingProblem(service:operation:head:body:account:)`` reads, by signing name.
    static let resourceSharingOperations: [String: Set<String>] = [
        "s3": ["PutBucketPolicy", "PutBucketAcl", "PutObjectAcl", "CreateBucket", "PutObject", "CopyObject", "CreateMultipartUpload"],
        "sqs": ["SetQueueAttributes", "CreateQueue", "AddPermission"],
        "sns": ["SetTopicAttributes", "CreateTopic", "AddPermission"],
        "lambda": ["AddPermission", "AddLayerVersionPermission", "CreateFunctionUrlConfig", "UpdateFunctionUrlConfig"],
        "kms": ["PutKeyPolicy", "CreateKey", "ReplicateKey", "CreateGrant"],
        "secretsmanager": ["PutResourcePolicy"],
        "ecr": ["SetRepositoryPolicy", "PutRegistryPolicy"],
        "ecr-public": ["SetRepositoryPolicy"],
        "logs": ["PutResourcePolicy"],
        "events": ["PutPermission"],
        "elasticfilesystem": ["PutFileSystemPolicy"],
        "backup": ["PutBackupVaultAccessPolicy"],
        "dynamodb": ["PutResourcePolicy"],
        "kinesis": ["PutResourcePolicy"],
        "glue": ["PutResourcePolicy"],
        "ssm": ["ModifyDocumentPermission"],
        "ram": ["CreateResourceShare", "AssociateResourceShare"],
        "redshift": ["AuthorizeSnapshotAccess"],
        "ec2": ["ModifySnapshotAttribute", "ModifyImageAttribute"],
        "rds": ["ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"],
    ]

    /// What the request grants outside `account` (or why it cannot be checked), or nil.
    static func resourceSharingProblem(service: String, operation: String, head: TallyAWS.HTTPRequestHead, body: [UInt8]?,
                                       account: String) -> String? {
        let text = body.map { String(decoding: $0, as: UTF8.self) }
        let json = body.flatMap { try? JSONValue(parsing: $0) }
        // S3's body is the object (PutObject) or an XML document: its Content-Encoding is object metadata and JSON
        // rules do not apply. Elsewhere the body is the request itself.
        if service != "s3" {
            // A compressed body (Content-Encoding gzip, deflate, ...) is not read here: refused (session 9 probe).
            if let encoding = contentEncodings(head).first(where: { $0 != "aws-chunked" }), body.map({ !$0.isEmpty }) ?? true {
                return "the body is \(encoding)-encoded, so it could not be checked"
            }
            // A JSON body Tally cannot read (a duplicate key: Tally's parser refuses them, other parsers keep one of the
            // values) would hide its policy from this check: refused (session 9 probe).
            if let body, json == nil, body.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) == UInt8(ascii: "{") {
                return "the JSON body could not be read (a duplicate key?), so it could not be checked"
            }
        }
        // Query-protocol parameters: the form body, else the query string.
        let form = head.queryItems + (text.map(QueryString.formPairs) ?? [])
        func formValue(_ name: String) -> [String] { form.filter { $0.name == name }.map(\.value) }
        // Attribute names are compared without case (`asciiCaseInsensitiveEquals`): moto takes `policy` for `Policy`, and
        // an upstream that does the same would otherwise get a policy this check never read (session 15 probe).
        /// The policy documents in `member` (a JSON member or a form parameter); a non-string JSON value is a problem.
        func policies(_ member: String, what: String) -> String? {
            var documents = formValue(member)
            if let value = json?[member] {
                guard let s = value.stringValue else { return "the \(what) (\(member)) is not a string" }
                documents.append(s)
            }
            guard documents.count <= 1 else { return "\(member) is sent more than once" }
            return documents.first.flatMap { resourcePolicyProblem($0, account: account).map { "the \(what) \($0)" } }
        }
        func principals(_ names: [String], what: String) -> String? {
            for name in names where !principalIsInside(name, account: account) { return "\(what) grants \(name)" }
            return nil
        }
        switch (service, operation) {
        case ("s3", "PutBucketPolicy"):
            guard let text else { return "the bucket policy was streamed, so it could not be checked" }
            return resourcePolicyProblem(text, account: account).map { "the bucket policy \($0)" }
        case ("s3", _):
            if operation.hasSuffix("Acl"), text == nil, head.value(of: "transfer-encoding") != nil
                || (head.value(of: "content-length").map { $0 != "0" } ?? false) {
                // A streamed ACL body (aws-chunked, chunked, or over the buffered size) would reach S3 unread
                // (review finding, session 9): refused, as a streamed bucket policy is.
                return "the access control list was streamed, so it could not be checked"
            }
            return s3ACLProblem(head: head, body: operation.hasSuffix("Acl") ? text : nil)
        case ("sqs", "AddPermission"), ("sns", "AddPermission"):
            var accounts = form.filter { $0.name.hasPrefix("AWSAccountId.") }.map(\.value)
            accounts += json?["AWSAccountIds"]?.arrayValue?.map { $0.stringValue ?? "?" } ?? []
            return principals(accounts, what: "the permission")
        case ("sqs", _):
            // Query: Attribute.N.Name=Policy / Attribute.N.Value; JSON: {"Attributes": {"Policy": "..."}}.
            var documents: [String] = []
            for item in form where item.name.hasPrefix("Attribute.") && item.name.hasSuffix(".Name") && asciiCaseInsensitiveEquals(item.value, "Policy") {
                documents += formValue(String(item.name.dropLast(".Name".count)) + ".Value")
            }
            for (name, value) in json?["Attributes"]?.objectValue ?? [:] where asciiCaseInsensitiveEquals(name, "Policy") {
                guard let s = value.stringValue else { return "the queue policy is not a string" }
                documents.append(s)
            }
            guard documents.count <= 1 else { return "the queue policy is sent more than once" }
            return documents.first.flatMap { resourcePolicyProblem($0, account: account).map { "the queue policy \($0)" } }
        case ("sns", "SetTopicAttributes"):
            guard formValue("AttributeName").contains(where: { asciiCaseInsensitiveEquals($0, "Policy") }) else { return nil }
            let values = formValue("AttributeValue")
            guard values.count == 1 else { return "the topic policy is missing or sent more than once" }
            return resourcePolicyProblem(values[0], account: account).map { "the topic policy \($0)" }
        case ("sns", _):  // CreateTopic: Attributes.entry.N.key=Policy / Attributes.entry.N.value
            var documents: [String] = []
            for item in form where item.name.hasPrefix("Attributes.entry.") && item.name.hasSuffix(".key") && asciiCaseInsensitiveEquals(item.value, "Policy") {
                documents += formValue(String(item.name.dropLast(".key".count)) + ".value")
            }
            guard documents.count <= 1 else { return "the topic policy is sent more than once" }
            return documents.first.flatMap { resourcePolicyProblem($0, account: account).map { "the topic policy \($0)" } }
        case ("lambda", "CreateFunctionUrlConfig"), ("lambda", "UpdateFunctionUrlConfig"):
            return json?["AuthType"]?.stringValue == "NONE" ? "a function URL with AuthType NONE is open to everyone" : nil
        case ("lambda", _), ("events", "PutPermission"):
            if let policy = json?["Policy"] {
                guard let s = policy.stringValue else { return "the policy is not a string" }
                if let problem = resourcePolicyProblem(s, account: account) { return "the policy \(problem)" }
            }
            guard let principal = json?["Principal"] else { return nil }
            guard let name = principal.stringValue else { return "the Principal is not a string" }
            if name == "*" {
                // Everyone, unless the permission is pinned to this account's sources.
                if json?["SourceAccount"]?.stringValue == account { return nil }
                return "the permission grants * (everyone)"
            }
            return principals([name], what: "the permission")
        case ("kms", "CreateGrant"):
            let names = ["GranteePrincipal", "RetiringPrincipal"].compactMap { json?[$0]?.stringValue }
            return principals(names, what: "the grant")
        case ("kms", _): return policies("Policy", what: "key policy")
        case ("secretsmanager", _): return policies("ResourcePolicy", what: "secret policy")
        case ("ecr", _), ("ecr-public", _): return policies("policyText", what: "repository policy")
        case ("logs", _): return policies("policyDocument", what: "resource policy")
        case ("elasticfilesystem", _): return policies("Policy", what: "file system policy")
        case ("backup", _): return policies("Policy", what: "backup vault policy")
        // Session 9 probe: these sharing operations were forwarded unchecked.
        case ("dynamodb", _), ("kinesis", _): return policies("Policy", what: "resource policy")
        case ("glue", _): return policies("PolicyInJson", what: "catalog policy")
        case ("ssm", _):
            let added = json?["AccountIdsToAdd"]?.arrayValue?.map { $0.stringValue ?? "?" } ?? []
            for id in added where id != account { return "shares the document with \(id.lowercased() == "all" ? "everyone (All)" : "account \(id)")" }
            return nil
        case ("ram", _):
            if json?["principals"] != nil, json?["principals"]?.arrayValue == nil { return "the principals are not a list" }
            let names = json?["principals"]?.arrayValue?.map { $0.stringValue ?? "?" } ?? []
            // An organization or OU ARN names its management account but shares with every account in it.
            if let org = names.first(where: { $0.hasPrefix("arn:") && $0.split(separator: ":", omittingEmptySubsequences: false).dropFirst(2).first == "organizations" }) {
                return "the resource share grants \(org) (every account in it)"
            }
            return principals(names, what: "the resource share")
        case ("redshift", _):
            for id in formValue("AccountWithRestoreAccess") where id != account {
                return "shares the snapshot with \(id.lowercased() == "all" ? "everyone (all)" : "account \(id)")"
            }
            return nil
        case ("ec2", _):
            // CreateVolumePermission.Add.N.Group|UserId|..., LaunchPermission.Add.N.*, or OperationType=add with UserId.N /
            // UserGroup.N / OrganizationArn.N / OrganizationalUnitArn.N.
            let adding = formValue("OperationType").contains { $0.lowercased() == "add" }
            for item in form {
                let parts = item.name.split(separator: ".")
                let added = parts.count == 4 && parts[1] == "Add" && (parts[0] == "CreateVolumePermission" || parts[0] == "LaunchPermission")
                let listed = adding && parts.count == 2 && Int(parts[1]) != nil
                guard added || listed else { continue }
                switch added ? parts[3] : parts[0] {
                case "Group", "UserGroup": return "shares the \(operation == "ModifyImageAttribute" ? "image" : "snapshot") with group \(item.value)"
                case "UserId" where item.value != account: return "shares with account \(item.value)"
                case "OrganizationArn", "OrganizationalUnitArn": return "shares with \(item.value)"
                default: continue
                }
            }
            return nil
        case ("rds", _):
            guard formValue("AttributeName").contains(where: { asciiCaseInsensitiveEquals($0, "restore") }) else { return nil }
            let added = form.filter { $0.name.hasPrefix("ValuesToAdd.") }.map(\.value)
            for value in added where value != account { return "shares the snapshot with \(value == "all" ? "everyone (all)" : "account \(value)")" }
            return nil
        default:
            return nil
        }
    }

    /// True for a principal of `account` (its id or an ARN in it) or an AWS service principal.
    static func principalIsInside(_ name: String, account: String) -> Bool {
        // An AWS service principal is a bare DNS name (`events.amazonaws.com`), never an ARN: a role named
        // `evil.amazonaws.com` in another account passed as one (session 9 probe).
        let isServicePrincipal = (name.hasSuffix(".amazonaws.com") || name.hasSuffix(".amazonaws.com.cn"))
            && !name.contains(":") && !name.contains("/")
        return name == account || accountOf(name) == account || isServicePrincipal
    }

    /// S3 canned ACLs and grants that open a bucket or object to everyone (`AllUsers`), every AWS account
    /// (`AuthenticatedUsers`) or an account named by e-mail, in the headers or an `AccessControlPolicy` body. (A grant
    /// to a canonical user id is not checked: the account's own canonical id is not known here.)
    static func s3ACLProblem(head: TallyAWS.HTTPRequestHead, body: String?) -> String? {
        for acl in head.values(of: "x-amz-acl") {
            let canned = acl.trimmingCharacters(in: .whitespaces).lowercased()
            if ["public-read", "public-read-write", "authenticated-read"].contains(canned) { return "the canned ACL \(canned) is public" }
        }
        for (name, value) in head.headers where name.lowercased().hasPrefix("x-amz-grant-") {
            let v = value.lowercased()
            if v.contains("allusers") || v.contains("authenticatedusers") { return "\(name.lowercased()) grants a public group" }
            // An e-mail address names an AWS account (the owner already holds every permission on its own resources).
            if v.contains("emailaddress") { return "\(name.lowercased()) grants an e-mail address (another account)" }
        }
        // The body is matched after XML character references, predefined entities and CDATA markers are resolved, in
        // any case and with any namespace prefix: `All&#85;sers` made a public ACL pass (session 9 re-probe). Any
        // mention of the public groups or of an e-mail grantee refuses the call (fail closed: no XML parser to agree
        // with S3's on every corner).
        if let body {
            let text = Self.xmlTextResolved(body).lowercased()
            if text.contains("allusers") || text.contains("authenticatedusers") { return "the ACL grants a public group" }
            if text.contains("emailaddress") || text.contains("amazoncustomerbyemail") {
                return "the ACL grants an e-mail address (another account)"
            }
        }
        return nil
    }

    /// `text` with XML character references (`&#85;`, `&#x55;`), the predefined entities and CDATA markers resolved.
    static func xmlTextResolved(_ text: String) -> String {
        guard text.contains("&") || text.contains("<![CDATA[") else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var rest = Substring(text.replacingOccurrences(of: "<![CDATA[", with: "").replacingOccurrences(of: "]]>", with: ""))
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            guard let semi = after.firstIndex(of: ";"), after.distance(from: after.startIndex, to: semi) <= 10 else {
                out += "&"; rest = after; continue
            }
            let name = after[..<semi]
            let named: [Substring: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"]
            var scalar: Unicode.Scalar?
            if name.hasPrefix("#x") || name.hasPrefix("#X") { scalar = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init) }
            else if name.hasPrefix("#") { scalar = UInt32(name.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init) }
            if let scalar { out.unicodeScalars.append(scalar) } else if let n = named[name] { out += n } else { out += "&" + name + ";" }
            rest = after[after.index(after: semi)...]
        }
        out += rest
        return out
    }

    /// Why a resource `document` grants something outside `account` (or cannot be checked), or nil when it does not.
    /// An `Allow` statement may name principals of the account and AWS services; `*` only under a condition that pins
    /// the caller to the account (`aws:PrincipalAccount`, `aws:SourceAccount`, `kms:CallerAccount`, `aws:PrincipalArn`
    /// or `aws:SourceArn` with `StringEquals`/`ArnEquals`, every value in the account).
    static func resourcePolicyProblem(_ document: String, account: String) -> String? {
        policyPrincipalProblem(document, account: account, verb: "grants", starWhenPinned: true)
    }

    /// True when `condition` limits the caller to `account`.
    static func pinsToAccount(_ condition: JSONValue?, account: String) -> Bool {
        guard case .object(let operators)? = condition else { return false }
        let accountKeys: Set<String> = ["aws:principalaccount", "aws:sourceaccount", "kms:calleraccount", "aws:sourceowner"]
        let arnKeys: Set<String> = ["aws:principalarn", "aws:sourcearn"]
        for (op, block) in operators {
            guard ["stringequals", "arnequals"].contains(op.lowercased()), case .object(let keys) = block else { continue }
            for (key, value) in keys {
                let values: [String]
                switch value {
                case .string(let s): values = [s]
                case .array(let list): values = list.compactMap(\.stringValue); if values.count != list.count { continue }
                default: continue
                }
                guard !values.isEmpty else { continue }
                let k = key.lowercased()
                if accountKeys.contains(k) && values.allSatisfy({ $0 == account }) { return true }
                if arnKeys.contains(k) && values.allSatisfy({ accountOf($0) == account }) { return true }
            }
        }
        return false
    }
}
