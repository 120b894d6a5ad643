/// The wire protocols of AWS APIs, as botocore's service models name them.
public enum AWSProtocol: String, Sendable, Codable, CaseIterable {
    /// AWS Query (form-encoded `Action=...`, XML responses): IAM, STS, SNS, CloudFormation, ...
    case query
    /// EC2's variant of the query protocol (different error envelope).
    case ec2
    /// JSON RPC (`X-Amz-Target: Prefix.Operation`): DynamoDB, KMS, Secrets Manager, SQS (new), ...
    case json
    /// REST with JSON bodies: Lambda, API Gateway, ...
    case restJSON = "rest-json"
    /// REST with XML bodies: S3, Route 53, CloudFront.
    case restXML = "rest-xml"
    /// Smithy RPC v2 CBOR (`POST /service/<Service>/operation/<Operation>`, `smithy-protocol: rpc-v2-cbor`):
    /// offered by CloudWatch, GameLift and a few others next to JSON; newer SDKs may prefer it.
    case rpcV2CBOR = "smithy-rpc-v2-cbor"
}
