import Testing
import TallyIAM

/// Condition operators, with the examples of AWS's "IAM JSON policy elements: Condition operators"
/// and "multivalued context keys" pages as known cases.
@Suite("Condition operators")
struct ConditionOperatorTests {
    func holds(_ condition: String, _ context: [String: [String]] = [:]) throws -> Bool {
        try PolicyFixture.conditionHolds(condition, context)
    }

    @Test func stringOperators() throws {
        // AWS example: aws:PrincipalTag/job-category must be iamuser-admin.
        let c = #"{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}"#
        #expect(try holds(c, ["aws:PrincipalTag/job-category": ["iamuser-admin"]]))
        #expect(try !holds(c, ["aws:PrincipalTag/job-category": ["IAMUser-Admin"]]))  // case-sensitive
        #expect(try !holds(c))  // key absent: false
        // Condition key names are case-insensitive.
        #expect(try holds(c, ["AWS:PRINCIPALTAG/JOB-CATEGORY": ["iamuser-admin"]]))

        let ne = #"{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}"#
        #expect(try holds(ne, ["aws:RequestedRegion": ["ap-south-1"]]))
        #expect(try !holds(ne, ["aws:RequestedRegion": ["eu-west-1"]]))  // NOR over the values
        #expect(try holds(ne))  // negated operator, key absent: true

        let ic = #"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/dept":"Finance"}}"#
        #expect(try holds(ic, ["aws:PrincipalTag/dept": ["FINANCE"]]))
        #expect(try !holds(ic, ["aws:PrincipalTag/dept": ["finances"]]))
        let nic = #"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/dept":"Finance"}}"#
        #expect(try !holds(nic, ["aws:PrincipalTag/dept": ["fInAnCe"]]))
        #expect(try holds(nic, ["aws:PrincipalTag/dept": ["hr"]]))

        // AWS example: s3:prefix StringLike with "", "home/", "home/${aws:username}/".
        let like = #"{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}"#
        #expect(try holds(like, ["s3:prefix": [""], "aws:username": ["carlos"]]))
        #expect(try holds(like, ["s3:prefix": ["home/carlos/photos/a.jpg"], "aws:username": ["carlos"]]))
        #expect(try !holds(like, ["s3:prefix": ["home/maria/"], "aws:username": ["carlos"]]))
        #expect(try !holds(like, ["s3:prefix": ["home/carlos/"]]))  // variable unresolved → no match
        let q = #"{"StringLike":{"ec2:InstanceType":"t?.micro"}}"#
        #expect(try holds(q, ["ec2:InstanceType": ["t3.micro"]]))
        #expect(try !holds(q, ["ec2:InstanceType": ["t3a.micro"]]))
        let notLike = #"{"StringNotLike":{"ec2:InstanceType":["*.xlarge","*.2xlarge"]}}"#
        #expect(try holds(notLike, ["ec2:InstanceType": ["t3.micro"]]))
        #expect(try !holds(notLike, ["ec2:InstanceType": ["m5.2xlarge"]]))
        #expect(try holds(notLike))
    }

    @Test func numericOperators() throws {
        // AWS example: s3:max-keys NumericLessThanEquals 10.
        let c = #"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#
        #expect(try holds(c, ["s3:max-keys": ["10"]]))
        #expect(try holds(c, ["s3:max-keys": ["9.5"]]))
        #expect(try !holds(c, ["s3:max-keys": ["11"]]))
        #expect(try !holds(c, ["s3:max-keys": ["ten"]]))  // not a number: no match
        #expect(try !holds(c))
        #expect(try holds(#"{"NumericEquals":{"k":1}}"#, ["k": ["1.0"]]))
        #expect(try holds(#"{"NumericNotEquals":{"k":[1,2]}}"#, ["k": ["3"]]))
        #expect(try !holds(#"{"NumericNotEquals":{"k":[1,2]}}"#, ["k": ["2"]]))
        #expect(try holds(#"{"NumericLessThan":{"k":"-1"}}"#, ["k": ["-1.5"]]))
        #expect(try !holds(#"{"NumericLessThan":{"k":"-1"}}"#, ["k": ["-1"]]))
        #expect(try holds(#"{"NumericGreaterThan":{"k":"1e3"}}"#, ["k": ["1001"]]))
        #expect(try holds(#"{"NumericGreaterThanEquals":{"k":"1000"}}"#, ["k": ["1000"]]))
        #expect(try !holds(#"{"NumericGreaterThanEquals":{"k":"1000"}}"#, ["k": ["999.99"]]))
    }

