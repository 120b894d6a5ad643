import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// Operation identification beyond the captures: S3 subresources and multipart, virtual-hosted buckets,
/// REST labels, query and JSON services, fallbacks.
@Suite struct IdentificationTests {
    static let id = Result { try OperationIdentifier.load() }

    func ident(_ method: String, _ target: String, host: String = "127.0.0.1:5056", headers: [(name: String, value: String)] = [],
               signing: String = "s3", body: String? = nil) throws -> IdentifiedOperation {
        let head = HTTPRequestHead(method: method, target: target, headers: [("Host", host)] + headers)
        return try Self.id.get().identify(head, signingName: signing, region: "eu-west-1", body: body.map { Array($0.utf8) })
    }

    @Test func modelProvenance() throws {
        let m = try Self.id.get().model
        #expect(m.source == "botocore 1.43.11")
        #expect(m.services.count > 400)
        for s in ["s3", "iam", "sts", "ec2", "dynamodb", "sqs", "sns", "secretsmanager", "kms", "ssm", "lambda", "logs",
                  "cloudformation", "cloudwatch"] {
            #expect(m.services[s] != nil, "\(s) in the model")
        }
        #expect(m.services["cloudwatch"]?.signingName == "monitoring")
    }

    @Test(arguments: [
        ("GET", "/", [], "ListBuckets", [:]),
        ("PUT", "/bkt", [], "CreateBucket", ["Bucket": "bkt"]),
        ("HEAD", "/bkt", [], "HeadBucket", ["Bucket": "bkt"]),
        ("DELETE", "/bkt", [], "DeleteBucket", ["Bucket": "bkt"]),
        ("GET", "/bkt", [], "ListObjects", ["Bucket": "bkt"]),
        ("GET", "/bkt?list-type=2&prefix=a%2Fb", [], "ListObjectsV2", ["Bucket": "bkt", "Prefix": "a/b"]),
        ("GET", "/bkt?acl", [], "GetBucketAcl", ["Bucket": "bkt"]),
        ("PUT", "/bkt?versioning", [], "PutBucketVersioning", ["Bucket": "bkt"]),
        ("GET", "/bkt?versions", [], "ListObjectVersions", ["Bucket": "bkt"]),
        ("GET", "/bkt?uploads", [], "ListMultipartUploads", ["Bucket": "bkt"]),
        ("POST", "/bkt?delete", [], "DeleteObjects", ["Bucket": "bkt"]),
        ("GET", "/bkt/dir/a%20b.txt?versionId=v1", [], "GetObject", ["Bucket": "bkt", "Key": "dir/a b.txt", "VersionId": "v1"]),
        ("HEAD", "/bkt/k", [], "HeadObject", ["Bucket": "bkt", "Key": "k"]),
        ("DELETE", "/bkt/k", [], "DeleteObject", ["Bucket": "bkt", "Key": "k"]),
        ("GET", "/bkt/k?tagging", [], "GetObjectTagging", ["Bucket": "bkt", "Key": "k"]),
        ("PUT", "/bkt/k?tagging", [], "PutObjectTagging", ["Bucket": "bkt", "Key": "k"]),
        ("GET", "/bkt/k?acl", [], "GetObjectAcl", ["Bucket": "bkt", "Key": "k"]),
        ("POST", "/bkt/big?uploads", [], "CreateMultipartUpload", ["Bucket": "bkt", "Key": "big"]),
        ("PUT", "/bkt/big?partNumber=2&uploadId=U1", [], "UploadPart", ["Bucket": "bkt", "Key": "big", "PartNumber": "2", "UploadId": "U1"]),
        ("GET", "/bkt/big?uploadId=U1", [], "ListParts", ["Bucket": "bkt", "Key": "big", "UploadId": "U1"]),
        ("POST", "/bkt/big?uploadId=U1", [], "CompleteMultipartUpload", ["Bucket": "bkt", "Key": "big", "UploadId": "U1"]),
        ("DELETE", "/bkt/big?uploadId=U1", [], "AbortMultipartUpload", ["Bucket": "bkt", "Key": "big", "UploadId": "U1"]),
        ("PUT", "/bkt/copy", [("x-amz-copy-source", "src/a%20b")], "CopyObject", ["Bucket": "bkt", "Key": "copy", "CopySource": "src/a%20b"]),
        ("PUT", "/bkt/copy?partNumber=1&uploadId=U", [("x-amz-copy-source", "src/k")], "UploadPartCopy",
         ["Bucket": "bkt", "Key": "copy", "PartNumber": "1", "UploadId": "U", "CopySource": "src/k"]),
        ("PUT", "/bkt/dir/", [], "PutObject", ["Bucket": "bkt", "Key": "dir/"]),
    ] as [(String, String, [(name: String, value: String)], String, [String: String])])
    func s3PathStyle(_ method: String, _ target: String, _ headers: [(name: String, value: String)], _ op: String, _ params: [String: String]) throws {
        let got = try ident(method, target, headers: headers)
        #expect(got.operation == op, "\(method) \(target)")
        #expect(got.service == "s3" && got.protocol == .restXML && got.modelName == "s3")
        for (k, v) in params { #expect(got.parameters[k] == v, "\(method) \(target): \(k) in \(got.parameters)") }
    }

    /// A virtual-hosted Host is honoured only below the given base domain (review finding 4); otherwise the
    /// request is identified path-style, as the upstream will run it, and the Host's bucket is only reported.
    @Test func s3VirtualHosted() throws {
        let id = try Self.id.get()
        let head = HTTPRequestHead(method: "GET", target: "/photos/cat.jpg?versionId=3",
                                   headers: [("Host", "my-bucket.s3.us-west-2.amazonaws.com")])
        let got = id.identify(head, signingName: "s3", region: "us-west-2", body: nil, virtualHostBaseDomain: "s3.us-west-2.amazonaws.com")
        #expect(got.operation == "GetObject" && got.forwardPath == "/my-bucket/photos/cat.jpg")
        #expect(got.parameters["Bucket"] == "my-bucket" && got.parameters["Key"] == "photos/cat.jpg" && got.parameters["VersionId"] == "3")
        let pathStyle = id.identify(head, signingName: "s3", region: "us-west-2", body: nil)
        #expect(pathStyle.operation == "GetObject" && pathStyle.parameters["Bucket"] == "photos" && pathStyle.parameters["Key"] == "cat.jpg")
        #expect(pathStyle.virtualHostedBucket == "my-bucket" && pathStyle.ignoredVirtualHostedBucket)
        let list = id.identify(HTTPRequestHead(method: "GET", target: "/?list-type=2", headers: [("Host", "my.dotted.bucket.s3.amazonaws.com")]),
                               signingName: "s3", region: "us-east-1", body: nil, virtualHostBaseDomain: "s3.amazonaws.com")
        #expect(list.operation == "ListObjectsV2" && list.parameters["Bucket"] == "my.dotted.bucket")
        #expect(OperationIdentifier.virtualHostedBucket("s3.amazonaws.com") == nil)
        #expect(OperationIdentifier.virtualHostedBucket("localhost:5056") == nil)
        // A subdomain of localhost is a bucket (an SDK with virtual addressing and the endpoint http://localhost:PORT).
        #expect(OperationIdentifier.virtualHostedBucket("vbk.localhost:5056") == "vbk")
        #expect(OperationIdentifier.virtualHostedBucket("My.Bucket.LOCALHOST") == "my.bucket")
        #expect(OperationIdentifier.virtualHostedBucket(".localhost:1") == nil)
        #expect(OperationIdentifier.virtualHostedBucket("notlocalhost:1") == nil)
        #expect(OperationIdentifier.virtualHostedBucket("bücket.localhost") == "bücket")
        #expect(OperationIdentifier.virtualHostedBucket("b.s3-eu-west-1.amazonaws.com:443") == "b")
    }

    @Test func restJSONLabelsQueryAndPayload() throws {
        let inv = try ident("POST", "/2015-03-31/functions/my-fn/invocations?Qualifier=live", headers: [("X-Amz-Invocation-Type", "Event")],
                            signing: "lambda", body: #"{"FunctionName":"not-a-member","k":1}"#)
        #expect(inv.operation == "Invoke" && inv.protocol == .restJSON)
        #expect(inv.parameters == ["FunctionName": "my-fn", "Qualifier": "live", "InvocationType": "Event"])
        let create = try ident("POST", "/2015-03-31/functions", signing: "lambda",
                               body: #"{"FunctionName":"f1","Role":"arn:aws:iam::123456789012:role/r","Code":{"ZipFile":"UEs="},"Timeout":3}"#)
        #expect(create.operation == "CreateFunction")
        #expect(create.parameters == ["FunctionName": "f1", "Role": "arn:aws:iam::123456789012:role/r", "Code": "", "Timeout": "3"])
        let get = try ident("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af", signing: "lambda")
        #expect(get.operation == "GetFunction" && get.parameters["FunctionName"] == "arn:aws:lambda:us-east-1:1:function:f")
    }

    @Test func queryAndJSONServices() throws {
        let form = [(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")]
        let sns = try ident("POST", "/", headers: form, signing: "sns",
                            body: "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi+there"
                                + "&MessageAttributes.entry.1.Name=a")
        #expect(sns.operation == "Publish" && sns.protocol == .query)
        #expect(sns.parameters == ["TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "hi there", "MessageAttributes": ""])
        let cfn = try ident("GET", "/?Action=DescribeStacks&Version=2010-05-15&StackName=s1", signing: "cloudformation")
        #expect(cfn.operation == "DescribeStacks" && cfn.parameters == ["StackName": "s1"])
        let kms = try ident("POST", "/", headers: [("X-Amz-Target", "TrentService.Encrypt"), ("Content-Type", "application/x-amz-json-1.1")],
                            signing: "kms", body: #"{"KeyId":"alias/k","Plaintext":"aGk=","EncryptionContext":{"a":"b"}}"#)
        #expect(kms.operation == "Encrypt" && kms.protocol == .json && kms.jsonVersion == "1.1")
        #expect(kms.parameters == ["KeyId": "alias/k", "Plaintext": "aGk=", "EncryptionContext": ""])
        let ssm = try ident("POST", "/", headers: [("X-Amz-Target", "AmazonSSM.GetParameter")], signing: "ssm",
                            body: #"{"Name":"/app/db","WithDecryption":true}"#)
        #expect(ssm.operation == "GetParameter" && ssm.parameters == ["Name": "/app/db", "WithDecryption": "true"])
        let logs = try ident("POST", "/", headers: [("X-Amz-Target", "Logs_20140328.CreateLogGroup")], signing: "logs",
                             body: #"{"logGroupName":"g"}"#)
        #expect(logs.operation == "CreateLogGroup" && logs.parameters == ["logGroupName": "g"])
        // CloudWatch over the legacy query protocol (older SDKs) is still identified
        let cwq = try ident("POST", "/", headers: form, signing: "monitoring", body: "Action=ListMetrics&Version=2010-08-01&Namespace=AWS%2FEC2")
        #expect(cwq.operation == "ListMetrics" && cwq.protocol == .query && cwq.modelName == "cloudwatch")
        #expect(cwq.parameters == ["Namespace": "AWS/EC2"])
        let sqsQuery = try ident("POST", "/123456789012/q1", host: "sqs.us-east-1.amazonaws.com", headers: form, signing: "sqs",
                                 body: "Action=SendMessage&Version=2012-11-05&MessageBody=hi")
        #expect(sqsQuery.operation == "SendMessage" && sqsQuery.protocol == .query)
        #expect(sqsQuery.parameters == ["MessageBody": "hi", "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q1"])
        let sqs = try ident("POST", "/", headers: [("X-Amz-Target", "AmazonSQS.CreateQueue"), ("Content-Type", "application/x-amz-json-1.0")],
                            signing: "sqs", body: #"{"QueueName":"q1"}"#)
        #expect(sqs.queryCompatible && sqs.jsonVersion == "1.0" && sqs.operation == "CreateQueue")
        let streams = try ident("POST", "/", headers: [("X-Amz-Target", "DynamoDBStreams_20120810.ListStreams")], signing: "dynamodb", body: "{}")
        #expect(streams.modelName == "dynamodbstreams" && streams.operation == "ListStreams")
    }

    /// Smithy RPC v2 CBOR bodies as botocore 1.43.11's serializer writes them for CloudWatch.
    @Test func rpcV2CBOR() throws {
        let headers = [(name: "smithy-protocol", value: "rpc-v2-cbor"), (name: "Content-Type", value: "application/cbor")]
        let list = Hex.decode("a5694e616d657370616365674157532f4543326a4d65747269634e616d65634350556a44696d656e73696f6e7381a2644e616d6561"
            + "616556616c756561626e526563656e746c79416374697665645054334875496e636c7564654c696e6b65644163636f756e7473f5")!
        let head = HTTPRequestHead(method: "POST", target: "/service/GraniteServiceVersion20100801/operation/ListMetrics",
                                   headers: [("Host", "h")] + headers)
        let got = try Self.id.get().identify(head, signingName: "monitoring", region: "us-east-1", body: list)
        #expect(got.operation == "ListMetrics" && got.protocol == .rpcV2CBOR && got.modelName == "cloudwatch" && got.queryCompatible)
        #expect(got.parameters == ["Namespace": "AWS/EC2", "MetricName": "CPU", "Dimensions": "", "RecentlyActive": "PT3H",
                                   "IncludeLinkedAccounts": "true"])
        let put = Hex.decode("a2694e616d657370616365614e6a4d65747269634461746181a26a4d65747269634e616d65616d6556616c7565fb3ff8000000000000")!
        let putHead = HTTPRequestHead(method: "POST", target: "/service/GraniteServiceVersion20100801/operation/PutMetricData",
                                      headers: [("Host", "h")] + headers)
        let p = try Self.id.get().identify(putHead, signingName: "monitoring", region: "us-east-1", body: put)
        #expect(p.operation == "PutMetricData" && p.parameters == ["Namespace": "N", "MetricData": ""])
        #expect(CBOR.topLevelMembers([0xA1, 0x61]) == nil)           // truncated
        #expect(CBOR.topLevelMembers(Array("{}".utf8)) == nil)       // not CBOR
        let bogus = HTTPRequestHead(method: "POST", target: "/service/GraniteServiceVersion20100801/operation/NoSuchOp",
                                    headers: [("Host", "h")] + headers)
        #expect(try Self.id.get().identify(bogus, signingName: "monitoring", region: "us-east-1", body: nil).operation == nil)
    }

    @Test func unknownsAreReportedNotGuessed() throws {
        let badTarget = try ident("POST", "/", headers: [("X-Amz-Target", "DynamoDB_20120810.NoSuchThing")], signing: "dynamodb", body: "{}")
        #expect(badTarget.operation == nil && badTarget.service == "dynamodb")
        let badAction = try ident("POST", "/", headers: [("Content-Type", "application/x-www-form-urlencoded")], signing: "iam",
                                  body: "Action=FlyToTheMoon&Version=2010-05-08")
        #expect(badAction.operation == nil && badAction.service == "iam")
        let noRoute = try ident("PATCH", "/2015-03-31/nothing/here", signing: "lambda")
        #expect(noRoute.operation == nil)
        let noService = try ident("GET", "/", signing: "no-such-service")
        #expect(noService.operation == nil && noService.service == "no-such-service")
        let byHost = try ident("POST", "/", host: "sqs.us-east-1.amazonaws.com",
                               headers: [("X-Amz-Target", "AmazonSQS.ListQueues")], signing: "unknown-scope", body: "{}")
        #expect(byHost.operation == "ListQueues" && byHost.service == "sqs" && byHost.serviceFromHost)
        #expect(!badTarget.serviceFromHost && !noService.serviceFromHost)
        let notJSON = try ident("POST", "/", headers: [("X-Amz-Target", "AmazonSQS.ListQueues")], signing: "sqs", body: "{not json")
        #expect(notJSON.operation == "ListQueues" && notJSON.parameters.isEmpty)
    }
}
