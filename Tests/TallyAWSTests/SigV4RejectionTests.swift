import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// What must be refused, and with which AWS error code.
@Suite struct SigV4RejectionTests {
    static let creds = AWSCredentials(accessKeyId: "AKIATALLYTEST0000001", secretAccessKey: "secret/one+two")
    static let date = utc("20261126T143900Z")

    static func signedSTS(date: Date = date) -> HTTPRequestHead {
        var head = HTTPRequestHead(method: "POST", target: "/", headers: [
            ("Host", "127.0.0.1:5056"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
        SigV4.sign(&head, credentials: creds, region: "us-east-1", service: "sts", payloadHash: bodyHash, date: date)
        return head
    }
    static let body = Array("Action=GetCallerIdentity&Version=2011-06-15".utf8)
    static let bodyHash = Hex.encode(SHA256.hash(body))

    func code(_ f: () throws -> Void) -> String? {
        do { try f(); return nil } catch let e as AWSAuthError { return e.code } catch { return "other: \(error)" }
    }

    func verify(_ head: HTTPRequestHead, secret: String = creds.secretAccessKey, now: Date = date) throws -> VerifiedSigV4 {
        let auth = try SigV4.parse(head)
        return try SigV4.verify(head, auth: auth, secretAccessKey: secret,
                                payloadHash: auth.payloadHashForVerification(bodySHA256Hex: Self.bodyHash)!, now: now)
    }

    @Test func acceptsTheGoodRequest() throws {
        let v = try verify(Self.signedSTS())
        #expect(v.accessKeyId == Self.creds.accessKeyId && v.service == "sts" && v.region == "us-east-1")
    }

    @Test func signingKeyCacheGivesTheSameKeys() throws {
        let cache = SigningKeyCache(capacity: 2)
        let head = Self.signedSTS()
        let auth = try SigV4.parse(head)
        let a = try SigV4.verify(head, auth: auth, secretAccessKey: Self.creds.secretAccessKey, payloadHash: Self.bodyHash,
                                 now: Self.date, keyCache: cache)
        let b = try SigV4.verify(head, auth: auth, secretAccessKey: Self.creds.secretAccessKey, payloadHash: Self.bodyHash,
                                 now: Self.date, keyCache: cache)
        #expect(a.signingKey == b.signingKey && cache.count == 1)
        #expect(a.signingKey == SigV4.signingKey(secretAccessKey: Self.creds.secretAccessKey, date: "20261126", region: "us-east-1", service: "sts"))
        #expect(throws: AWSAuthError.self) {
            try SigV4.verify(head, auth: auth, secretAccessKey: "other", payloadHash: Self.bodyHash, now: Self.date, keyCache: cache)
        }
        var h2 = head
        SigV4.sign(&h2, credentials: Self.creds, region: "us-east-1", service: "sts", payloadHash: Self.bodyHash, date: Self.date, keyCache: cache)
        #expect(h2.value(of: "authorization") == head.value(of: "authorization"))
        _ = cache.signingKey(secretAccessKey: "x", date: "20261126", region: "eu-west-1", service: "s3")
        #expect(cache.count <= 2)
    }

    @Test func wrongSecret() {
        #expect(code { _ = try verify(Self.signedSTS(), secret: "secret/one+twO") } == "SignatureDoesNotMatch")
    }

    @Test func clockSkew() throws {
        #expect(code { _ = try verify(Self.signedSTS(), now: Self.date.addingTimeInterval(15 * 60 + 1)) } == "RequestTimeTooSkewed")
        #expect(code { _ = try verify(Self.signedSTS(), now: Self.date.addingTimeInterval(-15 * 60 - 1)) } == "RequestTimeTooSkewed")
        _ = try verify(Self.signedSTS(), now: Self.date.addingTimeInterval(15 * 60))
        _ = try verify(Self.signedSTS(), now: Self.date.addingTimeInterval(-15 * 60))
    }

    @Test func malformedAuthorizationHeaders() {
        let good = Self.signedSTS().value(of: "authorization")!
        func with(_ auth: String?) -> String? {
            var h = Self.signedSTS()
            h.setHeader("Authorization", auth)
            return code { _ = try verify(h) }
        }
        #expect(with(nil) == "MissingAuthenticationToken")
        #expect(with("AWS4-HMAC-SHA256") == "IncompleteSignature")
        #expect(with(good.replacingOccurrences(of: "SignedHeaders=", with: "Signed=")) == "IncompleteSignature")
        #expect(with(good.components(separatedBy: ", Signature=")[0]) == "IncompleteSignature")
        #expect(with(good.replacingOccurrences(of: "aws4_request", with: "aws5_request")) == "AuthorizationHeaderMalformed")
        #expect(with(good.replacingOccurrences(of: "/20261126/", with: "/20261125/")) == "AuthorizationHeaderMalformed")
        #expect(with(good.replacingOccurrences(of: "Credential=AKIATALLYTEST0000001/", with: "Credential=")) == "AuthorizationHeaderMalformed")
        #expect(with(good.replacingOccurrences(of: "content-type;host;", with: "content-type;")) == "IncompleteSignature")
        #expect(with(good.replacingOccurrences(of: "AWS4-HMAC-SHA256", with: "AWS4-ECDSA-P256-SHA256")) == "IncompleteSignature")
        #expect(with(String(good.dropLast(2))) == "IncompleteSignature")
        #expect(with("Bearer abc") == "IncompleteSignature")
        var noDate = Self.signedSTS()
        noDate.setHeader("X-Amz-Date", nil)
        #expect(code { _ = try verify(noDate) } == "IncompleteSignature")
        var badDate = Self.signedSTS()
        badDate.setHeader("X-Amz-Date", "2026-11-26T14:39:00Z")
        #expect(code { _ = try verify(badDate) } == "IncompleteSignature")
    }

    /// The scope's region and service name the upstream host with `--upstream aws`: a correctly signed request whose
    /// scope names are not AWS names (`x@host:port#`, spaces, upper case, dots) is refused before anything else.
    @Test func scopeNamesMustBeAWSNames() {
        func parsed(region: String, service: String = "sts") -> String? {
            var head = HTTPRequestHead(method: "POST", target: "/", headers: [("Host", "127.0.0.1:5056")])
            SigV4.sign(&head, credentials: Self.creds, region: region, service: service, payloadHash: Self.bodyHash, date: Self.date)
            return code { _ = try SigV4.parse(head) }
        }
        for bad in ["x@127.0.0.1:18443#", "us east-1", "US-EAST-1", "-us-east-1", "us-east-1-", "us.east.1", String(repeating: "a", count: 33)] {
            #expect(parsed(region: bad) == "AuthorizationHeaderMalformed", "\(bad)")
        }
        for bad in ["sts@127.0.0.1#", "sts.evil", "s3/", "s3 x", String(repeating: "a", count: 65)] {
            #expect(parsed(region: "us-east-1", service: bad) == "AuthorizationHeaderMalformed", "\(bad)")
        }
        for good in ["us-east-1", "us-gov-west-1", "cn-north-1", "us-isob-east-1", "il-central-1"] { #expect(parsed(region: good) == nil, "\(good)") }
        for good in ["execute-api", "s3-outposts", "sts", "iot1click", "IoTSecuredTunneling", "license-manager-linux-subscriptions"] { #expect(parsed(region: "us-east-1", service: good) == nil, "\(good)") }
    }

    @Test func sigV2IsRejected() {
        let header = HTTPRequestHead(method: "GET", target: "/bucket/key", headers: [
            ("Host", "s3.amazonaws.com"), ("Date", "Thu, 26 Nov 2026 14:39:00 GMT"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=")])
        #expect(code { _ = try SigV4.parse(header) } == "AccessDenied")
        let query = HTTPRequestHead(method: "GET", target: "/b/k?AWSAccessKeyId=AKIA&Signature=abc%3D&Expires=1795704350",
                                    headers: [("Host", "h")])
        #expect(code { _ = try SigV4.parse(query) } == "AccessDenied")
        let queryService = HTTPRequestHead(method: "GET", target: "/?Action=ListUsers&SignatureVersion=2&AWSAccessKeyId=AKIA&Signature=x",
                                           headers: [("Host", "iam.amazonaws.com")])
        #expect(code { _ = try SigV4.parse(queryService) } == "AccessDenied")
    }

    @Test func s3Rules() {
        var head = HTTPRequestHead(method: "GET", target: "/b/k", headers: [("Host", "s3.amazonaws.com")])
        SigV4.sign(&head, credentials: Self.creds, region: "us-east-1", service: "s3", payloadHash: SigV4.emptySHA256, date: Self.date)
        var unsignedAmz = head
        unsignedAmz.headers.append(("x-amz-meta-owner", "mallory"))
        #expect(code { _ = try SigV4.parse(unsignedAmz) } == "AccessDenied")
        var noContentSHA = head
        noContentSHA.setHeader("X-Amz-Content-SHA256", nil)
        #expect(code { _ = try SigV4.parse(noContentSHA) } == "InvalidRequest")
        var badContentSHA = head
        badContentSHA.setHeader("X-Amz-Content-SHA256", "not-a-hash")
        #expect(code { _ = try SigV4.parse(badContentSHA) } == "InvalidArgument")
        // signing the declared hash, then sending another body: XAmzContentSHA256Mismatch
        let auth = try! SigV4.parse(head)
        #expect(code { _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.creds.secretAccessKey,
                                            payloadHash: Hex.encode(SHA256.hash([1])), now: Self.date) } == "XAmzContentSHA256Mismatch")
    }

    /// An upper-case hex x-amz-content-sha256 is signed as sent and still matches a lower-case body digest.
    @Test func upperCaseDeclaredHashIsSignedAsSent() throws {
        let body = Array("abc".utf8)
        let upper = Hex.encode(SHA256.hash(body)).uppercased()
        var head = HTTPRequestHead(method: "PUT", target: "/b/k", headers: [("Host", "s3.amazonaws.com")])
        SigV4.sign(&head, credentials: Self.creds, region: "us-east-1", service: "s3", payloadHash: upper, date: Self.date)
        let auth = try SigV4.parse(head)
        #expect(auth.payloadMode == .sha256(upper.lowercased()) && auth.declaredContentSHA256 == upper)
        #expect(auth.payloadHashForVerification(bodySHA256Hex: nil) == upper)
        _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.creds.secretAccessKey,
                             payloadHash: Hex.encode(SHA256.hash(body)), now: Self.date)
        let check = PayloadSHA256Check(declared: upper)
        check.update(body)
        #expect(try check.finish() == upper.lowercased())
    }

    @Test func presignedRules() throws {
        var head = HTTPRequestHead(method: "GET", target: "/b/k.txt", headers: [("Host", "127.0.0.1:5056")])
        SigV4.presign(&head, credentials: AWSCredentials(accessKeyId: "AKIAP", secretAccessKey: "s", sessionToken: "tok"),
                      region: "us-east-1", service: "s3", expires: 300, date: Self.date)
        let auth = try SigV4.parse(head)
        #expect(auth.securityToken == "tok")
        func v(_ h: HTTPRequestHead, now: Date) -> String? {
            code {
                let a = try SigV4.parse(h)
                _ = try SigV4.verify(h, auth: a, secretAccessKey: "s", payloadHash: "UNSIGNED-PAYLOAD", now: now)
            }
        }
        #expect(v(head, now: Self.date.addingTimeInterval(300)) == nil)
        #expect(v(head, now: Self.date.addingTimeInterval(301)) == "AccessDenied")
        #expect(v(head, now: Self.date.addingTimeInterval(-16 * 60)) == "RequestTimeTooSkewed")
        var tooLong = head
        tooLong.query = head.query!.replacingOccurrences(of: "X-Amz-Expires=300", with: "X-Amz-Expires=604801")
        #expect(v(tooLong, now: Self.date) == "AuthorizationQueryParametersError")
        var weekOK = head
        weekOK.query = head.query!.replacingOccurrences(of: "X-Amz-Expires=300", with: "X-Amz-Expires=604800")
        #expect(v(weekOK, now: Self.date) == "SignatureDoesNotMatch")     // parses; the signature covered 300
        var noExpires = head
        noExpires.query = head.query!.replacingOccurrences(of: "X-Amz-Expires=300&", with: "")
        #expect(v(noExpires, now: Self.date) == "AuthorizationQueryParametersError")
        var changedToken = head
        changedToken.query = head.query!.replacingOccurrences(of: "X-Amz-Security-Token=tok", with: "X-Amz-Security-Token=tol")
        #expect(v(changedToken, now: Self.date) == "SignatureDoesNotMatch")
        var both = head
        both.headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=a/20261126/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"))
        #expect(v(both, now: Self.date) == "InvalidArgument")
    }

    @Test func errorCodesForUnknownKeysFollowTheService() {
        #expect(AWSAuthError.unknownAccessKey(service: "s3", protocol: .restXML).code == "InvalidAccessKeyId")
        #expect(AWSAuthError.unknownAccessKey(service: "sts", protocol: .query).code == "InvalidClientTokenId")
        #expect(AWSAuthError.unknownAccessKey(service: "ec2", protocol: .ec2).code == "InvalidClientTokenId")
        // An expired key, in each service's words: S3 400 ExpiredToken, JSON 403 ExpiredTokenException, query 403 ExpiredToken.
        let s3 = AWSAuthError.expiredToken(service: "s3", protocol: .restXML)
        #expect(s3.code == "ExpiredToken" && s3.httpStatus == 400)
        let ddb = AWSAuthError.expiredToken(service: "dynamodb", protocol: .json)
        #expect(ddb.code == "ExpiredTokenException" && ddb.httpStatus == 403)
        #expect(AWSAuthError.expiredToken(service: "lambda", protocol: .restJSON).code == "ExpiredTokenException")
        let sts = AWSAuthError.expiredToken(service: "sts", protocol: .query)
        #expect(sts.code == "ExpiredToken" && sts.httpStatus == 403)
        #expect(AWSAuthError.unknownAccessKey(service: "dynamodb", protocol: .json).code == "InvalidClientTokenId")
        #expect(AWSAuthError.unknownAccessKey(service: "sts", protocol: .query).httpStatus == 403)
    }

    /// The envelopes botocore's parsers read (checked by hand against botocore 1.43.11's QueryParser,
    /// EC2QueryParser, RestXMLParser, JSONParser and RestJSONParser: each reports Code, Message and RequestId).
    @Test func renderedEnvelopes() {
        let e = AWSAuthError(code: "SignatureDoesNotMatch", message: "a <b> & \"c\"", httpStatus: 403)
        func text(_ p: AWSProtocol) -> (Int, [(String, String)], String) {
            let r = AWSErrorRenderer.render(e, protocol: p, requestId: "rid-1", queryCompatible: p == .json, jsonVersion: "1.0")
            return (r.status, r.headers, String(decoding: r.body, as: UTF8.self))
        }
        let q = text(.query)
        #expect(q.0 == 403 && q.2.hasSuffix("<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
            + "<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message></Error><RequestId>rid-1</RequestId></ErrorResponse>"))
        #expect(text(.ec2).2.hasSuffix("<Response><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>a &lt;b&gt; &amp; "
            + "&quot;c&quot;</Message></Error></Errors><RequestID>rid-1</RequestID></Response>"))
        let x = text(.restXML)
        #expect(x.2.hasSuffix("<Error><Code>SignatureDoesNotMatch</Code><Message>a &lt;b&gt; &amp; &quot;c&quot;</Message>"
            + "<RequestId>rid-1</RequestId></Error>"))
        #expect(x.1.contains { $0 == ("x-amz-request-id", "rid-1") })
        let j = text(.json)
        #expect(j.2 == #"{"__type":"SignatureDoesNotMatch","message":"a <b> & \"c\""}"#)
        #expect(j.1.contains { $0 == ("x-amzn-ErrorType", "SignatureDoesNotMatch") })
        #expect(j.1.contains { $0 == ("Content-Type", "application/x-amz-json-1.0") })
        #expect(j.1.contains { $0 == ("x-amzn-query-error", "SignatureDoesNotMatch;Sender") })
        let cbor = AWSErrorRenderer.render(e, protocol: .rpcV2CBOR, requestId: "rid-1", queryCompatible: true, jsonVersion: nil)
        #expect(cbor.body == [0xA2, 0x66] + Array("__type".utf8) + [0x75] + Array("SignatureDoesNotMatch".utf8)
                + [0x67] + Array("message".utf8) + [0x6B] + Array("a <b> & \"c\"".utf8))
        #expect(cbor.headers.contains { $0 == ("smithy-protocol", "rpc-v2-cbor") } && cbor.headers.contains { $0 == ("Content-Type", "application/cbor") })
        let rj = text(.restJSON)
        #expect(rj.1.contains { $0 == ("x-amzn-ErrorType", "SignatureDoesNotMatch") } && rj.1.contains { $0 == ("Content-Type", "application/json") })
    }

    /// JSON and CBOR services call an authorization refusal AccessDeniedException; query and XML ones AccessDenied; a
    /// query-compatible JSON service's x-amzn-query-error keeps the query code.
    @Test func accessDeniedInEachProtocolsWords() {
        let e = AWSAuthError.accessDenied("no")
        let json = AWSErrorRenderer.render(e, protocol: .json, requestId: "r", queryCompatible: true, jsonVersion: "1.0")
        #expect(String(decoding: json.body, as: UTF8.self).hasPrefix("{\"__type\":\"AccessDeniedException\""))
        #expect(json.headers.contains { $0 == ("x-amzn-ErrorType", "AccessDeniedException") })
        #expect(json.headers.contains { $0 == ("x-amzn-query-error", "AccessDenied;Sender") })
        let rest = AWSErrorRenderer.render(e, protocol: .restJSON, requestId: "r", queryCompatible: false, jsonVersion: nil)
        #expect(rest.headers.contains { $0 == ("x-amzn-ErrorType", "AccessDeniedException") })
        let cbor = AWSErrorRenderer.render(e, protocol: .rpcV2CBOR, requestId: "r", queryCompatible: false, jsonVersion: nil)
        #expect(cbor.headers.contains { $0 == ("x-amzn-ErrorType", "AccessDeniedException") })
        for p in [AWSProtocol.query, .ec2, .restXML] {
            let r = AWSErrorRenderer.render(e, protocol: p, requestId: "r", queryCompatible: false, jsonVersion: nil)
            #expect(String(decoding: r.body, as: UTF8.self).contains("<Code>AccessDenied</Code>"), "\(p)")
        }
    }
}
