import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// The security review of 2026-11-26 (findings 4, 5, 6, 7, 9): each probe is refused, or identified the way the
/// upstream will execute it.
@Suite struct ReviewFindingTests {
    static let creds = AWSCredentials(accessKeyId: "AKIATALLYREVIEW00001", secretAccessKey: "review/secret+1")
    static let date = utc("20261126T170000Z")
    static let id = Result { try OperationIdentifier.load() }

    func code(_ f: () throws -> Void) -> String? {
        do { try f(); return nil } catch let e as AWSAuthError { return e.code } catch { return "other: \(error)" }
    }

    /// Parses and verifies with the preferred API (body hash computed here from `body`).
    func verify(_ head: HTTPRequestHead, body: [UInt8]?) throws -> VerifiedSigV4 {
        let auth = try SigV4.parse(head)
        return try SigV4.verify(head, auth: auth, secretAccessKey: Self.creds.secretAccessKey,
                                bodySHA256Hex: body.map { Hex.encode(SHA256.hash($0)) }, now: Self.date)
    }

    static func signed(_ method: String, _ target: String, headers: [(name: String, value: String)], service: String,
                       payloadHash: String) -> HTTPRequestHead {
        var head = HTTPRequestHead(method: method, target: target, headers: [("Host", "127.0.0.1:5056")] + headers)
        SigV4.sign(&head, credentials: creds, region: "us-east-1", service: service, payloadHash: payloadHash, date: date)
        return head
    }

