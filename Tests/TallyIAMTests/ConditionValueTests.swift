import Testing
import TallyIAM

/// The typed values condition operators compare: IP networks, dates, numbers; and type coercion.
@Suite("Condition values")
struct ConditionValueTests {
    @Test func ipNetworks() throws {
        let v4 = try #require(IPNetwork("203.0.113.0/24"))
        #expect(v4.isIPv4 && v4.prefixLength == 24)
        #expect(v4.contains("203.0.113.255"))
        #expect(!v4.contains("203.0.112.255"))
        #expect(IPNetwork("10.0.0.1")?.prefixLength == 32)
        for bad in ["256.0.0.1", "10.0.0", "10.0.0.1/33", "10.0.0.1/", "1.2.3.4.5", "::1/129", "1:2:3:4:5:6:7:8:9", "a::b::c", "", "10.0.0.01234"] {
            #expect(IPNetwork(bad) == nil, "\(bad)")
        }
        let v6 = try #require(IPNetwork("2001:DB8::/32"))
        #expect(!v6.isIPv4)
        #expect(v6.contains("2001:db8:ffff::1"))
        #expect(!v6.contains("2001:db9::1"))
        #expect(!v6.contains("203.0.113.1"))  // families never mix
        #expect(try #require(IPNetwork("::/0")).contains("fe80::1"))
        let mapped = try #require(IPNetwork("::ffff:192.0.2.0/120"))  // IPv4-mapped: 192.0.2.0/24
        #expect(mapped.isIPv4 && mapped.prefixLength == 24 && mapped.contains("192.0.2.7") && !mapped.contains("192.0.3.7"))
        #expect(IPNetwork("::ffff:192.0.2.0/64") == nil)
        #expect(try #require(IPNetwork("1:2:3:4:5:6:1.2.3.4")).contains("1:2:3:4:5:6:102:304"))
        #expect(try #require(IPNetwork("0.0.0.0/0")).contains("255.255.255.255"))
    }

    @Test func dateFormatsAndCoercion() throws {
        func holds(_ c: String, _ v: String) throws -> Bool { try PolicyFixture.conditionHolds(c, ["k": [v]]) }
        let eq = #"{"DateEquals":{"k":"2021-03-04T05:06:07Z"}}"#
        for same in ["2021-03-04T05:06:07Z", "2021-03-04T05:06:07.000Z", "2021-03-04T07:06:07+02:00", "2021-03-04T00:06:07-0500",
                     "1614834367", "2021-03-04t05:06:07z"] {
            #expect(try holds(eq, same), "\(same)")
        }
        for different in ["2021-03-04T05:06:08Z", "2021-03-04", "1614834368", "2021-02-30T00:00:00Z", "March 4"] {
            #expect(try !holds(eq, different), "\(different)")
        }
        // A leap day exists in 2024, not in 2023.
        #expect(try holds(#"{"DateLessThan":{"k":"2024-03-01"}}"#, "2024-02-29T23:59:59Z"))
        #expect(try !holds(#"{"DateLessThan":{"k":"2024-03-01"}}"#, "2023-02-29T00:00:00Z"))
        // Month precision (W3C's YYYY-MM), in the policy and in the request: the month's first instant (session 12).
        #expect(try holds(#"{"DateLessThan":{"k":"2020-01"}}"#, "2019-12-31T23:59:59Z"))
        #expect(try !holds(#"{"DateLessThan":{"k":"2020-01"}}"#, "2020-01-01T00:00:00Z"))
        #expect(try holds(#"{"DateEquals":{"k":"2020-02-01T00:00:00Z"}}"#, "2020-02"))
        #expect(try !holds(#"{"DateEquals":{"k":"2020-02-01T00:00:00Z"}}"#, "2020-13"))
    }

    @Test func numbersAndBooleans() throws {
        func holds(_ c: String, _ v: String) throws -> Bool { try PolicyFixture.conditionHolds(c, ["k": [v]]) }
        #expect(try holds(#"{"NumericEquals":{"k":"0.5"}}"#, ".5"))
        #expect(try holds(#"{"NumericEquals":{"k":"0.5"}}"#, "5e-1"))
        #expect(try !holds(#"{"NumericEquals":{"k":"1"}}"#, "0x1"))
        #expect(try !holds(#"{"NumericEquals":{"k":"1"}}"#, "inf"))
        // A value that cannot be coerced satisfies neither the operator nor its negation.
        #expect(try !holds(#"{"NumericNotEquals":{"k":"1"}}"#, "one"))
        #expect(try !holds(#"{"NotIpAddress":{"k":"10.0.0.0/8"}}"#, "not-an-ip"))
        #expect(try !holds(#"{"Bool":{"k":"true"}}"#, "yes"))
        #expect(try holds(#"{"Bool":{"k":"true"}}"#, "True"))
    }

    @Test func principalsInResourcePolicies() throws {
        let set = try PolicyFixture.set(resource: [
            PolicyFixture.statement(#"{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*"}"#),
            PolicyFixture.statement(#"{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"s3:GetObject","Resource":"*"}"#),
            PolicyFixture.statement(#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/Reader"]},"Action":"s3:ListBucket","Resource":"*"}"#),
        ])
        #expect(set.decide(PolicyFixture.request("sqs:SendMessage", principal: "events.amazonaws.com")) == .allow)
        #expect(set.decide(PolicyFixture.request("sqs:SendMessage", principal: "sns.amazonaws.com")) == .implicitDeny)
        #expect(set.decide(PolicyFixture.request("s3:GetObject", principal: "cognito-identity.amazonaws.com")) == .allow)
        // A role session matches its role's ARN; another role's session does not.
        #expect(set.decide(PolicyFixture.request("s3:ListBucket", principal: "arn:aws:sts::111122223333:assumed-role/Reader/s1")) == .allow)
        #expect(set.decide(PolicyFixture.request("s3:ListBucket", principal: "arn:aws:sts::111122223333:assumed-role/Writer/s1")) == .implicitDeny)
        // Without a caller, only "*" can match.
        #expect(set.decide(PolicyFixture.request("s3:ListBucket")) == .implicitDeny)
    }

    @Test func derivedContextKeys() throws {
        let user = EvaluationRequest(action: "s3:GetObject", resource: "*", principal: "arn:aws:iam::123456789012:user/dev/alice")
        #expect(user.context.values(for: "aws:username") == ["alice"])
        #expect(user.context.values(for: "aws:PrincipalAccount") == ["123456789012"])
        #expect(user.context.values(for: "AWS:PRINCIPALARN") == ["arn:aws:iam::123456789012:user/dev/alice"])
        let session = EvaluationRequest(action: "s3:GetObject", resource: "*", principal: "arn:aws:sts::123456789012:assumed-role/Dev/s")
        #expect(session.context.values(for: "aws:PrincipalArn") == ["arn:aws:iam::123456789012:role/Dev"])
        #expect(session.context.values(for: "aws:username").isEmpty)
        // Explicit context wins.
        let explicit = EvaluationRequest(action: "s3:GetObject", resource: "*", principal: "arn:aws:iam::123456789012:user/alice",
                                         context: RequestContext(["aws:username": ["bob"]]))
        #expect(explicit.context.values(for: "aws:username") == ["bob"])
    }
}
