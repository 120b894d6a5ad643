import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// AWS's published SigV4 test-suite examples (docs "Signature Version 4 test suite": AKIDEXAMPLE,
/// 20150830T123600Z, us-east-1, service "service") and the S3 API reference examples (AKIAIOSFODNN7EXAMPLE,
/// 20130524T000000Z, examplebucket).
@Suite struct SigV4KnownAnswerTests {
    static let suiteCred = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let s3Cred = AWSCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let suiteDate = utc("20150830T123600Z")
    static let s3Date = utc("20130524T000000Z")

    static func signature(of head: HTTPRequestHead) -> String {
        String(head.value(of: "authorization")!.split(separator: "=").last!)
    }

    /// Signs with our signer, checks the published signature, then verifies the signed request.
    func check(_ method: String, _ target: String, headers: [(name: String, value: String)], body: [UInt8] = [],
               expected: String, signedHeaders: String = "host;x-amz-date") throws {
        var head = HTTPRequestHead(method: method, target: target, headers: [("Host", "example.amazonaws.com")] + headers)
        let hash = Hex.encode(SHA256.hash(body))
        SigV4.sign(&head, credentials: Self.suiteCred, region: "us-east-1", service: "service", payloadHash: hash, date: Self.suiteDate)
        #expect(head.value(of: "authorization") == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=\(signedHeaders), Signature=\(expected)")
        let auth = try SigV4.parse(head)
        let v = try SigV4.verify(head, auth: auth, secretAccessKey: Self.suiteCred.secretAccessKey,
                                 payloadHash: auth.payloadHashForVerification(bodySHA256Hex: hash)!, now: Self.suiteDate)
        #expect(v.seedSignature == expected)
    }