    @Test func dateOperators() throws {
        // AWS example: a window with DateGreaterThan / DateLessThan on aws:CurrentTime.
        let window = #"{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}"#
        #expect(try holds(window, ["aws:CurrentTime": ["2020-05-15T12:00:00Z"]]))
        #expect(try !holds(window, ["aws:CurrentTime": ["2020-07-01T00:00:00Z"]]))
        #expect(try !holds(window, ["aws:CurrentTime": ["2020-03-31T23:59:59Z"]]))
        // Epoch seconds and offsets compare as instants.
        #expect(try holds(window, ["aws:CurrentTime": ["1589544000"]]))
        #expect(try holds(#"{"DateEquals":{"k":"2020-01-01T01:00:00+01:00"}}"#, ["k": ["2020-01-01T00:00:00Z"]]))
        #expect(try holds(#"{"DateEquals":{"k":"2020-01-01"}}"#, ["k": ["2020-01-01T00:00:00.000Z"]]))
        #expect(try holds(#"{"DateNotEquals":{"k":"2020-01-01"}}"#, ["k": ["2020-01-02"]]))
        #expect(try holds(#"{"DateLessThanEquals":{"k":"2020-01-01"}}"#, ["k": ["2020-01-01"]]))
        #expect(try holds(#"{"DateGreaterThanEquals":{"k":"2020-01-01"}}"#, ["k": ["2020-01-01T00:00:01Z"]]))
        #expect(try !holds(#"{"DateGreaterThanEquals":{"k":"2020-01-01"}}"#, ["k": ["not a date"]]))
        // aws:TokenIssueTime example: deny tokens issued before a date.
        #expect(try holds(#"{"DateLessThan":{"aws:TokenIssueTime":"2024-02-29T12:00:00Z"}}"#, ["aws:TokenIssueTime": ["2024-02-29T11:59:59Z"]]))
    }

    @Test func boolBinaryAndNull() throws {
        // AWS example: aws:SecureTransport false.
        let insecure = #"{"Bool":{"aws:SecureTransport":"false"}}"#
        #expect(try holds(insecure, ["aws:SecureTransport": ["false"]]))
        #expect(try !holds(insecure, ["aws:SecureTransport": ["true"]]))
        #expect(try !holds(insecure))
        #expect(try holds(#"{"Bool":{"aws:MultiFactorAuthPresent":true}}"#, ["aws:MultiFactorAuthPresent": ["TRUE"]]))
        // BinaryEquals compares decoded base64.
        let bin = #"{"BinaryEquals":{"key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#
        #expect(try holds(bin, ["key": ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="]]))
        #expect(try !holds(bin, ["key": ["QmluYXJ5"]]))
        // AWS example: Null aws:TokenIssueTime true = long-term credentials (key absent).
        let longTerm = #"{"Null":{"aws:TokenIssueTime":"true"}}"#
        #expect(try holds(longTerm))
        #expect(try !holds(longTerm, ["aws:TokenIssueTime": ["2020-01-01T00:00:00Z"]]))
        let present = #"{"Null":{"aws:TokenIssueTime":false}}"#
        #expect(try holds(present, ["aws:TokenIssueTime": ["2020-01-01T00:00:00Z"]]))
        #expect(try !holds(present))
    }

