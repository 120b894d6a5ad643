import Foundation
import Testing
import TallyIAM
@testable import TallyAWS

/// The identification feeds TallyIAM's API → IAM mapping: for every capture, the operation is mapped and the
/// resources are concrete ARNs built from the identified parameters (no "*" where the request names the resource).
@Suite struct IAMMappingIntegrationTests {
    static let expected: [String: (action: String, resource: String)] = [
        "03_iam_query_PutUserPolicy.http": ("iam:PutUserPolicy", "arn:aws:iam::123456789012:user/agent1"),
        "04_iam_query_CreateAccessKey_secret_in_response.http": ("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/agent1"),
        "05_secretsmanager_json11_GetSecretValue.http": ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-pass"),
        "06_dynamodb_json10_PutItem.http": ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t1"),
        "07_sqs_json10_querymode_SendMessage.http": ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q1"),
        "10_s3_restxml_PutObject_http_signedpayload.http": ("s3:PutObject", "arn:aws:s3:::demo-bucket/small.bin"),
        "11_s3_UploadPart_http_signedpayload.http": ("s3:PutObject", "arn:aws:s3:::demo-bucket/big.bin"),
        "14_s3_ListObjectsV2_http.http": ("s3:ListBucket", "arn:aws:s3:::demo-bucket"),
        "16_s3_presigned_sigv4_query.http": ("s3:GetObject", "arn:aws:s3:::boto-s3v4-bucket/k1.txt"),
        "19_cloudwatch_json10_monitoring_ListMetrics.http": ("cloudwatch:ListMetrics", "*"),
        "09_ec2_ec2query_DescribeInstances.http": ("ec2:DescribeInstances", "*"),
    ]

    @Test(arguments: Array(expected.keys).sorted())
    func captureMapsToConcreteARNs(_ name: String) throws {
        let mapping = try APIMapping.load()
        let id = try OperationIdentifier.load()
        let c = try Capture.load(name)
        let auth = try SigV4.parse(c.head)
        let body: [UInt8]? = auth.isS3 ? nil : c.body
        let op = id.identify(c.head, signingName: auth.service, region: auth.region, body: body)
        let ctx = APIRequestContext(service: op.service, operation: try #require(op.operation), parameters: op.parameters,
                                    region: op.region, account: "123456789012")
        let result = mapping.permissions(for: ctx)
        #expect(result.mapped, "\(name): \(result.reason)")
        let want = Self.expected[name]!
        let perm = result.permissions.first { $0.action == want.action }
        #expect(perm != nil, "\(name): \(result.permissions)")
        #expect(perm?.resources.contains { $0 == want.resource || $0.hasPrefix(want.resource) } == true,
                "\(name): \(perm?.resources ?? [])")
    }

    /// Session 15 probe: SQS over the query protocol (older SDKs): CreateQueue with `Tag.N.Key` needs sqs:TagQueue too,
    /// as the JSON form's `tags` does; without tags it does not. A gzip-encoded form body (an older SDK's compressed
    /// PutMetricData) is reported as such and answered in the query format the request implies, not in JSON.
    @Test func queryFormsOfJSONServicesMapAsTheirJSONForms() throws {
        let mapping = try APIMapping.load()
        let id = try OperationIdentifier.load()
        let form: [(name: String, value: String)] = [("Host", "sqs.us-east-1.amazonaws.com"), ("Content-Type", "application/x-www-form-urlencoded")]
        func actions(_ body: String) throws -> [String] {
            let op = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: form), signingName: "sqs", region: "us-east-1",
                                 body: Array(body.utf8))
            #expect(op.protocol == .query)
            let ctx = APIRequestContext(service: op.service, operation: try #require(op.operation), parameters: op.parameters,
                                        region: op.region, account: "123456789012")
            return mapping.permissions(for: ctx).permissions.map(\.action).sorted()
        }
        #expect(try actions("Action=CreateQueue&QueueName=q1&Tag.1.Key=team&Tag.1.Value=a&Version=2012-11-05") == ["sqs:CreateQueue", "sqs:TagQueue"])
        #expect(try actions("Action=CreateQueue&QueueName=q1&Version=2012-11-05") == ["sqs:CreateQueue"])

        let gz = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: [("Host", "monitoring.us-east-1.amazonaws.com"),
                                                                                   ("Content-Type", "application/x-www-form-urlencoded"),
                                                                                   ("Content-Encoding", "gzip")]),
                             signingName: "monitoring", region: "us-east-1", body: [0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02])
        #expect(gz.operation == nil && gz.protocol == .query)
        #expect(gz.unidentifiedReason?.contains("disable_request_compression") == true, "\(String(describing: gz.unidentifiedReason))")
    }
}