    @Test func getVanilla() throws {
        try check("GET", "/", headers: [], expected: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func getVanillaQueryOrderKeyCase() throws {
        try check("GET", "/?Param2=value2&Param1=value1", headers: [],
                  expected: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test func postVanilla() throws {
        try check("POST", "/", headers: [], expected: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
    }

    @Test func postXWWWFormURLEncoded() throws {
        try check("POST", "/", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("Param1=value1".utf8),
                  expected: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
                  signedHeaders: "content-type;host;x-amz-date")
    }

    /// get-utf8: the suite's request line carries the raw UTF-8 path "/ሴ", canonical "/%E1%88%B4".
    @Test func getUTF8() throws {
        try check("GET", "/ሴ", headers: [], expected: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")
    }

    /// The same path percent-encoded on the wire is encoded again for non-S3 services (botocore 1.43.11 gives
    /// this signature for https://example.amazonaws.com/%E1%88%B4).
    @Test func nonS3PathIsDoubleEncoded() throws {
        #expect(SigV4.canonicalURI(path: "/%E1%88%B4", service: "service") == "/%25E1%2588%25B4")
        #expect(SigV4.canonicalURI(path: "/%E1%88%B4", service: "s3") == "/%E1%88%B4")
        try check("GET", "/%E1%88%B4", headers: [], expected: "697b34846207a3f72246f99d74ae1ee4fe54f44bb06730c58a0d339eb079596d")
    }

    @Test func pathNormalizationOnlyOutsideS3() {
        #expect(SigV4.canonicalURI(path: "/example/../x/./y//z/", service: "iam") == "/x/y/z/")
        #expect(SigV4.canonicalURI(path: "/example/../x/./y//z/", service: "s3") == "/example/../x/./y//z/")
        #expect(SigV4.canonicalURI(path: "", service: "sts") == "/")
        #expect(SigV4.canonicalURI(path: "/a b", service: "lambda") == "/a%20b")
    }

    /// The gateway refuses a non-S3 path that is not its own normal form (its signature covers the normal form).
    @Test func normalPaths() {
        for path in ["", "/", "/a", "/a/b/", "/2015-03-31/functions/f", "/a.b/..c/.d", "/%2E%2E/x"] {
            #expect(SigV4.isNormalPath(path), "\(path)")
        }
        for path in ["//", "/a//b", "/a/../b", "/a/./b", "/a/..", "/a/.", "/..", "/./", "/a/b//"] {
            #expect(!SigV4.isNormalPath(path), "\(path)")
        }
    }

    /// S3's rules follow the API, not only the signing name: the S3 on Outposts control plane (`/S3Outposts/...`)
    /// signs like any REST-JSON API.
    @Test func s3RulesForS3OnOutposts() throws {
        #expect(SigV4.usesS3Canonicalization(service: "s3-outposts", path: "/bucket/key"))
        #expect(!SigV4.usesS3Canonicalization(service: "s3-outposts", path: "/S3Outposts/ListEndpoints"))
        #expect(SigV4.usesS3Canonicalization(service: "s3", path: "/S3Outposts/ListEndpoints"))
        #expect(!SigV4.usesS3Canonicalization(service: "lambda", path: "/bucket/key"))
        #expect(SigV4.canonicalURI(path: "/S3Outposts/a//b", service: "s3-outposts") == "/S3Outposts/a/b")
        // botocore's s3outposts client sends no x-amz-content-sha256: parsed with the body-hash rules, not refused
        let head = HTTPRequestHead(method: "GET", path: "/S3Outposts/ListEndpoints", query: nil, headers: [
            ("Host", "s3-outposts.us-east-1.amazonaws.com"), ("X-Amz-Date", "20260101T000000Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3-outposts/aws4_request, "
             + "SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "0", count: 64)),
        ])
        let auth = try SigV4.parse(head)
        #expect(!auth.isS3 && auth.payloadHashForVerification(bodySHA256Hex: nil) == nil)
    }

    @Test func canonicalQueryAndHeaders() {
        #expect(SigV4.canonicalQuery("b=2&a=&A=1&a=%2f&c", excludeSignature: false) == "A=1&a=&a=%2F&b=2&c=")
        #expect(SigV4.canonicalQuery("x=a+b&y=%7E~&z=%20", excludeSignature: false) == "x=a%2Bb&y=~~&z=%20")
        #expect(SigV4.canonicalQuery("X-Amz-Signature=abc&k=v", excludeSignature: true) == "k=v")
        #expect(SigV4.trimAll("  a   b \t c  ") == "a b c")
        let head = HTTPRequestHead(method: "GET", path: "/", query: nil,
                                   headers: [("My-Header1", " a  b "), ("my-header1", "c"), ("Host", "h")])
        #expect(SigV4.canonicalHeaders(head, signedHeaders: ["host", "my-header1"]) == "host:h\nmy-header1:a b,c\n")
    }

    /// S3 API reference, "Example: GET Object" (Range: bytes=0-9).
    @Test func s3GetObjectRange() throws {
        var head = HTTPRequestHead(method: "GET", target: "/test.txt",
                                   headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")])
        SigV4.sign(&head, credentials: Self.s3Cred, region: "us-east-1", service: "s3", payloadHash: SigV4.emptySHA256, date: Self.s3Date)
        #expect(head.value(of: "authorization") == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let auth = try SigV4.parse(head)
        #expect(auth.payloadMode == .sha256(SigV4.emptySHA256))
        _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.s3Cred.secretAccessKey, payloadHash: SigV4.emptySHA256, now: Self.s3Date)
    }

    /// S3 API reference, "Example: PUT Object" (`test$file.text`, canonical URI `/test%24file.text`).
    @Test func s3PutObject() throws {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = Hex.encode(SHA256.hash(body))
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        var head = HTTPRequestHead(method: "PUT", target: "/test%24file.text",
                                   headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                                             ("x-amz-storage-class", "REDUCED_REDUNDANCY")])
        SigV4.sign(&head, credentials: Self.s3Cred, region: "us-east-1", service: "s3", payloadHash: hash, date: Self.s3Date)
        #expect(Self.signature(of: head) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    /// S3 API reference, "Example: GET Bucket Lifecycle" (`?lifecycle`).
    @Test func s3GetBucketLifecycle() throws {
        var head = HTTPRequestHead(method: "GET", target: "/?lifecycle", headers: [("Host", "examplebucket.s3.amazonaws.com")])
        SigV4.sign(&head, credentials: Self.s3Cred, region: "us-east-1", service: "s3", payloadHash: SigV4.emptySHA256, date: Self.s3Date)
        #expect(Self.signature(of: head) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    /// S3 API reference, "Example: Get Bucket (List Objects)" (`?max-keys=2&prefix=J`).
    @Test func s3ListObjects() throws {
        var head = HTTPRequestHead(method: "GET", target: "/?max-keys=2&prefix=J", headers: [("Host", "examplebucket.s3.amazonaws.com")])
        SigV4.sign(&head, credentials: Self.s3Cred, region: "us-east-1", service: "s3", payloadHash: SigV4.emptySHA256, date: Self.s3Date)
        #expect(Self.signature(of: head) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    /// S3 API reference, query-string authentication example (GET /test.txt, X-Amz-Expires=86400).
    @Test func s3PresignedURL() throws {
        var head = HTTPRequestHead(method: "GET", target: "/test.txt", headers: [("Host", "examplebucket.s3.amazonaws.com")])
        SigV4.presign(&head, credentials: Self.s3Cred, region: "us-east-1", service: "s3", expires: 86400, date: Self.s3Date)
        #expect(head.query?.hasSuffix("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == true)
        let auth = try SigV4.parse(head)
        #expect(auth.isPresigned && auth.expires == 86400 && auth.payloadMode == .unsigned)
        _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.s3Cred.secretAccessKey,
                             payloadHash: auth.payloadHashForVerification(bodySHA256Hex: nil)!, now: Self.s3Date.addingTimeInterval(86000))
        #expect(throws: AWSAuthError.self) {
            try SigV4.verify(head, auth: auth, secretAccessKey: Self.s3Cred.secretAccessKey,
                             payloadHash: "UNSIGNED-PAYLOAD", now: Self.s3Date.addingTimeInterval(86401))
        }
    }

    /// The Date header fallback (older SigV4 test-suite form): signing with X-Amz-Date and then presenting the same
    /// instant only as a signed Date header gives a different canonical request, but it must still parse and verify
    /// when the signature was made over it.
    @Test func dateHeaderFallback() throws {
        #expect(AmzDate.parseHTTPDate("Sun, 30 Aug 2015 12:36:00 GMT") == Self.suiteDate)
        #expect(AmzDate.parseHTTPDate("Sun, 30 Aug 2015 12:36 GMT") == nil)
        // The Date header Tally writes on its refusals reads back to the same second, weekdays included.
        #expect(AmzDate.formatHTTPDate(Self.suiteDate) == "Sun, 30 Aug 2015 12:36:00 GMT")
        #expect(AmzDate.formatHTTPDate(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(AmzDate.formatHTTPDate(Date(timeIntervalSince1970: 1_803_732_300.9)) == "Sat, 27 Feb 2027 12:45:00 GMT")
        for t in stride(from: 0.0, to: 4_000_000_000, by: 86_400 * 37 + 3_671) {
            let d = Date(timeIntervalSince1970: t)
            #expect(AmzDate.parseHTTPDate(AmzDate.formatHTTPDate(d)) == d)
        }
        var head = HTTPRequestHead(method: "GET", target: "/", headers: [("Host", "example.amazonaws.com"),
                                                                       ("Date", "Sun, 30 Aug 2015 12:36:00 GMT")])
        // sign by hand over date;host (the signer always adds X-Amz-Date)
        let canonical = SigV4.canonicalRequest(head, signedHeaders: ["date", "host"], payloadHash: SigV4.emptySHA256,
                                               service: "service", presigned: false)
        let key = SigV4.signingKey(secretAccessKey: Self.suiteCred.secretAccessKey, date: "20150830", region: "us-east-1", service: "service")
        let sig = SigV4.signature(signingKey: key, stringToSign: SigV4.stringToSign(amzDate: "20150830T123600Z",
                                  credentialScope: "20150830/us-east-1/service/aws4_request", canonicalRequest: canonical))
        head.headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                             + "SignedHeaders=date;host, Signature=\(sig)"))
        let auth = try SigV4.parse(head)
        #expect(auth.amzDate == "20150830T123600Z")
        _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.suiteCred.secretAccessKey, payloadHash: SigV4.emptySHA256, now: Self.suiteDate)
    }

    /// Non-S3 presigned URLs from boto3 1.43.11 at 20261126T143900Z (secret "presign/secret+1", session token
    /// "tok+en/1="): STS GetCallerIdentity (the EKS token form) and an RDS IAM auth token. Their canonical request
    /// uses the hash of the (empty) body, not UNSIGNED-PAYLOAD. (boto3 signs the STS URL with the operation's
    /// method, POST; `aws eks get-token` presigns GET instead.)
    @Test(arguments: [
        ("POST", "sts.amazonaws.com", "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            + "AKIAPRESIGN000000001%2F20261126%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20261126T143900Z&X-Amz-Expires=60&"
            + "X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Ben%2F1%3D&X-Amz-Signature="
            + "9ab76c781b51ece4a7e4060726e9db944dec70cbe8e693df9499f48a4214c772", "sts"),
        ("GET", "db.example.com:5432", "/?Action=connect&DBUser=app_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            + "AKIAPRESIGN000000001%2F20261126%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20261126T143900Z&X-Amz-Expires=900&"
            + "X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Ben%2F1%3D&X-Amz-Signature="
            + "2a0856d55d057230d3edfd25827d539c538d97eb5b58f8a643222a744ad79d66", "rds-db"),
    ])
    func nonS3PresignedFromBoto3(_ method: String, _ host: String, _ target: String, _ service: String) throws {
        let head = HTTPRequestHead(method: method, target: target, headers: [("Host", host)])
        let auth = try SigV4.parse(head)
        #expect(auth.isPresigned && auth.service == service && auth.securityToken == "tok+en/1=")
        let hash = try #require(auth.payloadHashForVerification(bodySHA256Hex: SigV4.emptySHA256))
        #expect(hash == SigV4.emptySHA256)
        let now = utc("20261126T143930Z")
        _ = try SigV4.verify(head, auth: auth, secretAccessKey: "presign/secret+1", payloadHash: hash, now: now)
        #expect(throws: AWSAuthError.self) {
            try SigV4.verify(head, auth: auth, secretAccessKey: "presign/secret+2", payloadHash: hash, now: now)
        }
    }

    @Test func amzDateRoundTrip() {
        for s in ["20150830T123600Z", "20000229T000000Z", "19700101T000000Z", "20261126T235959Z", "00010101T000000Z", "99991231T235959Z", "19691231T235959Z"] {
            #expect(AmzDate.format(AmzDate.parse(s)!) == s)
        }
        #expect(AmzDate.parse("20150830T123600Z")!.timeIntervalSince1970 == 1_440_938_160)
        #expect(AmzDate.parse("2015-08-30T12:36:00Z") == nil)
        // days the month does not have are malformed, not rolled over (session 13 probe)
        for s in ["20261131T000000Z", "20260230T000000Z", "21000229T000000Z", "20260431T120000Z"] { #expect(AmzDate.parse(s) == nil, "\(s)") }
        #expect(AmzDate.parse("20240229T000000Z") != nil)
    }
}
