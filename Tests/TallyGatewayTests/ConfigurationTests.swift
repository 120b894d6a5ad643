import Foundation
import Testing
@testable import TallyGateway
import TallyCore

@Suite struct ConfigurationTests {
    @Test func wildcardMatching() {
        #expect(wildcardMatch("iam:create*", "iam:createuser"))
        #expect(wildcardMatch("*", "s3:getobject"))
        #expect(wildcardMatch("s3:?etobject", "s3:getobject"))
        #expect(!wildcardMatch("iam:create*", "iam:deleteuser"))
        #expect(!wildcardMatch("s3:get", "s3:getobject"))
    }

    @Test func guardrailsDenyByActionPatternCaseInsensitively() {
        let g = Guardrails(denyRules: [.init(actionPattern: "iam:Create*", reason: "no new identities")])
        #expect(g.denial(for: ["iam:CreateUser"])?.action == "iam:CreateUser")
        #expect(g.denial(for: ["IAM:CREATEACCESSKEY"])?.rule.reason == "no new identities")
        #expect(g.denial(for: ["iam:ListUsers", "s3:GetObject"]) == nil)
    }

    @Test func listenAndUpstreamParsing() throws {
        #expect(try GatewayConfiguration.parseListen("127.0.0.1:8080") == ("127.0.0.1", 8080))
        #expect(try GatewayConfiguration.parseListen("[::1]:9") == ("::1", 9))
        #expect(throws: TallyError.self) { try GatewayConfiguration.parseListen("localhost") }
        #expect(try GatewayConfiguration.parseUpstream("https://sts.amazonaws.com").host == "sts.amazonaws.com")
        #expect(throws: TallyError.self) { try GatewayConfiguration.parseUpstream("ftp://x") }
        #expect(throws: TallyError.self) { try GatewayConfiguration.parseUpstream("http://x/path") }
        #expect(upstreamAuthority(URL(string: "http://127.0.0.1:5000")!) == "127.0.0.1:5000")
        #expect(try UpstreamEndpoint.parse("aws") == .aws)
        #expect(UpstreamEndpoint.aws.baseURL(service: "dynamodb", region: "eu-west-1").absoluteString == "https://dynamodb.eu-west-1.amazonaws.com")
        #expect(UpstreamEndpoint.aws.baseURL(service: "iam", region: "us-east-1").absoluteString == "https://iam.amazonaws.com")
        #expect(UpstreamEndpoint.aws.baseURL(service: "s3", region: "us-east-1").absoluteString == "https://s3.amazonaws.com")
        #expect(UpstreamEndpoint.aws.baseURL(service: "s3", region: "eu-central-1").absoluteString == "https://s3.eu-central-1.amazonaws.com")
        #expect(UpstreamEndpoint.aws.baseURL(service: "sts", region: "ap-south-1").absoluteString == "https://sts.ap-south-1.amazonaws.com")
        let fixed = try UpstreamEndpoint.parse("http://127.0.0.1:9000")
        #expect(fixed.baseURL(service: "s3", region: "us-east-1").absoluteString == "http://127.0.0.1:9000")
        #expect(upstreamAuthority(URL(string: "https://s3.amazonaws.com:443")!) == "s3.amazonaws.com")
    }

    @Test func configFileAppliesAccountAndDenyRulesAndRejectsUnknownKeys() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gw-\(UUID().uuidString).json").path
        try Data(#"{"account": "111122223333", "deny": [{"action": "s3:Delete*"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
        var c = GatewayConfiguration(home: "/tmp", host: "127.0.0.1", port: 1, upstream: .fixed(URL(string: "http://127.0.0.1:2")!))
        try c.apply(configFile: path)
        #expect(c.account == "111122223333")
        #expect(c.guardrails.denyRules.map(\.actionPattern) == ["s3:Delete*"])
        try Data(#"{"acount": "111122223333"}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TallyError.self) { try c.apply(configFile: path) }
        // A deny pattern that matches no IAM action would enforce nothing (review, session 9): refused, named.
        for typo in ["iam:CreatUser", "s3 : Get*", "s3:Gte*", "nosuchservice:*"] {
            try Data(#"{"deny": [{"action": "s3:Delete*"}, {"action": "\#(typo)"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
            do { try c.apply(configFile: path); Issue.record("\(typo) was accepted") } catch let e as TallyError {
                #expect(e.reason.contains("deny[1]") && e.reason.contains("matches no IAM action"), "\(e.reason)")
            }
        }
        for fine in ["iam:CreateUser", "iam:create*", "*", "s3:*", "*:ListTags*"] {
            try Data(#"{"deny": [{"action": "\#(fine)"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
            try c.apply(configFile: path)
        }
    }

    @Test func upstreamCredentialChainPrefersEnvironmentThenProfile() throws {
        let env = try UpstreamCredentialChain.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s"])
        #expect(env.accessKeyId == "AKIAENV" && env.source == "environment")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)").path
        try Data("[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = d\n\n[other]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=o\naws_session_token = t\n".utf8)
            .write(to: URL(fileURLWithPath: path))
        let def = try UpstreamCredentialChain.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": path])
        #expect(def.accessKeyId == "AKIADEF")
        let other = try UpstreamCredentialChain.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "other"])
        #expect(other.accessKeyId == "AKIAOTHER" && other.sessionToken == "t")
        #expect(throws: TallyError.self) {
            try UpstreamCredentialChain.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "missing"])
        }
    }

    @Test func errorCodesFromUpstreamResponses() {
        #expect(AWSErrorCode.extract(headerErrorType: nil, queryError: nil,
                                     body: Array("<Error><Code>NoSuchKey</Code></Error>".utf8)) == "NoSuchKey")
        #expect(AWSErrorCode.extract(headerErrorType: nil, queryError: nil,
                                     body: Array(#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"x"}"#.utf8))
                == "ResourceNotFoundException")
        #expect(AWSErrorCode.extract(headerErrorType: "AccessDeniedException:http://internal", queryError: nil, body: []) == "AccessDeniedException")
        #expect(AWSErrorCode.extract(headerErrorType: nil, queryError: "AWS.SimpleQueueService.NonExistentQueue;Sender", body: [])
                == "AWS.SimpleQueueService.NonExistentQueue")
        #expect(AWSErrorCode.extract(headerErrorType: nil, queryError: nil, body: Array("ok".utf8)) == nil)
    }

    @Test func metricsRenderPrometheusText() {
        let m = GatewayMetrics()
        m.recordCall(service: "s3", outcome: "ok", seconds: 0.0004, bytesIn: 10, bytesOut: 20)
        m.recordDenial(reason: "authentication")
        m.recordCommit(seconds: 0.002)
        let text = m.render()
        #expect(text.contains("tally_gateway_calls_total{service=\"s3\",outcome=\"ok\"} 1"))
        #expect(text.contains("tally_gateway_denials_total{reason=\"authentication\"} 1"))
        #expect(text.contains("tally_gateway_request_duration_seconds_bucket{le=\"0.0005\"} 1"))
        #expect(text.contains("tally_gateway_request_duration_seconds_bucket{le=\"0.00025\"} 0"))
        #expect(text.contains("tally_gateway_ledger_commit_seconds_count 1"))
    }
}