    @Test func ipAddressOperators() throws {
        // AWS examples: 203.0.113.0/24 and 2001:DB8:1234:5678::/64.
        let c = #"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}"#
        #expect(try holds(c, ["aws:SourceIp": ["203.0.113.7"]]))
        #expect(try holds(c, ["aws:SourceIp": ["2001:db8:1234:5678:abcd::1"]]))
        #expect(try !holds(c, ["aws:SourceIp": ["203.0.114.1"]]))
        #expect(try !holds(c, ["aws:SourceIp": ["2001:db8:1234:5679::1"]]))
        #expect(try !holds(c, ["aws:SourceIp": ["not-an-ip"]]))
        #expect(try holds(c, ["aws:SourceIp": ["::ffff:203.0.113.9"]]))  // IPv4-mapped
        #expect(try holds(#"{"IpAddress":{"aws:SourceIp":"192.0.2.1"}}"#, ["aws:SourceIp": ["192.0.2.1"]]))
        #expect(try !holds(#"{"IpAddress":{"aws:SourceIp":"192.0.2.1"}}"#, ["aws:SourceIp": ["192.0.2.2"]]))
        #expect(try holds(#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, ["aws:SourceIp": ["8.8.8.8"]]))
        let not = #"{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}"#
        #expect(try holds(not, ["aws:SourceIp": ["198.51.100.1"]]))
        #expect(try !holds(not, ["aws:SourceIp": ["192.0.2.200"]]))
        #expect(try holds(not))  // negated, absent: true
    }

    @Test func arnOperators() throws {
        // AWS example: an SQS queue policy allowing an SNS topic (aws:SourceArn).
        let c = #"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-2:123456789012:my-topic"}}"#
        #expect(try holds(c, ["aws:SourceArn": ["arn:aws:sns:us-east-2:123456789012:my-topic"]]))
        #expect(try !holds(c, ["aws:SourceArn": ["arn:aws:sns:us-east-2:123456789012:other"]]))
        let like = #"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}"#
        #expect(try holds(like, ["aws:PrincipalArn": ["arn:aws:iam::111122223333:role/admin-ops"]]))
        #expect(try !holds(like, ["aws:PrincipalArn": ["arn:aws:iam::111122223333:user/admin-ops"]]))
        #expect(try !holds(like, ["aws:PrincipalArn": ["not-an-arn"]]))
        // Each part is matched separately: a * in the region does not swallow the account.
        let seg = #"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:t"}}"#
        #expect(try holds(seg, ["aws:SourceArn": ["arn:aws:sns:eu-west-1:123456789012:t"]]))
        #expect(try !holds(seg, ["aws:SourceArn": ["arn:aws:sns:eu-west-1:1:123456789012:t"]]))
        // ARNs are case-sensitive.
        #expect(try !holds(c, ["aws:SourceArn": ["arn:aws:sns:us-east-2:123456789012:MY-TOPIC"]]))
        let notLike = #"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}"#
        #expect(try holds(notLike, ["aws:PrincipalArn": ["arn:aws:iam::1:role/dev"]]))
        #expect(try !holds(notLike, ["aws:PrincipalArn": ["arn:aws:iam::1:role/admin-x"]]))
        #expect(try holds(#"{"ArnNotEquals":{"k":"arn:aws:s3:::a"}}"#, ["k": ["arn:aws:s3:::b"]]))
    }

    @Test func ifExists() throws {
        // AWS example: StringLikeIfExists on ec2:InstanceType: absent key → true.
        let c = #"{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}"#
        #expect(try holds(c))
        #expect(try holds(c, ["ec2:InstanceType": ["t2.micro"]]))
        #expect(try !holds(c, ["ec2:InstanceType": ["m5.large"]]))
        #expect(try holds(#"{"NumericLessThanIfExists":{"k":5}}"#))
        #expect(try !holds(#"{"NumericLessThanIfExists":{"k":5}}"#, ["k": ["6"]]))
        #expect(try holds(#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#))
    }

