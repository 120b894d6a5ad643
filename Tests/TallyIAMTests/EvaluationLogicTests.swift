import Testing
import TallyIAM

/// The evaluation logic of AWS's "Policy evaluation logic" pages as known cases.
@Suite("Policy evaluation")
struct EvaluationLogicTests {
    typealias F = PolicyFixture
    let user = "arn:aws:iam::123456789012:user/carlossalazar"

    @Test func implicitDenyByDefault() throws {
        let set = try F.set(identity: [])
        let result = set.evaluate(F.request("s3:GetObject", "arn:aws:s3:::b/k"))
        #expect(result.decision == .implicitDeny)
        #expect(result.statements.isEmpty)
    }

    @Test func identityAllowWithCaseRules() throws {
        let set = try F.set(identity: [
            F.statement(#"{"Sid":"Read","Effect":"Allow","Action":["s3:Get*","s3:ListBucket"],"Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}"#)
        ])
        let allowed = set.evaluate(F.request("S3:GETOBJECT", "arn:aws:s3:::amzn-s3-demo-bucket/photo.jpg"))
        #expect(allowed.decision == .allow)
        #expect(allowed.statements == [StatementReference(policy: "identity-0", kind: .identity, index: 0, sid: "Read", effect: .allow)])
        // Resources are case-sensitive.
        #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::AMZN-S3-DEMO-BUCKET/photo.jpg")) == .implicitDeny)
        #expect(set.decide(F.request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/photo.jpg")) == .implicitDeny)
        // `?` matches exactly one character.
        let q = try F.set(identity: [F.statement(#"{"Effect":"Allow","Action":"ec2:*","Resource":"arn:aws:ec2:*:*:instance/i-????"}"#)])
        #expect(q.decide(F.request("ec2:StopInstances", "arn:aws:ec2:us-east-1:1:instance/i-1234")) == .allow)
        #expect(q.decide(F.request("ec2:StopInstances", "arn:aws:ec2:us-east-1:1:instance/i-12345")) == .implicitDeny)
    }

    @Test func explicitDenyWinsEverywhere() throws {
        let allowAll = F.statement(#"{"Effect":"Allow","Action":"*","Resource":"*"}"#)
        // AWS example: deny everything from outside an IP range.
        let denyOutside = F.statement(
            #"{"Sid":"DenyOutside","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}}"#)
        let set = try F.set(identity: [allowAll, denyOutside])
        let outside = set.evaluate(F.request("s3:GetObject", "arn:aws:s3:::b/k", ["aws:SourceIp": ["198.51.100.7"]]))
        #expect(outside.decision == .explicitDeny)
        #expect(outside.statements.map(\.sid) == ["DenyOutside"])
        #expect(outside.statements.first?.effect == .deny)
        #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", ["aws:SourceIp": ["192.0.2.7"]])) == .allow)
        // A deny in a boundary, an SCP, a session policy or a resource-based policy wins too.
        let allowButDelete = F.statements(
            #"{"Effect":"Allow","Action":"*","Resource":"*"}"#, #"{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}"#)
        let denyFromAnyone = F.statement(#"{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"*"}"#)
        for set in [
            try F.set(identity: [allowAll], boundary: [allowButDelete]),
            try F.set(identity: [allowAll], scp: [allowButDelete]),
            try F.set(identity: [allowAll], session: [allowButDelete]),
            try F.set(identity: [allowAll], resource: [denyFromAnyone]),
        ] {
            #expect(set.decide(F.request("s3:DeleteObject", "arn:aws:s3:::b/k", principal: user)) == .explicitDeny)
            #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: user)) == .allow)
        }
    }

    @Test func notActionAndNotResource() throws {
        // AWS example: allow everything except IAM.
        let set = try F.set(identity: [F.statement(#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#)])
        #expect(set.decide(F.request("s3:ListAllMyBuckets")) == .allow)
        #expect(set.decide(F.request("IAM:CreateUser")) == .implicitDeny)
        // AWS example: deny everything outside one bucket.
        let nr = try F.set(identity: [
            F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#),
            F.statement(#"{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#),
        ])
        #expect(nr.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k")) == .allow)
        #expect(nr.decide(F.request("s3:GetObject", "arn:aws:s3:::c/k")) == .explicitDeny)
    }

    /// AWS example: Carlos's identity policy allows reading; the bucket policy grants him PutObject.
    /// Either policy allowing is enough within one account.
    @Test func resourceBasedPolicyAllowsWithinTheAccount() throws {
        let identity = F.statement(
            #"{"Sid":"AllowS3ListRead","Effect":"Allow","Action":["s3:GetBucketLocation","s3:GetObject","s3:ListBucket"],"Resource":"*"}"#)
        let bucket = F.statement(
            #"{"Sid":"AllowPut","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/carlossalazar"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/*"}"#)
        let set = try F.set(identity: [identity], resource: [bucket])
        let put = set.evaluate(F.request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/log.txt", principal: user))
        #expect(put.decision == .allow)
        #expect(put.statements.map(\.sid) == ["AllowPut"])
        #expect(put.statements.first?.kind == .resource)
        #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::other/x", principal: user)) == .allow)
        // Someone else is not named by the bucket policy.
        #expect(set.decide(F.request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/log.txt",
                                     principal: "arn:aws:iam::123456789012:user/maria")) == .implicitDeny)
        // Naming only the account delegates to identity-based policies: no grant on its own.
        let accountOnly = try F.set(resource: [
            F.statement(#"{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:PutObject","Resource":"*"}"#)
        ])
        #expect(accountOnly.decide(F.request("s3:PutObject", "arn:aws:s3:::b/k", principal: user)) == .implicitDeny)
        // Principal "*" grants by itself.
        let everyone = try F.set(resource: [F.statement(#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#)])
        #expect(everyone.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: user)) == .allow)
        // NotPrincipal: applies to everyone except the named principal (named with its account, as AWS requires).
        let notPrincipal = try F.set(
            identity: [F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#)],
            resource: [F.statement(#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::123456789012:user/carlossalazar","arn:aws:iam::123456789012:root"]},"Action":"s3:*","Resource":"*"}"#)])
        #expect(notPrincipal.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: user)) == .allow)
        #expect(notPrincipal.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: "arn:aws:iam::123456789012:user/maria")) == .explicitDeny)
    }

    @Test func permissionsBoundaryLimitsIdentityGrants() throws {
        // AWS example: the boundary allows only S3, CloudWatch and EC2; the identity policy grants
        // iam:CreateUser, which the boundary does not allow.
        let identity = F.statement(#"{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*"}"#)
        let boundary = F.statement(#"{"Effect":"Allow","Action":["s3:*","cloudwatch:*","ec2:*"],"Resource":"*"}"#)
        let set = try F.set(identity: [identity, F.statement(#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#)], boundary: [boundary])
        let create = set.evaluate(F.request("iam:CreateUser", "arn:aws:iam::123456789012:user/x", principal: user))
        #expect(create.decision == .implicitDeny)
        #expect(create.reason.contains("permissions boundary"))
        let get = set.evaluate(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: user))
        #expect(get.decision == .allow)
        #expect(Set(get.statements.map(\.kind)) == [.identity, .boundary])
        // The boundary alone grants nothing.
        #expect(try F.set(boundary: [boundary]).decide(F.request("s3:GetObject", "arn:aws:s3:::b/k")) == .implicitDeny)
        // A resource-based policy naming the user is not limited by the boundary.
        let bucket = F.statement(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/carlossalazar"},"Action":"iam:CreateUser","Resource":"*"}"#)
        #expect(try F.set(identity: [identity], resource: [bucket], boundary: [boundary])
            .decide(F.request("iam:CreateUser", "*", principal: user)) == .allow)
    }

    @Test func serviceControlPoliciesMustAllow() throws {
        let identity = F.statement(#"{"Effect":"Allow","Action":"*","Resource":"*"}"#)
        let scpAllowS3 = F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#)
        let scpFull = F.statement(#"{"Effect":"Allow","Action":"*","Resource":"*"}"#)
        let set = try F.set(identity: [identity], scp: [scpFull, scpAllowS3])
        #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k")) == .allow)
        let ec2 = set.evaluate(F.request("ec2:RunInstances", "*"))
        #expect(ec2.decision == .implicitDeny)
        #expect(ec2.reason.contains("scp-1"))
        // An SCP allow grants nothing without an identity allow.
        #expect(try F.set(scp: [scpFull]).decide(F.request("s3:GetObject")) == .implicitDeny)
        // SCPs also limit resource-based grants.
        let bucket = F.statement(#"{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"*"}"#)
        #expect(try F.set(resource: [bucket], scp: [scpAllowS3]).decide(F.request("ec2:RunInstances", principal: user)) == .implicitDeny)
    }

    /// SCPs attached at one level (root, OU, account) combine as a union; every level must allow.
    @Test func serviceControlPolicyLevels() throws {
        func doc(_ action: String) throws -> PolicyDocument {
            try F.document(F.statement(#"{"Effect":"Allow","Action":"\#(action)","Resource":"*"}"#))
        }
        let identity = NamedPolicy(name: "id", kind: .identity, document: try doc("*"))
        let sameLevel = PolicySet([
            identity,
            NamedPolicy(name: "s3", kind: .scp, document: try doc("s3:*"), level: "ou-1"),
            NamedPolicy(name: "ec2", kind: .scp, document: try doc("ec2:*"), level: "ou-1"),
        ])
        #expect(sameLevel.decide(F.request("s3:GetObject")) == .allow)
        #expect(sameLevel.decide(F.request("ec2:RunInstances")) == .allow)
        #expect(sameLevel.decide(F.request("iam:CreateUser")) == .implicitDeny)
        let twoLevels = PolicySet([
            identity,
            NamedPolicy(name: "root-full", kind: .scp, document: try doc("*"), level: "root"),
            NamedPolicy(name: "s3", kind: .scp, document: try doc("s3:*"), level: "ou-1"),
            NamedPolicy(name: "ec2", kind: .scp, document: try doc("ec2:*"), level: "account"),
        ])
        let result = twoLevels.evaluate(F.request("s3:GetObject"))
        #expect(result.decision == .implicitDeny)
        #expect(result.reason.contains("'ec2'"))
        #expect(twoLevels.decide(F.request("ec2:RunInstances")) == .implicitDeny)
    }

    @Test func sessionPoliciesMustAllow() throws {
        let role = "arn:aws:sts::123456789012:assumed-role/Dev/session-1"
        let identity = F.statement(#"{"Effect":"Allow","Action":["s3:*","dynamodb:*"],"Resource":"*"}"#)
        let session = F.statement(#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#)
        let set = try F.set(identity: [identity], session: [session])
        #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: role)) == .allow)
        let put = set.evaluate(F.request("s3:PutObject", "arn:aws:s3:::b/k", principal: role))
        #expect(put.decision == .implicitDeny)
        #expect(put.reason.contains("session"))
        // A resource-based policy naming the role (not the session) is limited by the session policy;
        // one naming the session ARN is not.
        let toRole = F.statement(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/Dev"},"Action":"sqs:SendMessage","Resource":"*"}"#)
        let toSession = F.statement(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::123456789012:assumed-role/Dev/session-1"},"Action":"sqs:SendMessage","Resource":"*"}"#)
        #expect(try F.set(resource: [toRole], session: [session]).decide(F.request("sqs:SendMessage", principal: role)) == .implicitDeny)
        #expect(try F.set(resource: [toRole]).decide(F.request("sqs:SendMessage", principal: role)) == .allow)
        #expect(try F.set(resource: [toSession], session: [session]).decide(F.request("sqs:SendMessage", principal: role)) == .allow)
    }

    /// AWS example: a user may manage only objects under their own home prefix.
    @Test func policyVariablesInResources() throws {
        let set = try F.set(identity: [
            F.statement(#"{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}"#)
        ])
        #expect(set.decide(F.request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/carlossalazar/a.txt", principal: user)) == .allow)
        #expect(set.decide(F.request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/maria/a.txt", principal: user)) == .implicitDeny)
        // No principal, no aws:username: the resource does not match.
        #expect(set.decide(F.request("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/home//a.txt")) == .implicitDeny)
        // Tags as variables.
        let tags = try F.set(identity: [
            F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:PrincipalTag/team, 'shared'}-data/*"}"#)
        ])
        #expect(tags.decide(F.request("s3:GetObject", "arn:aws:s3:::blue-data/x", ["aws:PrincipalTag/team": ["blue"]])) == .allow)
        #expect(tags.decide(F.request("s3:GetObject", "arn:aws:s3:::shared-data/x")) == .allow)
        #expect(tags.decide(F.request("s3:GetObject", "arn:aws:s3:::blue-data/x")) == .implicitDeny)
        // ${*} in a resource is a literal asterisk.
        let literal = try F.set(identity: [F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${*}"}"#)])
        #expect(literal.decide(F.request("s3:GetObject", "arn:aws:s3:::b/*")) == .allow)
        #expect(literal.decide(F.request("s3:GetObject", "arn:aws:s3:::b/x")) == .implicitDeny)
    }

    @Test func conditionsDecideWhetherAStatementApplies() throws {
        // AWS example: require MFA for stopping instances (Deny with BoolIfExists false).
        let set = try F.set(identity: [
            F.statement(#"{"Effect":"Allow","Action":"ec2:*","Resource":"*"}"#),
            F.statement(#"{"Sid":"MFA","Effect":"Deny","Action":["ec2:StopInstances","ec2:TerminateInstances"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}"#),
        ])
        #expect(set.decide(F.request("ec2:StopInstances")) == .explicitDeny)  // key absent: IfExists → deny applies
        #expect(set.decide(F.request("ec2:StopInstances", "*", ["aws:MultiFactorAuthPresent": ["false"]])) == .explicitDeny)
        #expect(set.decide(F.request("ec2:StopInstances", "*", ["aws:MultiFactorAuthPresent": ["true"]])) == .allow)
        #expect(set.decide(F.request("ec2:DescribeInstances")) == .allow)
    }
    // MARK: session 12 probe

    /// AWS's NotPrincipal example: Deny with NotPrincipal [user/Bob, 444455556666:root] denies everyone but Bob (and
    /// the root): other users of that account and sessions of a listed role are denied (an account or role match
    /// exempted them).
    @Test func notPrincipalExemptsOnlyWhomItNamesExactly() throws {
        let allow = F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#)
        let deny = F.statement(#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob","arn:aws:iam::444455556666:root","arn:aws:iam::444455556666:role/audit"]},"Action":"s3:*","Resource":"arn:aws:s3:::BUCKETNAME/*"}"#)
        let set = try F.set(identity: [allow], resource: [deny])
        let object = "arn:aws:s3:::BUCKETNAME/k"
        #expect(set.decide(F.request("s3:GetObject", object, principal: "arn:aws:iam::444455556666:user/Bob")) == .allow)
        #expect(set.decide(F.request("s3:GetObject", object, principal: "arn:aws:iam::444455556666:root")) == .allow)
        #expect(set.decide(F.request("s3:GetObject", object, principal: "arn:aws:iam::444455556666:user/Mallory")) == .explicitDeny)
        #expect(set.decide(F.request("s3:GetObject", object, principal: "arn:aws:sts::444455556666:assumed-role/audit/s1")) == .explicitDeny)
        // Named without its account, Bob is not left out (AWS: "you must also include the account ARN"); a session is
        // left out when it, its role and its account are all named.
        let bobOnly = try F.set(identity: [allow], resource: [F.statement(#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},"Action":"s3:*","Resource":"*"}"#)])
        #expect(bobOnly.decide(F.request("s3:GetObject", object, principal: "arn:aws:iam::444455556666:user/Bob")) == .explicitDeny)
        let session = try F.set(identity: [allow], resource: [F.statement(#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::444455556666:assumed-role/audit/s1","arn:aws:iam::444455556666:role/audit","444455556666"]},"Action":"s3:*","Resource":"*"}"#)])
        #expect(session.decide(F.request("s3:GetObject", object, principal: "arn:aws:sts::444455556666:assumed-role/audit/s1")) == .allow)
        #expect(session.decide(F.request("s3:GetObject", object, principal: "arn:aws:sts::444455556666:assumed-role/audit/s2")) == .explicitDeny)
    }

    /// A policy variable the request cannot resolve makes the statement not apply: a NotResource or a negated
    /// condition with ${aws:username} no longer matches everything for a role session (no aws:username).
    @Test func anUnresolvedVariableMakesTheStatementNotApply() throws {
        let session = "arn:aws:sts::123456789012:assumed-role/r/s"
        let notResource = try F.set(identity: [F.statement(#"{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::private/${aws:username}/*"}"#)])
        #expect(notResource.decide(F.request("s3:GetObject", "arn:aws:s3:::private/alice/secret", principal: session)) == .implicitDeny)
        #expect(notResource.decide(F.request("s3:GetObject", "arn:aws:s3:::public/x", principal: user)) == .allow)
        let denyNot = try F.set(identity: [F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#)],
                                boundary: [F.statements(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
                                                        #"{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}"#)])
        #expect(denyNot.decide(F.request("s3:GetObject", "arn:aws:s3:::other/k", principal: session)) == .allow)
        #expect(denyNot.decide(F.request("s3:GetObject", "arn:aws:s3:::other/k", principal: user)) == .explicitDeny)
        for op in ["StringNotEquals", "StringNotLike", "ArnNotLike"] {
            let value = op == "ArnNotLike" ? "arn:aws:iam::123456789012:user/${aws:username}" : "${aws:username}"
            #expect(try !F.conditionHolds(#"{"\#(op)":{"aws:PrincipalTag/owner":"\#(value)"}}"#, ["aws:PrincipalTag/owner": ["x"]]), "\(op)")
        }
    }

    /// Across accounts both sides must allow: the resource's account (a resource-based policy) and the caller's
    /// (an identity-based policy, within its boundary).
    @Test func crossAccountNeedsBothSides() throws {
        let bob = "arn:aws:iam::222222222222:user/bob"
        let queue = "arn:aws:sqs:us-east-1:111111111111:q"
        let identity = F.statement(#"{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}"#)
        let resource = F.statement(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/bob"},"Action":"sqs:SendMessage","Resource":"*"}"#)
        let trustAccount = F.statement(#"{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sqs:SendMessage","Resource":"*"}"#)
        #expect(try F.set(resource: [resource]).decide(F.request("sqs:SendMessage", queue, principal: bob)) == .implicitDeny)
        #expect(try F.set(identity: [identity]).decide(F.request("sqs:SendMessage", queue, principal: bob)) == .implicitDeny)
        #expect(try F.set(identity: [identity], resource: [resource]).decide(F.request("sqs:SendMessage", queue, principal: bob)) == .allow)
        #expect(try F.set(identity: [identity], resource: [trustAccount]).decide(F.request("sqs:SendMessage", queue, principal: bob)) == .allow)
        let none = F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#)
        #expect(try F.set(identity: [identity], resource: [resource], boundary: [none]).decide(F.request("sqs:SendMessage", queue, principal: bob)) == .implicitDeny)
        // within one account a resource-based policy naming the caller still allows alone
        #expect(try F.set(resource: [resource]).decide(F.request("sqs:SendMessage", "arn:aws:sqs:us-east-1:222222222222:q", principal: bob)) == .allow)
        // S3 ARNs carry no account: aws:ResourceAccount tells it; an ARN's own account wins over the context
        #expect(try F.set(resource: [resource]).decide(F.request("sqs:SendMessage", "arn:aws:s3:::b/k", principal: bob, ["aws:ResourceAccount": ["111111111111"]])) == .implicitDeny)
        #expect(try F.set(resource: [resource]).decide(F.request("sqs:SendMessage", queue, principal: bob, ["aws:ResourceAccount": ["222222222222"]])) == .implicitDeny)
    }

    /// A role with a path: its sessions match a Principal naming it when aws:PrincipalArn says which role it is; SCPs
    /// do not limit service principals.
    @Test func rolePathsFromThePrincipalArnAndSCPsSkipServicePrincipals() throws {
        let allow = F.statement(#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#)
        let deny = F.statement(#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111111111111:role/ops/Deployer"},"Action":"s3:*","Resource":"*"}"#)
        let set = try F.set(identity: [allow], resource: [deny])
        let session = "arn:aws:sts::111111111111:assumed-role/Deployer/s"
        #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: session,
                                     ["aws:PrincipalArn": ["arn:aws:iam::111111111111:role/ops/Deployer"]])) == .explicitDeny)
        #expect(set.decide(F.request("s3:GetObject", "arn:aws:s3:::b/k", principal: session)) == .allow)  // path unknown
        let service = F.statement(#"{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"}"#)
        let scp = F.statement(#"{"Effect":"Allow","Action":"ec2:*","Resource":"*"}"#)
        #expect(try F.set(resource: [service], scp: [scp]).decide(F.request("s3:PutObject", "arn:aws:s3:::b/k", principal: "cloudtrail.amazonaws.com")) == .allow)
    }

    /// Shapes AWS rejects for a policy's kind are refused, naming the statement.
    @Test func policyShapesAreCheckedPerKind() throws {
        let noPrincipal = try F.document(F.statement(#"{"Effect":"Deny","Action":"s3:*","Resource":"*"}"#))
        #expect(throws: (any Error).self) { try noPrincipal.check(as: .resource, name: "p.json") }
        try noPrincipal.check(as: .identity, name: "p.json")
        let withPrincipal = try F.document(F.statement(#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}"#))
        #expect(throws: (any Error).self) { try withPrincipal.check(as: .identity, name: "p.json") }
        try withPrincipal.check(as: .resource, name: "p.json")
        let noResource = try F.document(F.statement(#"{"Effect":"Allow","Action":"s3:*"}"#))
        #expect(throws: (any Error).self) { try noResource.check(as: .identity, name: "p.json") }
    }
}

@Suite("Evaluating an API call's permissions")
struct EvaluationPermissionsTests {
    @Test func everyPairMustBeAllowed() throws {
        // S3 CopyObject needs s3:GetObject on the source and s3:PutObject on the target.
        let set = try PolicyFixture.set(identity: [PolicyFixture.statements(
            #"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::src/*"}"#,
            #"{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::dst/*"}"#,
            #"{"Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::dst/locked/*"}"#)])
        let copy = [
            RequiredPermission(action: "s3:GetObject", resources: ["arn:aws:s3:::src/a"]),
            RequiredPermission(action: "s3:PutObject", resources: ["arn:aws:s3:::dst/a"]),
        ]
        let ok = set.evaluate(copy, principal: nil, context: RequestContext())
        #expect(ok.decision == .allow)
        #expect(ok.results.map(\.result.decision) == [.allow, .allow])
        var wrongSource = copy
        wrongSource[0].resources = ["arn:aws:s3:::other/a"]
        #expect(set.evaluate(wrongSource, principal: nil, context: RequestContext()).decision == .implicitDeny)
        var locked = wrongSource
        locked[1].resources = ["arn:aws:s3:::dst/locked/a"]
        let denied = set.evaluate(locked, principal: nil, context: RequestContext())
        #expect(denied.decision == .explicitDeny)
        #expect(denied.results.map(\.result.decision) == [.implicitDeny, .explicitDeny])
    }

}
