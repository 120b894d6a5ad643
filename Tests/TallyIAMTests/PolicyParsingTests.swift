import Testing
import TallyCore
import TallyIAM

@Suite("Policy grammar")
struct PolicyParsingTests {
    @Test func parsesACompleteDocument() throws {
        let doc = try PolicyFixture.document(
            """
            {"Version": "2012-10-17", "Id": "bucket-policy",
             "Statement": [
               {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"], "Service": "cloudtrail.amazonaws.com"},
                "Action": ["s3:GetObject", "s3:List*"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}, "NumericLessThanEquals": {"s3:max-keys": 10},
                              "Bool": {"aws:SecureTransport": true}, "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["env*", "team"]}}},
               {"Effect": "Deny", "NotPrincipal": "*", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::b/*"}
             ]}
            """)
        #expect(doc.version == "2012-10-17")
        #expect(doc.id == "bucket-policy")
        #expect(doc.statements.count == 2)
        let first = doc.statements[0]
        #expect(first.sid == "Read")
        #expect(first.effect == .allow)
        #expect(first.action == .positive(["s3:GetObject", "s3:List*"]))
        #expect(first.resource == .positive(["arn:aws:s3:::b", "arn:aws:s3:::b/*"]))
        let principal = try #require(first.principal?.values.first)
        #expect(principal.identifiers[.aws] == ["arn:aws:iam::111122223333:root", "444455556666"])
        #expect(principal.identifiers[.service] == ["cloudtrail.amazonaws.com"])
        #expect(first.conditions.count == 4)
        let numeric = try #require(first.conditions.first { $0.op.base == .numericLessThanEquals })
        #expect(numeric.values == ["10"])
        let bool = try #require(first.conditions.first { $0.op.base == .bool })
        #expect(bool.values == ["true"])
        let set = try #require(first.conditions.first { $0.op.setQualifier == .forAnyValue })
        #expect(set.op.ifExists)
        #expect(set.op.base == .stringLike)
        #expect(set.values == ["env*", "team"])
        let second = doc.statements[1]
        #expect(second.action.isNegated)
        #expect(second.resource?.isNegated == true)
        #expect(second.principal == .negated([.everyone]))
    }

    @Test func apiGatewayShorthandResources() throws {
        let doc = try PolicyFixture.document(PolicyFixture.statement(
            #"{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/prod/GET/pets"}"#))
        #expect(doc.statements[0].resource == .positive(["execute-api:/prod/GET/pets"]))
    }

    @Test func statementMayBeASingleObject() throws {
        let doc = try PolicyFixture.document(#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#)
        #expect(doc.statements.count == 1)
        #expect(doc.version == nil)
        #expect(!doc.supportsPolicyVariables)
    }

    @Test func parsesEveryOperatorFamily() throws {
        for base in ConditionOperator.Base.allCases {
            let value: String
            switch base {
            case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
                .numericGreaterThanEquals:
                value = "5"
            case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan,
                .dateGreaterThanEquals:
                value = "\"2020-01-01T00:00:00Z\""
            case .bool, .null: value = "\"true\""
            case .binaryEquals: value = "\"QmluYXJ5\""
            case .ipAddress, .notIpAddress: value = "\"10.0.0.0/8\""
            default: value = "\"x\""
            }
            var names = [base.rawValue]
            if base != .null {
                names += [base.rawValue + "IfExists", "ForAllValues:" + base.rawValue, "ForAnyValue:" + base.rawValue + "IfExists"]
            }
            for name in names {
                let doc = try PolicyFixture.document(
                    PolicyFixture.statement(
                        #"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"\#(name)":{"k":\#(value)}}}"#))
                let clause = try #require(doc.statements[0].conditions.first)
                #expect(clause.op.base == base)
                #expect(clause.op.description == name)
            }
        }
    }

    /// Each invalid document fails with bad-input naming the statement, the element and the problem.
    @Test(arguments: [
        (#"[]"#, "a policy must be a JSON object"),
        (#"{"Version":"2012-10-17"}"#, "Statement: missing"),
        (#"{"Version":"2013-01-01","Statement":[]}"#, "Version: '2013-01-01' is not a policy language version"),
        (#"{"Statement":[],"Foo":1}"#, "Foo: unknown top-level element"),
        (#"{"Statement":"x"}"#, "Statement: must be an object or an array"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"allow","Action":"s3:GetObject"}]}"#,
         "Statement[1].Effect: must be \"Allow\" or \"Deny\", found 'allow'"),
        (#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#, "Statement[0].Action: missing"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3GetObject"}]}"#, "Statement[0].Action: 's3GetObject' is not an action"),
        (#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*", 3]}]}"#, "Statement[0].Action[1]: must be a string, found number"),
        (#"{"Statement":[{"Effect":"Allow","Action":[]}]}"#, "Statement[0].Action: must not be an empty array"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*"}]}"#, "either Action or NotAction"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}"#, "Statement[0].Resource: 'bucket' is not an ARN"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqual":{"a":"b"}}}]}"#,
         "Statement[0].Condition.StringEqual: unknown condition operator"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}]}"#,
         "Statement[0].Condition.NumericLessThan.s3:max-keys: 'ten' is not a number"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}}]}"#,
         "'yesterday' is not an ISO 8601 date"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.300/8"}}}]}"#,
         "'10.0.0.300/8' is not an IPv4/IPv6 address or CIDR block"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}]}"#,
         "'yes' is not \"true\" or \"false\""),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"a":"true"}}}]}"#,
         "NullIfExists: unknown condition operator"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"a":{"b":"c"}}}}]}"#,
         "Condition.StringEquals.a: a condition value must be a string, number or boolean, found object"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Principal":{"User":"x"}}]}"#,
         "Statement[0].Principal.User: unknown principal type"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Principal":"someone"}]}"#, "Statement[0].Principal: must be \"*\""),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Colour":"red"}]}"#, "Statement[0].Colour: unknown element"),
        (#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Action":"s3:Get*"}]}"#, "duplicate key"),
        (#"{"Statement":[{"Effect":"Allow""#, "test-policy"),
    ])
    func rejectsInvalidPolicies(json: String, expected: String) {
        do {
            _ = try PolicyFixture.document(json)
            Issue.record("accepted an invalid policy: \(json)")
        } catch let error as TallyError {
            #expect(error.code == .badInput)
            #expect(error.code.exitCode == 2)
            #expect(error.reason.contains(expected), "\(error.reason) should contain \(expected)")
            #expect(error.reason.contains("test-policy"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func policyVariablesAreParsedOnlyIn2012Version() {
        let t = PolicyTemplate("home/${aws:username}/${*}${aws:PrincipalTag/team, 'all'}${?}${$}")
        #expect(
            t.parts == [
                .text("home/"), .variable(key: "aws:username", defaultValue: nil), .text("/"), .literal("*"),
                .variable(key: "aws:principaltag/team", defaultValue: "all"), .literal("?"), .literal("$"),
            ])
        #expect(PolicyTemplate("home/${aws:username}", variables: false).parts == [.text("home/${aws:username}")])
        // An unterminated variable stays text.
        #expect(PolicyTemplate("a${b").parts == [.text("a${b")])
    }
}