    @Test func multivaluedSetOperators() throws {
        // AWS example: ForAllValues:StringEquals on aws:TagKeys.
        let all = #"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#
        #expect(try holds(all, ["aws:TagKeys": ["environment"]]))
        #expect(try holds(all, ["aws:TagKeys": ["environment", "cost-center"]]))
        #expect(try !holds(all, ["aws:TagKeys": ["environment", "dept"]]))
        #expect(try holds(all))  // no values: vacuously true
        let any = #"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#
        #expect(try holds(any, ["aws:TagKeys": ["environment", "dept"]]))
        #expect(try !holds(any, ["aws:TagKeys": ["dept"]]))
        #expect(try !holds(any))  // absent: false
        // AWS example: ForAllValues:StringLike dynamodb:Attributes.
        let attrs = #"{"ForAllValues:StringLike":{"dynamodb:Attributes":["ID","Message*"]}}"#
        #expect(try holds(attrs, ["dynamodb:Attributes": ["ID", "MessageBody", "MessageId"]]))
        #expect(try !holds(attrs, ["dynamodb:Attributes": ["ID", "Secret"]]))
        // Negated with set qualifiers.
        let allNot = #"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#
        #expect(try holds(allNot, ["aws:TagKeys": ["a", "b"]]))
        #expect(try !holds(allNot, ["aws:TagKeys": ["a", "secret"]]))
        let anyNot = #"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["secret"]}}"#
        #expect(try holds(anyNot, ["aws:TagKeys": ["secret", "b"]]))
        #expect(try !holds(anyNot, ["aws:TagKeys": ["secret"]]))
        // Without a set qualifier: positive = any request value matches; negated = none matches.
        #expect(try holds(#"{"StringEquals":{"aws:TagKeys":"a"}}"#, ["aws:TagKeys": ["b", "a"]]))
        #expect(try !holds(#"{"StringNotEquals":{"aws:TagKeys":"a"}}"#, ["aws:TagKeys": ["b", "a"]]))
        #expect(try holds(#"{"StringNotEquals":{"aws:TagKeys":"a"}}"#, ["aws:TagKeys": ["b", "c"]]))
        // ForAnyValue with a numeric family.
        #expect(try holds(#"{"ForAnyValue:NumericGreaterThan":{"k":10}}"#, ["k": ["1", "11"]]))
        #expect(try !holds(#"{"ForAllValues:NumericGreaterThan":{"k":10}}"#, ["k": ["1", "11"]]))
    }

