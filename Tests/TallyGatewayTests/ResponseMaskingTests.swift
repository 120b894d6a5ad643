import Foundation
import NIOHTTP1
import Testing
@testable import TallyGateway
import TallyAWS
import TallyCore

/// Response masking (review findings 3 and 14): secrets are replaced, everything else is kept byte for byte.
@Suite struct ResponseMaskingTests {
    static let secret = "5CevMoSQYTZKta8EdgA5uD7Tj2gvxHcc+N0vt4aS"

    /// The IAM CreateAccessKey answer of the shared wire capture 04.
    @Test func iamCreateAccessKeyXML() throws {
        let xml = """
            <CreateAccessKeyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateAccessKeyResult><AccessKey>\
            <UserName>agent1</UserName><AccessKeyId>AKIARZPUZDIKN7GGJNZV</AccessKeyId><Status>Active</Status>\
            <SecretAccessKey>\(Self.secret)</SecretAccessKey><CreateDate>2026-11-26T14:39:04.720228Z</CreateDate>\
            </AccessKey></CreateAccessKeyResult><ResponseMetadata><RequestId>4GKh</RequestId></ResponseMetadata>\
            </CreateAccessKeyResponse>
            """
        let fields = try #require(ResponseMasking.credentialFields(service: "iam", operation: "CreateAccessKey"))
        let r = ResponseMasking.mask(Array(xml.utf8), fields: fields)
        let text = String(decoding: r.body, as: UTF8.self)
        #expect(r.masked == ["SecretAccessKey"])
        #expect(!text.contains(Self.secret))
        #expect(text == xml.replacingOccurrences(of: Self.secret, with: ResponseMasking.placeholder))
    }

    @Test func stsCredentialsXMLAndJSON() throws {
        let fields = try #require(ResponseMasking.credentialFields(service: "sts", operation: "AssumeRole"))
        for op in ["GetSessionToken", "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetFederationToken", "AssumeRoot"] {
            #expect(ResponseMasking.credentialFields(service: "sts", operation: op) == ["SecretAccessKey", "SessionToken"], "\(op)")
        }
        #expect(ResponseMasking.credentialFields(service: "sts", operation: "GetCallerIdentity") == nil)
        #expect(ResponseMasking.credentialFields(service: "iam", operation: nil) == nil)
        let xml = """
            <AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>
              <SecretAccessKey>s3cr3t/+abcdefgh</SecretAccessKey>
              <SessionToken>FwoGZXIvYXdzEJr//////////wEaDN</SessionToken><Expiration>2026-11-26T20:00:00Z</Expiration>
            </Credentials></AssumeRoleResult></AssumeRoleResponse>
            """
        let x = ResponseMasking.mask(Array(xml.utf8), fields: fields)
        let xt = String(decoding: x.body, as: UTF8.self)
        #expect(x.masked == ["SecretAccessKey", "SessionToken"])
        #expect(!xt.contains("s3cr3t") && !xt.contains("FwoGZXIvYXdz") && xt.contains("<AccessKeyId>ASIAX</AccessKeyId>"))
        // JSON (awsJson / query-compatible answers): the keys are matched, values inside other strings are not
        let json = #"{"Credentials": {"AccessKeyId":"ASIAX","SecretAccessKey" : "s3cr3t\/+\"q\"x","SessionToken":"tok\u0065n-abc"},"#
            + #" "Note":"\"SecretAccessKey\":\"not-a-member\"", "Expiration": 1.7e9}"#
        let j = ResponseMasking.mask(Array(json.utf8), fields: fields)
        let jt = String(decoding: j.body, as: UTF8.self)
        #expect(j.masked == ["SecretAccessKey", "SessionToken"])
        #expect(jt == #"{"Credentials": {"AccessKeyId":"ASIAX","SecretAccessKey" : "TALLY-MASKED","SessionToken":"TALLY-MASKED"},"#
            + #" "Note":"\"SecretAccessKey\":\"not-a-member\"", "Expiration": 1.7e9}"#)
        let parsed = try JSONValue(parsing: j.body)
        #expect(parsed["Credentials"]?["SecretAccessKey"]?.stringValue == ResponseMasking.placeholder)
    }

