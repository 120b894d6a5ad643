import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// Every capture in Fixtures/captures (aws-cli 1.45.11 / boto3 1.43.11 → moto): parsed, identified, and verified
/// against botocore's own signature of the same request under a known secret (CaptureVectors.swift, generated
/// by Fixtures/make-capture-vectors.py — the captures' real secret is not known).
@Suite struct CaptureTests {
    static let identifier = Result { try OperationIdentifier.load() }

    struct Expected {
        var service: String
        var operation: String
        var proto: AWSProtocol
        var params: [String: String]
    }

    static let expected: [String: Expected] = [
        "01_sts_query_GetCallerIdentity_http.http": .init(service: "sts", operation: "GetCallerIdentity", proto: .query, params: [:]),
        "02_sts_query_with_security_token.http": .init(service: "sts", operation: "GetCallerIdentity", proto: .query, params: [:]),
        "03_iam_query_PutUserPolicy.http": .init(service: "iam", operation: "PutUserPolicy", proto: .query, params: [
            "UserName": "agent1", "PolicyName": "p1",
            "PolicyDocument": #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::demo-bucket"}]}"#]),
        "04_iam_query_CreateAccessKey_secret_in_response.http": .init(service: "iam", operation: "CreateAccessKey", proto: .query,
                                                                      params: ["UserName": "agent1"]),
        "05_secretsmanager_json11_GetSecretValue.http": .init(service: "secretsmanager", operation: "GetSecretValue", proto: .json,
                                                              params: ["SecretId": "db-pass"]),
        "06_dynamodb_json10_PutItem.http": .init(service: "dynamodb", operation: "PutItem", proto: .json,
                                                 params: ["TableName": "t1", "Item": ""]),
        "07_sqs_json10_querymode_SendMessage.http": .init(service: "sqs", operation: "SendMessage", proto: .json,
                                                          params: ["QueueUrl": "http://127.0.0.1:5056/123456789012/q1", "MessageBody": "hello"]),
        "08_lambda_restjson_ListFunctions.http": .init(service: "lambda", operation: "ListFunctions", proto: .restJSON, params: [:]),
        "09_ec2_ec2query_DescribeInstances.http": .init(service: "ec2", operation: "DescribeInstances", proto: .ec2, params: [:]),
        "10_s3_restxml_PutObject_http_signedpayload.http": .init(service: "s3", operation: "PutObject", proto: .restXML, params: [
            "Bucket": "demo-bucket", "Key": "small.bin", "ContentType": "application/octet-stream",
            "ChecksumCRC32": "fUFF+Q==", "ChecksumAlgorithm": "CRC32", "ContentLength": "2000"]),
        "11_s3_UploadPart_http_signedpayload.http": .init(service: "s3", operation: "UploadPart", proto: .restXML, params: [
            "Bucket": "demo-bucket", "Key": "big.bin", "PartNumber": "3",
            "UploadId": "JEGLhGNVuqdtsikGqPew3I2PCKphVWTYJeriFkS27Rt9zTspNm6ltF7Dg", "ChecksumCRC32": "HDNSGA==", "ChecksumAlgorithm": "CRC32", "ContentLength": "3222784"]),
        "12_s3_PutObject_https_STREAMING-UNSIGNED-PAYLOAD-TRAILER.http": .init(service: "s3", operation: "PutObject", proto: .restXML, params: [
            "Bucket": "tls-bucket", "Key": "small.bin", "ContentType": "application/octet-stream", "ChecksumAlgorithm": "CRC32"]),
        "13_s3_PutObject_stdin_https_awschunked.http": .init(service: "s3", operation: "PutObject", proto: .restXML, params: [
            "Bucket": "tls-bucket", "Key": "stdin.txt", "ChecksumAlgorithm": "CRC32"]),
        "14_s3_ListObjectsV2_http.http": .init(service: "s3", operation: "ListObjectsV2", proto: .restXML, params: [
            "Bucket": "demo-bucket", "Prefix": "", "Delimiter": "/", "EncodingType": "url"]),
        "15_s3_PutObject_https_UNSIGNED-PAYLOAD_contentmd5.http": .init(service: "s3", operation: "PutObject", proto: .restXML, params: [
            "Bucket": "md5-bucket", "Key": "m.txt", "ContentMD5": "IFpib2idxr+V08Kj57BGiw==", "ContentLength": "16"]),
        "16_s3_presigned_sigv4_query.http": .init(service: "s3", operation: "GetObject", proto: .restXML, params: [
            "Bucket": "boto-s3v4-bucket", "Key": "k1.txt"]),
        "17_s3_presigned_sigv2_default_boto3.http": .init(service: "s3", operation: "GetObject", proto: .restXML, params: [
            "Bucket": "boto-default-bucket", "Key": "k1.txt"]),
        "18_s3_localhost_endpoint_pathstyle.http": .init(service: "s3", operation: "PutObject", proto: .restXML, params: [
            "Bucket": "boto-default-bucket", "Key": "k1.txt", "ChecksumCRC32": "UTuzEA==", "ChecksumAlgorithm": "CRC32", "ContentLength": "16"]),
        "19_cloudwatch_json10_monitoring_ListMetrics.http": .init(service: "monitoring", operation: "ListMetrics", proto: .json, params: [:]),
    ]

    @Test func allNineteenCapturesAreCovered() throws {
        let names = try Capture.all().map(\.name)
        #expect(names.count == 19)
        #expect(Set(names) == Set(Self.expected.keys))
    }

    @Test(arguments: Array(expected.keys).sorted())
    func identifies(_ name: String) throws {
        let c = try Capture.load(name)
        let want = Self.expected[name]!
        let id = try Self.identifier.get()
        let signing: String, region: String
        if let auth = try? SigV4.parse(c.head) { (signing, region) = (auth.service, auth.region) } else { (signing, region) = ("s3", "us-east-1") }
        let got = id.identify(c.head, signingName: signing, region: region, body: c.head.value(of: "x-amz-target") != nil
                              || c.head.value(of: "content-type")?.hasPrefix("application/x-www-form") == true ? c.body : nil)
        #expect(got.service == want.service)
        #expect(got.operation == want.operation)
        #expect(got.protocol == want.proto)
        #expect(got.region == "us-east-1")
        for (k, v) in want.params { #expect(got.parameters[k] == v, "\(name): parameter \(k)") }
        #expect(Set(got.parameters.keys) == Set(want.params.keys), "\(name): \(got.parameters)")
    }

    /// Every SigV4 capture verifies once its signature is botocore's under the known secret; with any other
    /// signature, secret, or a changed byte it does not.
    @Test(arguments: Array(captureVectors.keys).sorted())
    func verifiesWithBotocoreSignature(_ name: String) throws {
        let c = try Capture.load(name)
        let vector = captureVectors[name]!
        var head = c.head
        if vector.presignedQuery.isEmpty {
            head = c.replacingSignature(with: vector.signature)
        } else {
            head.query = vector.presignedQuery
        }
        let auth = try SigV4.parse(head)
        let bodyHash = c.truncated ? nil : Hex.encode(SHA256.hash(c.body))
        let payloadHash = try #require(auth.payloadHashForVerification(bodySHA256Hex: bodyHash))
        let v = try SigV4.verify(head, auth: auth, secretAccessKey: captureTestSecret, payloadHash: payloadHash, now: auth.date)
        #expect(v.seedSignature == vector.signature)
        #expect(v.accessKeyId.hasPrefix("AKIA"))

        // the captured signature was made with another secret
        if vector.presignedQuery.isEmpty {
            let original = try SigV4.parse(c.head)
            #expect(throws: AWSAuthError.self) {
                try SigV4.verify(c.head, auth: original, secretAccessKey: captureTestSecret, payloadHash: payloadHash, now: auth.date)
            }
        }
        // wrong secret
        #expect(throws: AWSAuthError.self) {
            try SigV4.verify(head, auth: auth, secretAccessKey: captureTestSecret + "x", payloadHash: payloadHash, now: auth.date)
        }
        // a tampered path
        var tampered = head
        tampered.path += "x"
        #expect(throws: AWSAuthError.self) {
            try SigV4.verify(tampered, auth: auth, secretAccessKey: captureTestSecret, payloadHash: payloadHash, now: auth.date)
        }
        // a tampered signed header value (x-amz-date is always signed)
        if !auth.isPresigned {
            var h2 = head
            h2.setHeader("Host", "evil.example:1")
            #expect(throws: AWSAuthError.self) {
                try SigV4.verify(h2, auth: auth, secretAccessKey: captureTestSecret, payloadHash: payloadHash, now: auth.date)
            }
        }
        // a non-S3 body change changes the payload hash
        if !auth.isS3 && !c.body.isEmpty {
            let other = Hex.encode(SHA256.hash(c.body + [32]))
            #expect(throws: AWSAuthError.self) {
                try SigV4.verify(head, auth: auth, secretAccessKey: captureTestSecret, payloadHash: other, now: auth.date)
            }
        }
    }

    @Test func parsedFieldsOfCaptures() throws {
        let sts = try SigV4.parse(Capture.load("02_sts_query_with_security_token.http").head)
        #expect(sts.accessKeyId == "AKIAGATEWAYTEST00001" && sts.region == "us-east-1" && sts.service == "sts")
        #expect(sts.signedHeaders == ["content-type", "host", "x-amz-date", "x-amz-security-token"])
        #expect(sts.securityToken == "FQoGZXIvYXdzEXAMPLETOKEN" && sts.payloadMode == .notDeclared && !sts.isPresigned)
        let cw = try SigV4.parse(Capture.load("19_cloudwatch_json10_monitoring_ListMetrics.http").head)
        #expect(cw.service == "monitoring")
        let s3 = try SigV4.parse(Capture.load("10_s3_restxml_PutObject_http_signedpayload.http").head)
        #expect(s3.payloadMode == .sha256("db32032f38583924b5f20eebfa95017ac98c962cd08e60987efc4a0ae654da4c"))
        #expect(try SigV4.parse(Capture.load("12_s3_PutObject_https_STREAMING-UNSIGNED-PAYLOAD-TRAILER.http").head).payloadMode
                == .streamingUnsignedTrailer)
        #expect(try SigV4.parse(Capture.load("15_s3_PutObject_https_UNSIGNED-PAYLOAD_contentmd5.http").head).payloadMode == .unsigned)
        let pre = try SigV4.parse(Capture.load("16_s3_presigned_sigv4_query.http").head)
        #expect(pre.isPresigned && pre.expires == 300 && pre.accessKeyId == "AKIAGATEWAYBOTO00002" && pre.signedHeaders == ["host"])
        #expect(pre.payloadHashForVerification(bodySHA256Hex: nil) == "UNSIGNED-PAYLOAD")
    }

    /// Capture 10's body matches its declared x-amz-content-sha256; one changed byte gives XAmzContentSHA256Mismatch.
    @Test func payloadHashCheckOnCapture10() throws {
        let c = try Capture.load("10_s3_restxml_PutObject_http_signedpayload.http")
        let auth = try SigV4.parse(c.head)
        guard case .sha256(let declared) = auth.payloadMode else { Issue.record("not hex"); return }
        let ok = PayloadSHA256Check(declared: declared)
        for i in stride(from: 0, to: c.body.count, by: 333) { ok.update(Array(c.body[i..<min(c.body.count, i + 333)])) }
        #expect(try ok.finish() == declared)
        var body = c.body
        body[1999] ^= 1
        let bad = PayloadSHA256Check(declared: declared)
        bad.update(body)
        #expect { try bad.finish() } throws: { ($0 as? AWSAuthError)?.code == "XAmzContentSHA256Mismatch" }
        // and verify() refuses a hex payload hash that differs from the declared one
        #expect { try SigV4.verify(c.head, auth: auth, secretAccessKey: "x", payloadHash: Hex.encode(SHA256.hash(body)), now: auth.date) }
            throws: { ($0 as? AWSAuthError)?.code == "XAmzContentSHA256Mismatch" }
    }

    /// Capture 17: boto3's default presigned URL is SigV2 — rejected with AccessDenied.
    @Test func sigV2PresignedIsRejected() throws {
        let c = try Capture.load("17_s3_presigned_sigv2_default_boto3.http")
        #expect { try SigV4.parse(c.head) } throws: { e in
            let e = e as! AWSAuthError
            return e.code == "AccessDenied" && e.httpStatus == 403 && e.message.contains("SigV2 not supported")
        }
    }

    /// Re-signing each capture for an "upstream" with another credential, then verifying it, round-trips,
    /// preserving the S3 payload mode and adding the session token.
    @Test(arguments: Array(captureVectors.keys).sorted())
    func reSignRoundTrip(_ name: String) throws {
        let c = try Capture.load(name)
        let auth = try SigV4.parse(c.head)
        guard !auth.isPresigned else { return }
        var head = c.head
        head.setHeader("Host", "upstream.example:4566")
        let creds = AWSCredentials(accessKeyId: "ASIAUPSTREAM", secretAccessKey: "upstream-secret", sessionToken: "tok/en+1")
        let payload = auth.payloadMode.literal ?? Hex.encode(SHA256.hash(c.body))
        let now = utc("20261126T150000Z")
        SigV4.sign(&head, credentials: creds, region: auth.region, service: auth.service, payloadHash: payload, date: now)
        #expect(head.value(of: "x-amz-security-token") == "tok/en+1")
        #expect(head.values(of: "authorization").count == 1)
        if auth.isS3 { #expect(head.value(of: "x-amz-content-sha256") == payload) }
        let again = try SigV4.parse(head)
        #expect(again.accessKeyId == "ASIAUPSTREAM" && again.service == auth.service && again.payloadMode == auth.payloadMode)
        #expect(again.signedHeaders.contains("host") && !again.signedHeaders.contains("user-agent")
                && !again.signedHeaders.contains("content-length") && !again.signedHeaders.contains("transfer-encoding"))
        _ = try SigV4.verify(head, auth: again, secretAccessKey: "upstream-secret",
                             payloadHash: again.payloadHashForVerification(bodySHA256Hex: Hex.encode(SHA256.hash(c.body)))!, now: now)
    }
}