    /// AWS's "Multivalued context key examples": the tables for ForAllValues:StringNotLike (deny
    /// unless every tag key starts with key1) and ForAllValues:StringLike with a Null guard.
    @Test func documentedMultivaluedExamples() throws {
        let deny = PolicyFixture.statements(
            #"{"Effect":"Allow","Action":"iam:*","Resource":"*"}"#,
            #"{"Sid":"DenyRestrictedTags","Effect":"Deny","Action":["iam:Tag*","iam:UnTag*"],"Resource":["*"],"Condition":{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}}"#)
        let set = try PolicyFixture.set(identity: [deny])
        func decide(_ keys: [String]?) -> Decision {
            set.decide(PolicyFixture.request("iam:TagUser", "arn:aws:iam::1:user/u", keys.map { ["aws:TagKeys": $0] } ?? [:]))
        }
        #expect(decide(["key1:legal"]) == .allow)  // no match: not denied
        #expect(decide(["key1:hr", "key1:personnel"]) == .allow)
        #expect(decide(["key2:audit"]) == .explicitDeny)  // match
        #expect(decide(nil) == .explicitDeny)  // no key: ForAllValues matches
        // With "Null": false the absent (or empty) key no longer matches.
        let guarded = #"{"Null":{"aws:TagKeys":"false"},"ForAllValues:StringLike":{"aws:TagKeys":["key1*","key2*","key3*"]}}"#
        #expect(try holds(guarded, ["aws:TagKeys": ["key1a", "key3b"]]))
        #expect(try !holds(guarded, ["aws:TagKeys": ["key1a", "other"]]))
        #expect(try !holds(guarded))
        #expect(try !holds(guarded, ["aws:TagKeys": [""]]))
        #expect(try holds(#"{"ForAllValues:StringLike":{"aws:TagKeys":"key1*"}}"#, ["aws:TagKeys": [""]]))  // null data set
        // ForAnyValue deny: snapshots tagged with environment or webserver are denied.
        let anyDeny = #"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","webserver"]}}"#
        #expect(try holds(anyDeny, ["aws:TagKeys": ["webserver"]]))
        #expect(try holds(anyDeny, ["aws:TagKeys": ["environment", "webserver", "test"]]))
        #expect(try !holds(anyDeny, ["aws:TagKeys": ["test"]]))
        #expect(try !holds(anyDeny))
    }

    @Test func logicAcrossOperatorsKeysAndValues() throws {
        // Operators AND, keys AND, values OR.
        let c = #"{"StringEquals":{"a":["1","2"],"b":"x"},"Bool":{"c":"true"}}"#
        #expect(try holds(c, ["a": ["2"], "b": ["x"], "c": ["true"]]))
        #expect(try !holds(c, ["a": ["3"], "b": ["x"], "c": ["true"]]))
        #expect(try !holds(c, ["a": ["1"], "b": ["y"], "c": ["true"]]))
        #expect(try !holds(c, ["a": ["1"], "b": ["x"], "c": ["false"]]))
    }

    @Test func policyVariables() throws {
        // AWS examples: ${aws:username}, ${aws:PrincipalTag/...}, defaults and the escapes.
        #expect(try holds(#"{"StringEquals":{"s3:prefix":"${aws:username}"}}"#, ["s3:prefix": ["alice"], "aws:username": ["alice"]]))
        #expect(try holds(#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#,
                          ["aws:ResourceTag/team": ["blue"], "aws:PrincipalTag/team": ["blue"]]))
        #expect(try !holds(#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#,
                           ["aws:ResourceTag/team": ["blue"], "aws:PrincipalTag/team": ["red"]]))
        let withDefault = #"{"StringEquals":{"s3:prefix":"${aws:PrincipalTag/team, 'company-wide'}"}}"#
        #expect(try holds(withDefault, ["s3:prefix": ["company-wide"]]))
        #expect(try holds(withDefault, ["s3:prefix": ["blue"], "aws:PrincipalTag/team": ["blue"]]))
        // ${*} is a literal asterisk even in StringLike.
        let star = #"{"StringLike":{"s3:prefix":"a${*}"}}"#
        #expect(try holds(star, ["s3:prefix": ["a*"]]))
        #expect(try !holds(star, ["s3:prefix": ["abc"]]))
        #expect(try holds(#"{"StringEquals":{"k":"${$}{x}${?}"}}"#, ["k": ["${x}?"]]))
        // A substituted value is literal: "*" from the context does not act as a wildcard.
        #expect(try !holds(#"{"StringLike":{"k":"${aws:username}"}}"#, ["k": ["bob"], "aws:username": ["*"]]))
        // Version 2008-10-17: no variables, the text is literal.
        #expect(try PolicyFixture.conditionHolds(#"{"StringEquals":{"k":"${aws:username}"}}"#,
                                                 ["k": ["${aws:username}"], "aws:username": ["x"]], version: "2008-10-17"))
        // Variables in ARN operators and in NotResource.
        #expect(try holds(#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::${aws:username}-*"}}"#,
                          ["aws:SourceArn": ["arn:aws:s3:::alice-logs"], "aws:username": ["alice"]]))
        #expect(try !holds(#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::${aws:username}-*"}}"#,
                           ["aws:SourceArn": ["arn:aws:s3:::bob-logs"], "aws:username": ["alice"]]))
        let notOwn = try PolicyFixture.set(identity: [PolicyFixture.statements(
            #"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
            #"{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}"#)])
        #expect(notOwn.decide(PolicyFixture.request("s3:GetObject", "arn:aws:s3:::home/alice/x", ["aws:username": ["alice"]])) == .allow)
        #expect(notOwn.decide(PolicyFixture.request("s3:GetObject", "arn:aws:s3:::home/bob/x", ["aws:username": ["alice"]])) == .explicitDeny)
        // A multivalued key cannot be a policy variable: the value matches nothing.
        #expect(try !holds(#"{"StringEquals":{"k":"${aws:username}"}}"#, ["k": ["alice"], "aws:username": ["alice", "bob"]]))
    }
}
