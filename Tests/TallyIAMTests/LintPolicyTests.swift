import Testing
import TallyIAM

@Suite("Policy lint")
struct LintPolicyTests {
    let linter: PolicyLinter

    init() throws { linter = PolicyLinter(catalog: try IAMCatalog.load()) }

    func codes(_ statement: String) throws -> [String] {
        try linter.lint(PolicyFixture.document(PolicyFixture.statement(statement))).map(\.code)
    }

    @Test func aCleanPolicyHasNoFindings() throws {
        let findings = try linter.lint(PolicyFixture.document(PolicyFixture.statement(
            #"[{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":"arn:aws:s3:::b/*"},"#
                + #"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}},"#
                + #"{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]"#)))
        #expect(findings.isEmpty, "\(findings)")
    }

    @Test func unknownActionsAndServices() throws {
        let findings = try linter.lint(PolicyFixture.document(PolicyFixture.statement(
            #"{"Effect":"Allow","Action":["s3:GetObjekt","s3:Fly*","foo:Bar","s3:getobject"],"Resource":"*"}"#)))
        let unknown = findings.filter { $0.severity == .error }
        #expect(unknown.map(\.code) == ["unknown-action", "unknown-action", "unknown-service"])
        #expect(unknown[0].message.contains("s3:GetObjekt"))
        #expect(unknown[1].message.contains("matches no action"))
        #expect(unknown[2].message.contains("'foo'"))
        #expect(unknown.allSatisfy { $0.statement == 0 && $0.field == "Action" })
    }

    @Test func resourceTypesMustMatch() throws {
        // Object actions on a bucket ARN, bucket actions on an object ARN.
        let c = try codes(#"{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::b"}"#)
        #expect(c == ["resource-mismatch"])
        let c2 = try codes(#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b/*"}"#)
        #expect(c2 == ["resource-mismatch"])
        // A wildcard resource that could be an object is fine; so is a policy variable.
        #expect(try codes(#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b*"}"#).isEmpty)
        #expect(try codes(#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${aws:username}/*"}"#).isEmpty)
        // A different service's ARN.
        #expect(try codes(#"{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:s3:::b/*"}"#) == ["resource-mismatch"])
        // Actions without resource-level permissions need "*".
        #expect(try codes(#"{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::b"}"#) == ["resource-not-supported"])
        // A wildcard action is reported only when none of its actions fits.
        #expect(try codes(#"{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"}"#).isEmpty)
        #expect(try codes(#"{"Effect":"Allow","Action":"dynamodb:Get*","Resource":"arn:aws:s3:::b/*"}"#) == ["resource-mismatch"])
    }

    @Test func conditionKeys() throws {
        let unknown = try codes(#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefx":"a/*"}}}"#)
        #expect(unknown == ["unknown-condition-key"])
        let typo = try codes(#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"IpAddress":{"aws:SourceIpp":"10.0.0.0/8"}}}"#)
        #expect(typo == ["unknown-condition-key"])
        // Tag keys, service keys and federation keys are known.
        #expect(try codes(#"{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue","ec2:InstanceType":"t3.micro","accounts.google.com:aud":"x"}}}"#).isEmpty)
        // Operator families that do not fit the key type.
        #expect(try codes(#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceIp":"10.0.0.1"}}}"#)
            == ["condition-type-mismatch"])
        #expect(try codes(#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:username":"x"}}}"#)
            == ["set-operator-on-single-value"])
        #expect(try codes(#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:TagKeys":"x"}}}"#)
            == ["multivalued-key-without-set-operator"])
    }

    @Test func riskyPatterns() throws {
        #expect(try codes(#"{"Effect":"Allow","Action":"*","Resource":"*"}"#) == ["full-admin"])
        #expect(try codes(#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}"#) == ["pass-role-wildcard"])
        // every role by pattern, in any or one account (session 12 probe); one named role is fine
        #expect(try codes(#"{"Effect":"Allow","Action":"iam:Pass*","Resource":"arn:aws:iam::*:role/*"}"#) == ["pass-role-wildcard"])
        #expect(try codes(#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/*"}"#) == ["pass-role-wildcard"])
        #expect(try codes(#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/app-*"}"#) == [])
        #expect(try codes(#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/app"}"#).isEmpty)
        #expect(try codes(#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#).contains("allow-not-action"))
        let notResource = try codes(#"{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::secret/*"}"#)
        #expect(notResource == ["allow-not-resource"])
        let iamStar = try codes(#"{"Effect":"Allow","Action":"iam:*","Resource":"*"}"#)
        #expect(iamStar == ["service-wildcard", "pass-role-wildcard", "privilege-escalation"])
        #expect(try codes(#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#) == ["public-principal"])
        #expect(try codes(#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}"#).isEmpty)
        #expect(try codes(#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::1:user/a"},"Action":"s3:*","Resource":"*"}"#) == ["not-principal"])
        #expect(try codes(#"{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}}"#)
            == ["allow-for-all-values"])
        #expect(try codes(#"{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]},"Null":{"aws:TagKeys":"false"}}}"#).isEmpty)
    }

    @Test func documentLevelFindings() throws {
        let doc = try PolicyFixture.document(
            #"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:PutObject"}]}"#)
        let findings = linter.lint(doc)
        #expect(findings.map(\.code) == ["missing-version", "duplicate-sid", "missing-resource"])
        #expect(findings[0].statement == nil)
        #expect(findings[1].statement == 1 && findings[1].sid == "A")
    }
}