    static func dynamo(_ targets: [String]) -> (HTTPRequestHead, [UInt8]) {
        let body = Array(#"{"TableName":"victim"}"#.utf8)
        let head = signed("POST", "/", headers: [("Content-Type", "application/x-amz-json-1.0")] + targets.map { ("X-Amz-Target", $0) },
                          service: "dynamodb", payloadHash: Hex.encode(SHA256.hash(body)))
        return (head, body)
    }

    // MARK: finding 5: repeated singleton headers / parameters

    /// The review's probe: two X-Amz-Target headers, both signed (canonical value `a,b`): refused before
    /// identification.
    @Test func repeatedTargetIsRefused() throws {
        let (good, body) = Self.dynamo(["DynamoDB_20120810.DescribeTable"])
        _ = try verify(good, body: body)
        let (dup, dupBody) = Self.dynamo(["DynamoDB_20120810.DescribeTable", "DynamoDB_20120810.DeleteTable"])
        #expect(dup.values(of: "x-amz-target").count == 2)
        #expect(code { _ = try verify(dup, body: dupBody) } == "InvalidRequest")
        #expect(code { _ = try SigV4.parse(dup) } == "InvalidRequest")
    }

    @Test(arguments: ["Host", "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Content-Type", "x-amz-content-sha256",
                      "Smithy-Protocol", "X-Amz-Copy-Source"])
    func repeatedSingletonHeaderIsRefused(_ name: String) throws {
        let body = Array("Action=GetCallerIdentity&Version=2011-06-15".utf8)
        var head = Self.signed("POST", "/", headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                               service: "sts", payloadHash: Hex.encode(SHA256.hash(body)))
        _ = try verify(head, body: body)
        head.headers.append((name: name, value: "second"))
        if head.values(of: name).count == 1 { head.headers.append((name: name, value: "third")) }
        #expect(code { _ = try SigV4.parse(head) } == "InvalidRequest", "\(name)")
    }

    @Test func repeatedMetadataHeadersStayAllowed() throws {
        var head = HTTPRequestHead(method: "PUT", target: "/bkt/key", headers: [
            ("Host", "127.0.0.1:5056"), ("x-amz-meta-tag", "a"), ("x-amz-meta-tag", "b")])
        SigV4.sign(&head, credentials: Self.creds, region: "us-east-1", service: "s3", payloadHash: SigV4.emptySHA256, date: Self.date)
        #expect(try verify(head, body: []).service == "s3")
    }

    @Test func repeatedActionInQueryIsRefused() throws {
        let head = Self.signed("GET", "/?Action=GetUser&Version=2010-05-08&Action=DeleteUser&UserName=u", headers: [],
                               service: "iam", payloadHash: SigV4.emptySHA256)
        #expect(code { _ = try SigV4.parse(head) } == "InvalidRequest")
        let version = Self.signed("GET", "/?Action=GetUser&Version=2010-05-08&Version=2010-05-08", headers: [],
                                  service: "iam", payloadHash: SigV4.emptySHA256)
        #expect(code { _ = try SigV4.parse(version) } == "InvalidRequest")
    }

    /// A repeated Action in the form body, or Action in both the query and the body: never identified from one copy.
    @Test func ambiguousFormActionIsUnidentified() throws {
        let id = try Self.id.get()
        let form: [(name: String, value: String)] = [("Host", "iam.amazonaws.com"), ("Content-Type", "application/x-www-form-urlencoded")]
        let twice = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: form), signingName: "iam", region: "us-east-1",
                                body: Array("Action=GetUser&Action=DeleteUser&UserName=u&Version=2010-05-08".utf8))
        #expect(twice.operation == nil && twice.isUnidentifiedKnownOperation)
        #expect(twice.unidentifiedReason?.contains("repeated") == true)
        let both = id.identify(HTTPRequestHead(method: "POST", target: "/?Action=GetUser", headers: form), signingName: "iam",
                               region: "us-east-1", body: Array("Action=DeleteUser&UserName=u&Version=2010-05-08".utf8))
        #expect(both.operation == nil && both.isUnidentifiedKnownOperation)
        let versions = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: form), signingName: "iam", region: "us-east-1",
                                   body: Array("Action=GetUser&Version=2010-05-08&Version=2099-01-01".utf8))
        #expect(versions.operation == nil)
        let fine = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: form), signingName: "iam", region: "us-east-1",
                               body: Array("Action=DeleteUser&UserName=u&Version=2010-05-08".utf8))
        #expect(fine.operation == "DeleteUser" && fine.unidentifiedReason == nil && !fine.isUnidentifiedKnownOperation)
    }

    /// Session 9 review: Action in the body and the IAM call's UserName in the query string (an upstream that merges
    /// them acts on that user, while the gateway saw no UserName: its own-identity guardrail let AttachUserPolicy on
    /// its own user through). Parameters on both sides, or a repeated parameter, are never identified; query
    /// authentication's X-Amz-* parameters next to a form body are fine.
    @Test func parametersOnBothSidesOfAQueryRequestAreUnidentified() throws {
        let id = try Self.id.get()
        let form: [(name: String, value: String)] = [("Host", "iam.amazonaws.com"), ("Content-Type", "application/x-www-form-urlencoded")]
        func identify(_ target: String, _ body: String) -> IdentifiedOperation {
            id.identify(HTTPRequestHead(method: "POST", target: target, headers: form), signingName: "iam", region: "us-east-1",
                        body: Array(body.utf8))
        }
        let split = identify("/?UserName=tally-gateway-admin", "Action=AttachUserPolicy&Version=2010-05-08&PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess")
        #expect(split.operation == nil && split.isUnidentifiedKnownOperation, "\(String(describing: split.unidentifiedReason))")
        let reverse = identify("/?Action=AttachUserPolicy&Version=2010-05-08&PolicyArn=p", "UserName=tally-gateway-admin")
        #expect(reverse.operation == nil && reverse.isUnidentifiedKnownOperation)
        let repeated = identify("/", "Action=AttachUserPolicy&Version=2010-05-08&UserName=agent&UserName=tally-gateway-admin&PolicyArn=p")
        #expect(repeated.operation == nil && repeated.unidentifiedReason?.contains("repeated") == true)
        let presigned = identify("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Signature=b",
                                 "Action=AttachUserPolicy&Version=2010-05-08&UserName=agent&PolicyArn=p")
        #expect(presigned.operation == "AttachUserPolicy" && presigned.parameters["UserName"] == "agent")
        let get = identify("/?Action=GetUser&Version=2010-05-08&UserName=agent", "")
        #expect(get.operation == "GetUser" && get.parameters["UserName"] == "agent")
    }

    /// Session 9 review: `PUT /bucket?policy&acl` was identified (and its body checked) as PutBucketAcl while S3 may
    /// run PutBucketPolicy; keys with empty segments (`a//b`, `/secret`) were recorded as other objects.
    @Test func s3SubresourcesAndEmptyKeySegments() throws {
        let id = try Self.id.get()
        func identify(_ method: String, _ target: String) -> IdentifiedOperation {
            id.identify(HTTPRequestHead(method: method, target: target, headers: [("Host", "127.0.0.1:5056")]), signingName: "s3",
                        region: "us-east-1", body: nil)
        }
        for target in ["/b?policy&acl", "/b?acl&policy", "/b?policy&cors", "/b?acl&logging"] {
            let two = identify("PUT", target)
            #expect(two.operation == nil && two.isUnidentifiedKnownOperation, "\(target): \(String(describing: two.operation))")
        }
        #expect(identify("PUT", "/b?acl").operation == "PutBucketAcl")
        #expect(identify("PUT", "/b?policy").operation == "PutBucketPolicy")
        let acl = identify("PUT", "/b/k?acl&versionId=3")
        #expect(acl.operation == "PutObjectAcl" && acl.parameters["VersionId"] == "3")
        let get = identify("GET", "/b/k?versionId=1&response-content-type=text%2Fplain&partNumber=1")
        #expect(get.operation == "GetObject" && get.parameters["Key"] == "k")
        #expect(identify("GET", "/b/a//b").parameters["Key"] == "a//b")
        #expect(identify("PUT", "/b//secret/data.txt").parameters["Key"] == "/secret/data.txt")
        #expect(identify("PUT", "/b/dir/").parameters["Key"] == "dir/")
        #expect(identify("GET", "/b/caf%C3%A9/x%2Fy").parameters["Key"] == "café/x/y")
        #expect(identify("PUT", "/b/k?uploadId=u&partNumber=2").operation == "UploadPart")
        let leading = identify("GET", "//b/k")
        #expect(leading.operation == nil && leading.isUnidentifiedKnownOperation)
    }

    /// Session 9 probes: a CBOR integer or length near Int.max crashed the process (arithmetic overflow) from one
    /// request whose key id alone was valid; X-Amz-Target with an Action in the query string or inside a JSON body
    /// (moto runs the Action); a CBOR path on a service not addressed that way; a '#' in the target.
    @Test func cborOverflowsTargetsBesideActionsAndFragments() throws {
        // Negative integer with argument Int.max; text and map lengths near Int.max.
        for body: [UInt8] in [[0xA1, 0x61, 0x61, 0x3B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                              [0xA1, 0x7B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x61],
                              [0xA1, 0x61, 0x61, 0xBB, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00],
                              [0xA1, 0x61, 0x61, 0x5B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]] {
            _ = CBOR.topLevelMembers(body)  // must not trap
        }
        #expect(CBOR.topLevelMembers([0xA1, 0x61, 0x61, 0x3B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])?["a"] == "-9223372036854775808")
        let id = try Self.id.get()
        func json(_ target: String, _ body: String, query: String = "") -> IdentifiedOperation {
            id.identify(HTTPRequestHead(method: "POST", target: "/" + query, headers: [("Host", "h"), ("X-Amz-Target", target),
                                                                                      ("Content-Type", "application/x-amz-json-1.1")]),
                        signingName: "kms", region: "us-east-1", body: Array(body.utf8))
        }
        #expect(json("TrentService.DescribeKey", #"{"KeyId":"k"}"#).operation == "DescribeKey")
        #expect(json("TrentService.DescribeKey", #"{"KeyId":"k"}"#, query: "?Action=ScheduleKeyDeletion").operation == nil)
        // A JSON body is not read as a form (real JSON services route by the target; data may hold "&Action=").
        #expect(json("TrentService.DescribeKey", #"{"KeyId":"k","Pad":"&Action=ScheduleKeyDeletion&"}"#).operation == "DescribeKey")
        #expect(json("TrentService.DescribeKey", "KeyId=k&Action=ScheduleKeyDeletion").operation == nil)
        #expect(json("TrentService.DescribeKey", #"{"KeyId":"k","Note":"no action here"}"#).operation == "DescribeKey")
        let cbor = id.identify(HTTPRequestHead(method: "POST", target: "/service/X/operation/GetUser",
                                               headers: [("Host", "h"), ("smithy-protocol", "rpc-v2-cbor")]),
                               signingName: "iam", region: "us-east-1", body: nil)
        #expect(cbor.operation == nil && cbor.isUnidentifiedKnownOperation)
        var head = HTTPRequestHead(method: "POST", target: "/?Action=ListUsers#&UserName=bob", headers: [("Host", "127.0.0.1:5056")])
        SigV4.sign(&head, credentials: Self.creds, region: "us-east-1", service: "iam", payloadHash: Hex.encode(SHA256.hash([UInt8]())), date: Self.date)
        #expect(code { _ = try SigV4.parse(head) } == "InvalidRequest")
        // x-amz-decoded-content-length near Int.max overflowed the re-encoded length (a crash): bounded at 5 TiB.
        for bad in ["9223372036854775807", "-1", "1e9", "5497558138881"] {
            var put = HTTPRequestHead(method: "PUT", target: "/b/k", headers: [("Host", "127.0.0.1:5056"),
                                                                            ("x-amz-decoded-content-length", bad)])
            SigV4.sign(&put, credentials: Self.creds, region: "us-east-1", service: "s3", payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", date: Self.date)
            #expect(code { _ = try SigV4.parse(put) } == "InvalidRequest", "\(bad)")
        }
        #expect(AWSChunkedEncoder.encodedLength(decodedLength: 5 << 40, mode: .streamingUnsignedTrailer) > 5 << 40)
    }

    // MARK: finding 6: headers that steer the upstream must be signed

    /// The review's probe: a presigned PUT URL plus an unsigned `x-amz-copy-source` (which would turn it into
    /// CopyObject) is refused, as S3 does.
    @Test func presignedPutWithUnsignedCopySourceIsRefused() throws {
        var head = HTTPRequestHead(method: "PUT", target: "/dst/drop", headers: [("Host", "127.0.0.1:5056")])
        SigV4.presign(&head, credentials: Self.creds, region: "us-east-1", service: "s3", expires: 300, date: Self.date)
        _ = try verify(head, body: nil)
        var attack = head
        attack.headers.append((name: "x-amz-copy-source", value: "/src/secret"))
        do {
            _ = try SigV4.parse(attack)
            Issue.record("an unsigned x-amz-copy-source was accepted")
        } catch {
            #expect(error.code == "AccessDenied" && error.httpStatus == 403)
            #expect(error.message.contains("not signed: x-amz-copy-source"))
        }
        var acl = head
        acl.headers.append((name: "X-Amz-Acl", value: "public-read"))
        #expect(code { _ = try SigV4.parse(acl) } == "AccessDenied")
        // Headers S3 accepts unsigned on presigned URLs (a ranged download, a browser's Content-Type) still pass.
        var ranged = head
        ranged.headers += [(name: "Range", value: "bytes=0-9"), (name: "User-Agent", value: "curl/8")]
        _ = try verify(ranged, body: nil)
    }

    @Test func unsignedTargetOrSmithyProtocolIsRefused() throws {
        let body = Array(#"{"TableName":"victim"}"#.utf8)
        // signed without X-Amz-Target, then the target is added
        var head = Self.signed("POST", "/", headers: [("Content-Type", "application/x-amz-json-1.0")], service: "dynamodb",
                               payloadHash: Hex.encode(SHA256.hash(body)))
        head.headers.append((name: "X-Amz-Target", value: "DynamoDB_20120810.DeleteTable"))
        #expect(code { _ = try verify(head, body: body) } == "AccessDenied")
        // an unsigned smithy-protocol header (it selects RPC v2 CBOR)
        var cbor = Self.signed("POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics", headers: [],
                               service: "monitoring", payloadHash: SigV4.emptySHA256)
        cbor.headers.append((name: "smithy-protocol", value: "rpc-v2-cbor"))
        #expect(code { _ = try verify(cbor, body: []) } == "AccessDenied")
        // any unsigned x-amz-* header on a non-S3 service
        var lambda = Self.signed("POST", "/2015-03-31/functions/f/invocations", headers: [], service: "lambda",
                                 payloadHash: SigV4.emptySHA256)
        lambda.headers.append((name: "X-Amz-Invocation-Type", value: "Event"))
        #expect(code { _ = try verify(lambda, body: []) } == "AccessDenied")
    }

    /// Content-Type may be unsigned (the JavaScript SDK v2 never signs it; AWS accepts that). Identification then
    /// does not depend on it: a form body's Action is read whatever the Content-Type says.
    @Test func unsignedContentTypeIsAcceptedAndNotTrusted() throws {
        let form = Array("Action=CreateUser&UserName=x&Version=2010-05-08".utf8)
        var q = Self.signed("POST", "/", headers: [], service: "iam", payloadHash: Hex.encode(SHA256.hash(form)))
        q.headers.append((name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8"))
        #expect(try verify(q, body: form).service == "iam")
        #expect(try SigV4.parse(q).forwardableHeaders(of: q).contains { $0.name == "Content-Type" })
        let id = try Self.id.get()
        for ct in ["text/plain", nil] as [String?] {
            var h = HTTPRequestHead(method: "POST", target: "/", headers: [("Host", "iam.amazonaws.com")])
            if let ct { h.headers.append((name: "Content-Type", value: ct)) }
            let got = id.identify(h, signingName: "iam", region: "us-east-1", body: form)
            #expect(got.operation == "CreateUser" && got.parameters["UserName"] == "x", "\(ct ?? "no content-type")")
        }
    }

    /// What SDKs send unsigned (botocore: User-Agent, Expect, X-Amzn-Trace-Id, amz-sdk-*; HTTP clients add
    /// Content-Length, Accept-Encoding) never fails verification.
    @Test func sdkTransportHeadersMayBeUnsigned() throws {
        let body = Array("Action=GetCallerIdentity&Version=2011-06-15".utf8)
        var head = Self.signed("POST", "/", headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                               service: "sts", payloadHash: Hex.encode(SHA256.hash(body)))
        head.headers += [("User-Agent", "aws-cli/2"), ("Content-Length", "43"), ("Expect", "100-continue"),
                         ("Accept-Encoding", "identity"), ("amz-sdk-invocation-id", "f00"), ("amz-sdk-request", "attempt=1; max=3"),
                         ("X-Amzn-Trace-Id", "Root=1")]
        #expect(try verify(head, body: body).service == "sts")
    }

    /// Every real SigV4 capture (AWS CLI / boto3) still parses, and forwardableHeaders keeps every header except
    /// its own authentication and the hop-by-hop ones botocore leaves unsigned (Connection, Transfer-Encoding).
    @Test func capturesKeepEveryHeaderTheyNeed() throws {
        let hop: Set<String> = ["connection", "transfer-encoding"]
        var checked = 0
        for c in try Capture.all() where !c.name.contains("sigv2") {
            let auth = try SigV4.parse(c.head)
            let kept = auth.forwardableHeaders(of: c.head).map { $0.name.lowercased() }
            let expected = c.head.headers.map { $0.name.lowercased() }
                .filter { !SigV4.authenticationHeaderNames.contains($0) && !hop.contains($0) }
            #expect(kept == expected, "\(c.name)")
            checked += 1
        }
        #expect(checked == 18)
    }

    @Test func forwardableHeadersAreSignedOrTransport() throws {
        let body = Array(#"{"TableName":"t"}"#.utf8)
        var head = Self.signed("POST", "/", headers: [("Content-Type", "application/x-amz-json-1.0"),
                                                      ("X-Amz-Target", "DynamoDB_20120810.DescribeTable")],
                               service: "dynamodb", payloadHash: Hex.encode(SHA256.hash(body)))
        head.headers += [("User-Agent", "boto3"), ("X-Injected", "1"), ("Cache-Control", "no-cache"), ("amz-sdk-request", "attempt=1")]
        let v = try verify(head, body: body)
        let names = v.forwardableHeaders(of: head).map { $0.name.lowercased() }
        #expect(names == ["content-type", "x-amz-target", "user-agent", "amz-sdk-request"])
        #expect(try SigV4.parse(head).forwardableHeaders(of: head).map { $0.name.lowercased() } == names)
        // S3: a presigned GET keeps an unsigned Range, drops an unsigned non-HTTP header
        var get = HTTPRequestHead(method: "GET", target: "/b/k", headers: [("Host", "127.0.0.1:5056")])
        SigV4.presign(&get, credentials: Self.creds, region: "us-east-1", service: "s3", expires: 60, date: Self.date)
        get.headers += [("Range", "bytes=0-1"), ("X-Injected", "1")]
        let s3 = try verify(get, body: nil)
        #expect(s3.forwardableHeaders(of: get).map { $0.name } == ["Range"])
    }

    // MARK: finding 7: non-S3 signatures bind the body

    /// The review's probe: IAM/STS signed with UNSIGNED-PAYLOAD over one body, sent with another: refused.
    @Test func unsignedPayloadIsRefusedOutsideS3() throws {
        var head = HTTPRequestHead(method: "POST", target: "/", headers: [
            ("Host", "127.0.0.1:5056"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])
        SigV4.sign(&head, credentials: Self.creds, region: "us-east-1", service: "sts", payloadHash: "UNSIGNED-PAYLOAD", date: Self.date)
        let swapped = Array("Action=CreateUser&UserName=injected&Version=2010-05-08".utf8)
        #expect(code { _ = try verify(head, body: swapped) } == "InvalidRequest")
        for mode in ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"] {
            var h = HTTPRequestHead(method: "POST", target: "/", headers: [("Host", "h"), ("X-Amz-Content-SHA256", mode)])
            SigV4.sign(&h, credentials: Self.creds, region: "us-east-1", service: "iam", payloadHash: mode, date: Self.date)
            #expect(code { _ = try SigV4.parse(h) } == "InvalidRequest", "\(mode)")
        }
        // S3 keeps UNSIGNED-PAYLOAD
        var s3 = HTTPRequestHead(method: "PUT", target: "/b/k", headers: [("Host", "127.0.0.1:5056")])
        SigV4.sign(&s3, credentials: Self.creds, region: "us-east-1", service: "s3", payloadHash: "UNSIGNED-PAYLOAD", date: Self.date)
        #expect(try verify(s3, body: nil).payloadMode == .unsigned)
    }

    /// A declared hex hash is compared with the body's computed hash, and a non-S3 request without a computed
    /// body hash cannot be verified.
    @Test func nonS3VerificationNeedsTheComputedBodyHash() throws {
        let signedBody = Array("Action=GetCallerIdentity&Version=2011-06-15".utf8)
        let declared = Hex.encode(SHA256.hash(signedBody))
        var head = HTTPRequestHead(method: "POST", target: "/", headers: [
            ("Host", "127.0.0.1:5056"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("X-Amz-Content-SHA256", declared)])
        SigV4.sign(&head, credentials: Self.creds, region: "us-east-1", service: "sts", payloadHash: declared, date: Self.date)
        _ = try verify(head, body: signedBody)
        let other = Array("Action=CreateUser&UserName=injected&Version=2010-05-08".utf8)
        #expect(code { _ = try verify(head, body: other) } == "XAmzContentSHA256Mismatch")
        // The older entry point, fed as before through payloadHashForVerification, compares too.
        let auth = try SigV4.parse(head)
        #expect(auth.payloadHashForVerification(bodySHA256Hex: Hex.encode(SHA256.hash(other))) == Hex.encode(SHA256.hash(other)))
        #expect(code {
            _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.creds.secretAccessKey,
                                 payloadHash: auth.payloadHashForVerification(bodySHA256Hex: Hex.encode(SHA256.hash(other)))!,
                                 now: Self.date)
        } == "XAmzContentSHA256Mismatch")
        #expect(auth.payloadHashForVerification(bodySHA256Hex: nil) == nil)
        #expect(code { _ = try verify(head, body: nil) } == "InvalidRequest")
        #expect(code {
            _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.creds.secretAccessKey, payloadHash: "UNSIGNED-PAYLOAD", now: Self.date)
        } == "InvalidRequest")
    }

    // MARK: finding 4: S3 virtual-hosted Host

    /// The review's probe: `DELETE /victim` with `Host: xbucket.s3.amazonaws.com` is what the upstream runs
    /// path-style: DeleteBucket victim — never DeleteObject xbucket/victim.
    @Test func virtualHostedHostIsNotTrustedByDefault() throws {
        let id = try Self.id.get()
        let head = HTTPRequestHead(method: "DELETE", target: "/victim", headers: [("Host", "xbucket.s3.amazonaws.com")])
        let got = id.identify(head, signingName: "s3", region: "us-east-1", body: nil)
        #expect(got.operation == "DeleteBucket" && got.parameters["Bucket"] == "victim" && got.parameters["Key"] == nil)
        #expect(got.virtualHostedBucket == "xbucket" && got.ignoredVirtualHostedBucket && got.forwardPath == nil)
        let plain = id.identify(HTTPRequestHead(method: "DELETE", target: "/victim", headers: [("Host", "127.0.0.1:5056")]),
                                signingName: "s3", region: "us-east-1", body: nil)
        #expect(plain.operation == "DeleteBucket" && plain.virtualHostedBucket == nil && !plain.ignoredVirtualHostedBucket)
    }

    /// With the gateway's base domain the Host's bucket is honoured and the path-style path to forward is given.
    @Test func virtualHostedHostUnderTheBaseDomain() throws {
        let id = try Self.id.get()
        let head = HTTPRequestHead(method: "DELETE", target: "/victim", headers: [("Host", "xbucket.s3.amazonaws.com")])
        let got = id.identify(head, signingName: "s3", region: "us-east-1", body: nil, virtualHostBaseDomain: "s3.amazonaws.com")
        #expect(got.operation == "DeleteObject" && got.parameters["Bucket"] == "xbucket" && got.parameters["Key"] == "victim")
        #expect(got.forwardPath == "/xbucket/victim" && !got.ignoredVirtualHostedBucket)
        // the forwarded path identifies the same way
        let fwd = id.identify(HTTPRequestHead(method: "DELETE", target: got.forwardPath!, headers: [("Host", "upstream:9000")]),
                              signingName: "s3", region: "us-east-1", body: nil)
        #expect(fwd.operation == got.operation && fwd.parameters == got.parameters)
        // a local base domain with a port, a dotted bucket, the bucket root
        let local = id.identify(HTTPRequestHead(method: "GET", target: "/a%20b/c.txt", headers: [("Host", "my.photos.localhost:4566")]),
                                signingName: "s3", region: "us-east-1", body: nil, virtualHostBaseDomain: "localhost:4566")
        #expect(local.operation == "GetObject" && local.parameters["Bucket"] == "my.photos" && local.parameters["Key"] == "a b/c.txt")
        #expect(local.forwardPath == "/my.photos/a%20b/c.txt")
        let root = id.identify(HTTPRequestHead(method: "GET", target: "/?list-type=2", headers: [("Host", "bkt.localhost")]),
                               signingName: "s3", region: "us-east-1", body: nil, virtualHostBaseDomain: "localhost")
        #expect(root.operation == "ListObjectsV2" && root.forwardPath == "/bkt/")
        // the base domain itself is path-style; an AWS-looking Host outside the base domain is not honoured
        let base = id.identify(HTTPRequestHead(method: "DELETE", target: "/victim", headers: [("Host", "localhost:4566")]),
                               signingName: "s3", region: "us-east-1", body: nil, virtualHostBaseDomain: "localhost:4566")
        #expect(base.operation == "DeleteBucket" && base.forwardPath == nil && base.virtualHostedBucket == nil)
        let foreign = id.identify(head, signingName: "s3", region: "us-east-1", body: nil, virtualHostBaseDomain: "localhost")
        #expect(foreign.operation == "DeleteBucket" && foreign.ignoredVirtualHostedBucket)
    }

    // MARK: finding 9: an Action matching no operation case-sensitively

    @Test func lowerCaseActionIsUnidentified() throws {
        let id = try Self.id.get()
        let form: [(name: String, value: String)] = [("Host", "iam.amazonaws.com"), ("Content-Type", "application/x-www-form-urlencoded")]
        let lower = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: form), signingName: "iam", region: "us-east-1",
                                body: Array("Action=createUser&UserName=u&Version=2010-05-08".utf8))
        #expect(lower.operation == nil && lower.modelName == "iam" && lower.isUnidentifiedKnownOperation)
        #expect(lower.unidentifiedReason?.contains("case-sensitively") == true)
        let exact = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: form), signingName: "iam", region: "us-east-1",
                                body: Array("Action=CreateUser&UserName=u&Version=2010-05-08".utf8))
        #expect(exact.operation == "CreateUser" && !exact.isUnidentifiedKnownOperation)
        let target = id.identify(HTTPRequestHead(method: "POST", target: "/", headers: [("Host", "h"), ("X-Amz-Target", "DynamoDB_20120810.deleteTable")]),
                                 signingName: "dynamodb", region: "us-east-1", body: Array("{}".utf8))
        #expect(target.operation == nil && target.isUnidentifiedKnownOperation)
        let legacy = id.identify(HTTPRequestHead(method: "GET", target: "/?Operation=DeleteAutoScalingGroup&AutoScalingGroupName=g&Version=2011-01-01",
                                                 headers: [("Host", "h")]), signingName: "autoscaling", region: "us-east-1", body: nil)
        #expect(legacy.operation == nil && legacy.isUnidentifiedKnownOperation && legacy.unidentifiedReason?.contains("Operation") == true)
        let unknownService = id.identify(HTTPRequestHead(method: "GET", target: "/", headers: [("Host", "h")]),
                                         signingName: "no-such-service", region: "us-east-1", body: nil)
        #expect(unknownService.operation == nil && !unknownService.isUnidentifiedKnownOperation)
    }

    /// Session 15 probe (moto with auth off): an Action in the query string next to a body that is not read as a form
    /// (moto ran the multipart body's CreateUser while Tally checked ListUsers); a header named Action next to an
    /// X-Amz-Target (moto falls back to it); an S3 request header such as x-amz-acl in the query string (S3 takes them
    /// from there too). None is identified.
    @Test func parametersAnUpstreamReadsElsewhereAreUnidentified() throws {
        let id = try Self.id.get()
        let multipart = id.identify(HTTPRequestHead(method: "POST", target: "/?Action=ListUsers&Version=2010-05-08",
                                                    headers: [("Host", "iam.amazonaws.com"), ("Content-Type", "multipart/form-data; boundary=b")]),
                                    signingName: "iam", region: "us-east-1",
                                    body: Array("--b\r\nContent-Disposition: form-data; name=\"Action\"\r\n\r\nCreateUser\r\n--b--\r\n".utf8))
        #expect(multipart.operation == nil && multipart.isUnidentifiedKnownOperation)
        #expect(multipart.unidentifiedReason?.contains("multipart/form-data") == true, "\(String(describing: multipart.unidentifiedReason))")
        // The same query request with no body is identified.
        let bare = id.identify(HTTPRequestHead(method: "POST", target: "/?Action=ListUsers&Version=2010-05-08", headers: [("Host", "iam.amazonaws.com")]),
                               signingName: "iam", region: "us-east-1", body: [])
        #expect(bare.operation == "ListUsers")

        let headerAction = id.identify(HTTPRequestHead(method: "POST", target: "/123456789012/q",
                                                       headers: [("Host", "sqs.us-east-1.amazonaws.com"), ("X-Amz-Target", "AmazonSQS.ListQueues"),
                                                                 ("Content-Type", "application/x-amz-json-1.0"), ("Action", "DeleteQueue")]),
                                       signingName: "sqs", region: "us-east-1", body: [])
        #expect(headerAction.operation == nil && headerAction.unidentifiedReason?.contains("Action") == true)

        func s3(_ target: String) -> IdentifiedOperation {
            id.identify(HTTPRequestHead(method: "PUT", target: target, headers: [("Host", "127.0.0.1:5056")]), signingName: "s3",
                        region: "us-east-1", body: [])
        }
        for query in ["x-amz-acl=public-read", "X-Amz-Grant-Read=uri%3Dhttp%3A%2F%2Facs.amazonaws.com%2Fgroups%2Fglobal%2FAllUsers",
                      "x-amz-copy-source=other%2Fsecret"] {
            let out = s3("/b/k?\(query)")
            #expect(out.operation == nil && out.isUnidentifiedKnownOperation, "\(query)")
            #expect(out.unidentifiedReason?.contains("query string") == true, "\(query)")
        }
        // A presigned URL's own parameters are not request headers.
        let presigned = s3("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=c&X-Amz-Date=20261126T170000Z&X-Amz-Expires=60"
                           + "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=t&X-Amz-Signature=00")
        #expect(presigned.operation == "PutObject", "\(String(describing: presigned.unidentifiedReason))")
        // The JavaScript v3, PHP v3 and Go v1 presigners add X-Amz-Content-Sha256=UNSIGNED-PAYLOAD; any other value is a
        // payload hash an upstream could take as the header's.
        let sdkPresigned = s3("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=c"
                              + "&X-Amz-Date=20261126T170000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
        #expect(sdkPresigned.operation == "PutObject", "\(String(describing: sdkPresigned.unidentifiedReason))")
        let hashed = s3("/b/k?X-Amz-Content-Sha256=\(String(repeating: "0", count: 64))&X-Amz-Signature=00")
        #expect(hashed.operation == nil && hashed.unidentifiedReason?.contains("X-Amz-Content-Sha256") == true)
    }
}