    /// Real S3 error bodies echo the upstream access key id and the canonical request (which holds the upstream
    /// session token); `InvalidToken` echoes `Token-0`.
    @Test func errorBodiesAndLiterals() {
        let token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ"
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>\
            <AWSAccessKeyId>AKIAUPSTREAM0000001</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256</StringToSign>\
            <CanonicalRequest>GET
            /b/k

            host:s3.amazonaws.com
            x-amz-security-token:\(token)
            </CanonicalRequest><CanonicalRequestBytes>47 45 54</CanonicalRequestBytes><Token-0>\(token)</Token-0>\
            <RequestId>R</RequestId></Error>
            """
        let r = ResponseMasking.mask(Array(xml.utf8), fields: ResponseMasking.errorFields,
                                     literals: [(name: "upstream-session-token", value: token)])
        let t = String(decoding: r.body, as: UTF8.self)
        #expect(!t.contains(token) && !t.contains("AKIAUPSTREAM0000001"))
        #expect(t.contains("<Code>SignatureDoesNotMatch</Code>") && t.contains("<StringToSign>AWS4-HMAC-SHA256</StringToSign>"))
        #expect(Set(r.masked) == ["AWSAccessKeyId", "CanonicalRequest", "CanonicalRequestBytes", "Token-0"])
        // A literal upstream secret anywhere in a buffered body, also JSON-escaped (`\/`).
        let secret = "abc/def+ghijklmnop"
        let body = #"{"message":"key abc\/def+ghijklmnop and abc/def+ghijklmnop"}"#
        let l = ResponseMasking.mask(Array(body.utf8), fields: [], literals: [(name: "upstream-secret", value: secret)])
        #expect(String(decoding: l.body, as: UTF8.self) == #"{"message":"key TALLY-MASKED and TALLY-MASKED"}"#)
        #expect(l.masked == ["upstream-secret"])
    }

    /// S3 Express CreateSession hands out a session key pair (review, session 9: it reached the agent unmasked).
    @Test func s3CreateSessionIsMasked() throws {
        let fields = try #require(ResponseMasking.credentialFields(service: "s3", operation: "CreateSession"))
        let xml = """
            <CreateSessionResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Credentials>            <SessionToken>S3EXPRESS-TOKEN-abc</SessionToken><SecretAccessKey>S3EXPRESS-SECRET-KEY</SecretAccessKey>            <AccessKeyId>ASIAEXPRESS</AccessKeyId><Expiration>2026-11-27T14:00:00Z</Expiration></Credentials></CreateSessionResult>
            """
        let r = ResponseMasking.mask(Array(xml.utf8), fields: fields)
        let text = String(decoding: r.body, as: UTF8.self)
        #expect(Set(r.masked) == ["SecretAccessKey", "SessionToken"])
        #expect(!text.contains("S3EXPRESS-SECRET-KEY") && !text.contains("S3EXPRESS-TOKEN-abc") && text.contains("ASIAEXPRESS"))
        #expect(ResponseMasking.credentialFields(service: "redshift", operation: "GetClusterCredentials") == ["DbPassword"])
    }

    /// Small answers of unidentified operations are masked for every known secret field.
    @Test func allSecretFieldsCoverEveryTableEntry() {
        let all = Set(ResponseMasking.allSecretFields)
        for fields in ResponseMasking.credentialOperations.values { #expect(all.isSuperset(of: fields)) }
        #expect(all.isSuperset(of: ResponseMasking.errorFields))
        #expect(ResponseMasking.allSecretFields.count == all.count)
        let json = #"{"Credentials":{"SecretKey":"abc","authorizationToken":"tok"}}"#
        #expect(ResponseMasking.mask(Array(json.utf8), fields: ResponseMasking.allSecretFields).masked == ["SecretKey", "authorizationToken"])
    }

    @Test func unknownShapesAreLeftAloneAndReportNothing() {
        let gz: [UInt8] = [0x1f, 0x8b, 0x08, 0x00] + Array("SecretAccessKey".utf8)
        #expect(ResponseMasking.mask(gz, fields: ["SecretAccessKey"]).masked.isEmpty)
        let selfClosing = "<R><SessionToken/><SecretAccessKey>x</SecretAccessKey></R>"
        let r = ResponseMasking.mask(Array(selfClosing.utf8), fields: ["SessionToken", "SecretAccessKey"])
        #expect(String(decoding: r.body, as: UTF8.self) == "<R><SessionToken/><SecretAccessKey>TALLY-MASKED</SecretAccessKey></R>")
        // An unterminated element is masked to the end rather than passed on.
        let cut = ResponseMasking.mask(Array("<R><SecretAccessKey>abcdef".utf8), fields: ["SecretAccessKey"])
        #expect(String(decoding: cut.body, as: UTF8.self) == "<R><SecretAccessKey>TALLY-MASKED")
    }

    @Test func maskingIsConfigurableAndOnByDefault() throws {
        var c = GatewayConfiguration(home: "/tmp/h", host: "127.0.0.1", port: 1, upstream: try UpstreamEndpoint.parse("http://127.0.0.1:1"))
        #expect(c.maskResponses)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-mask-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let off = dir.appendingPathComponent("off.json").path
        try Data(#"{"maskResponses": false}"#.utf8).write(to: URL(fileURLWithPath: off))
        try c.apply(configFile: off)
        #expect(!c.maskResponses)
        let bad = dir.appendingPathComponent("bad.json").path
        try Data(#"{"maskResponses": "yes"}"#.utf8).write(to: URL(fileURLWithPath: bad))
        #expect(throws: TallyError.self) { try c.apply(configFile: bad) }
    }

    @Test func proxyHeadersAreNeverForwarded() {
        for n in ["x-forwarded-for", "x-forwarded-host", "forwarded", "via", "x-real-ip"] { #expect(GatewayHandler.isProxyHeader(n), "\(n)") }
        #expect(!GatewayHandler.isProxyHeader("x-amz-target"))
        for n in ["authorization", "x-amz-security-token", "connection", "transfer-encoding", "content-length"] {
            #expect(GatewayHandler.droppedRequestHeaders.contains(n), "\(n)")
        }
    }

    /// Which responses are buffered and masked: credential-minting successes (must find a field), every error
    /// body, small answers of unidentified operations; never HEAD, 304, or anything with masking off.
    @Test func whichResponsesAreMasked() {
        func op(_ service: String, _ operation: String?) -> IdentifiedOperation {
            IdentifiedOperation(service: service, signingName: service, operation: operation, protocol: .query,
                                parameters: [:], region: "us-east-1")
        }
        let plan = { (enabled: Bool, ident: IdentifiedOperation?, method: String, status: Int, headers: HTTPHeaders) in
            GatewayHandler.maskPlan(enabled: enabled, ident: ident, method: method, status: status, headers: headers)
        }
        let key = plan(true, op("iam", "CreateAccessKey"), "POST", 200, [:])
        #expect(key?.requiresMask == true && key?.fields.first == "SecretAccessKey")
        #expect(plan(true, op("iam", "CreateAccessKey"), "POST", 403, [:])?.requiresMask == false)
        #expect(plan(true, op("s3", "GetObject"), "GET", 404, [:])?.fields == ResponseMasking.errorFields)
        #expect(plan(true, op("s3", "GetObject"), "GET", 200, ["content-length": "10"]) == nil)  // streams
        #expect(plan(true, op("s3", "HeadObject"), "HEAD", 403, [:]) == nil)
        #expect(plan(true, op("s3", "GetObject"), "GET", 304, [:]) == nil)
        #expect(plan(false, op("iam", "CreateAccessKey"), "POST", 200, [:]) == nil)
        #expect(plan(false, op("s3", "GetObject"), "GET", 500, [:]) == nil)
        let unknown = op("newsvc", nil)
        #expect(plan(true, unknown, "POST", 200, ["content-length": "512"])?.fields == ResponseMasking.allSecretFields)
        #expect(plan(true, unknown, "POST", 200, ["content-length": String(ResponseMasking.maxBody + 1)]) == nil)
        #expect(plan(true, unknown, "POST", 200, [:]) == nil)  // unknown length: streams
        // Session 12: every other identified non-S3 success of known length up to maxBody is buffered for the usual
        // credential fields and the gateway's own secret; S3 bodies and answers of unknown length stream.
        let other = plan(true, op("secretsmanager", "GetSecretValue"), "POST", 200, ["content-length": "300"])
        #expect(other?.fields == ResponseMasking.credentialShapeFields && other?.requiresMask == false)
        #expect(plan(true, op("dynamodb", "GetItem"), "POST", 200, ["content-length": String(ResponseMasking.safetyNetLimit)]) != nil)
        #expect(plan(true, op("dynamodb", "GetItem"), "POST", 200, ["content-length": String(ResponseMasking.safetyNetLimit + 1)]) == nil)
        #expect(plan(true, op("dynamodb", "GetItem"), "POST", 200, [:]) == nil)
        for s3 in ["s3", "s3express", "s3-object-lambda", "s3-outposts"] {
            #expect(plan(true, op(s3, "GetObject"), "GET", 200, ["content-length": "10"]) == nil, "\(s3)")
        }
    }

    /// Session 12 probe: fields that clients base64-decode get valid base64 (the CLI failed with "Incorrect padding"),
    /// and more operations that hand out a credential are masked.
    @Test func decodedFieldsGetBase64AndMoreOperationsAreMasked() throws {
        let mfa = "<R><VirtualMFADevice><Base32StringSeed>SEEDSEEDSEED</Base32StringSeed><QRCodePNG>iVBORw0KGgo=</QRCodePNG></VirtualMFADevice></R>"
        let fields = try #require(ResponseMasking.credentialFields(service: "iam", operation: "CreateVirtualMFADevice"))
        let text = String(decoding: ResponseMasking.mask(Array(mfa.utf8), fields: fields).body, as: UTF8.self)
        #expect(text == "<R><VirtualMFADevice><Base32StringSeed>VEFMTFktTUFTS0VE</Base32StringSeed><QRCodePNG>VEFMTFktTUFTS0VE</QRCodePNG></VirtualMFADevice></R>")
        #expect(Data(base64Encoded: "VEFMTFktTUFTS0VE") == Data(ResponseMasking.placeholder.utf8))
        let ecr = #"{"authorizationData":[{"authorizationToken":"QVdTOnNlY3JldA==","proxyEndpoint":"https://x"}]}"#
        let masked = ResponseMasking.mask(Array(ecr.utf8), fields: ["authorizationToken"]).body
        #expect(String(decoding: masked, as: UTF8.self).contains(#""authorizationToken":"QVdTOlRBTExZLU1BU0tFRA==""#))
        #expect(Data(base64Encoded: "QVdTOlRBTExZLU1BU0tFRA==") == Data("AWS:TALLY-MASKED".utf8))
        for (service, operation) in [("lakeformation", "GetTemporaryGlueTableCredentials"), ("ssm", "GetAccessToken"),
                                     ("gamelift", "RequestUploadCredentials"), ("sts", "GetDelegatedAccessToken")] {
            #expect(ResponseMasking.credentialFields(service: service, operation: operation) == ["SecretAccessKey", "SessionToken"])
        }
        #expect(ResponseMasking.credentialFields(service: "datazone", operation: "GetEnvironmentCredentials") == ["secretAccessKey", "sessionToken"])
        #expect(ResponseMasking.credentialFields(service: "ec2", operation: "CreateKeyPair") == ["keyMaterial"])
        #expect(ResponseMasking.credentialFields(service: "cognito-identity", operation: "GetOpenIdTokenForDeveloperIdentity") == ["Token"])
        // In a CBOR (binary) body a literal secret is replaced by a placeholder of its own length: prefixes still hold.
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        let cbor: [UInt8] = [0xA1, 0x66] + Array("secret".utf8) + [0x78, UInt8(secret.utf8.count)] + Array(secret.utf8)
        let maskedCBOR = ResponseMasking.mask(cbor, fields: [], literals: [(name: "upstream-secret", value: secret)])
        #expect(maskedCBOR.masked == ["upstream-secret"] && maskedCBOR.body.count == cbor.count)
        #expect(String(decoding: maskedCBOR.body.suffix(secret.utf8.count), as: UTF8.self) == "TALLY-MASKED----------------------------")
        let ssm = #"{"Credentials":{"AccessKeyId":"ASIA1","SecretAccessKey":"s3cr3t","SessionToken":"t0k","ExpirationTime":1}}"#
        let r = ResponseMasking.mask(Array(ssm.utf8), fields: ResponseMasking.credentialShapeFields)
        #expect(r.masked == ["SecretAccessKey", "SessionToken"] && !String(decoding: r.body, as: UTF8.self).contains("s3cr3t"))
    }
}
