import Foundation
import Testing
@testable import TallyGateway
import TallyCore

/// Built-in deny rules for credential escapes masking cannot take back (review finding 3).
@Suite struct BuiltinGuardrailTests {
    @Test func builtinRulesDenyAgentChosenSecretsAndCanBeTurnedOff() throws {
        let g = Guardrails()
        #expect(g.denyRules.isEmpty)  // no configured rules: the unidentified-operation check is unchanged
        for action in ["iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:UploadSSHPublicKey", "IAM:createsamlprovider",
                       "iam:CreateOpenIDConnectProvider"] {
            #expect(g.denial(for: [action])?.rule.reason?.hasPrefix("built-in") == true, "\(action)")
        }
        #expect(g.denial(for: ["iam:CreateAccessKey", "sts:AssumeRole", "iam:CreateUser"]) == nil)  // masked, not denied
        // session 12 probe: the same capabilities by other doors
        for action in ["iot:RegisterCertificate", "iot:RegisterCertificateWithoutCA", "iot:RegisterCACertificate",
                       "rolesanywhere:CreateTrustAnchor", "rolesanywhere:UpdateTrustAnchor", "cognito-idp:AdminSetUserPassword",
                       "ec2:ImportKeyPair", "lightsail:ImportKeyPair"] {
            #expect(g.denial(for: [action])?.rule.reason?.hasPrefix("built-in") == true, "\(action)")
        }
        #expect(g.denial(for: ["ec2:CreateKeyPair", "iot:DescribeCertificate", "rolesanywhere:ListTrustAnchors"]) == nil)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-builtin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("c.json").path
        try Data(#"{"builtinDeny": false, "deny": [{"action": "s3:Delete*"}]}"#.utf8).write(to: URL(fileURLWithPath: file))
        var c = GatewayConfiguration(home: "/tmp/h", host: "127.0.0.1", port: 1, upstream: try UpstreamEndpoint.parse("http://127.0.0.1:1"))
        #expect(c.guardrails.denial(for: ["iam:CreateLoginProfile"]) != nil)
        try c.apply(configFile: file)
        #expect(c.guardrails.denial(for: ["iam:CreateLoginProfile"]) == nil)
        #expect(c.guardrails.denial(for: ["s3:DeleteBucket"])?.rule.actionPattern == "s3:Delete*")
        try Data(#"{"builtinDeny": "no"}"#.utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: TallyError.self) { try c.apply(configFile: file) }
    }

    @Test func mfaSeedsAreMasked() {
        #expect(ResponseMasking.credentialFields(service: "iam", operation: "CreateVirtualMFADevice") == ["Base32StringSeed", "QRCodePNG"])
    }
}
