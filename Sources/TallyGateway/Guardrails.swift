/// Guardrails evaluated before a call is recorded and forwarded: deny rules by IAM action pattern.
public struct Guardrails: Sendable {
    /// One rule: deny any call needing an action matching `actionPattern` (`*` and `?` wildcards, case-insensitive).
    public struct DenyRule: Sendable, Hashable {
        public var actionPattern: String { didSet { loweredPattern = actionPattern.lowercased() } }
        public var reason: String?
        /// `actionPattern` lower-cased once (matching runs per request).
        private(set) var loweredPattern: String
        public init(actionPattern: String, reason: String? = nil) {
            self.actionPattern = actionPattern
            self.reason = reason
            self.loweredPattern = actionPattern.lowercased()
        }
    }

    public var denyRules: [DenyRule] = []

    /// Built-in rules checked before ``denyRules`` (config `"builtinDeny": false` empties them): actions that
    /// hand the agent a way into the upstream account that response masking cannot take back, because the agent
    /// chooses the secret itself (a console password, an SSH or signing key, an identity provider it controls).
    /// Review finding 3. They do not count as configured rules for the "unidentified operation" check.
    public var builtinRules: [DenyRule] = Guardrails.credentialEscapeRules

    /// The default ``builtinRules``.
    public static let credentialEscapeRules: [DenyRule] = [
        ("iam:CreateLoginProfile", "a console password chosen by the agent"),
        ("iam:UpdateLoginProfile", "a console password chosen by the agent"),
        ("iam:UploadSSHPublicKey", "an SSH key of the agent's for CodeCommit"),
        ("iam:UploadSigningCertificate", "a signing certificate of the agent's"),
        ("iam:CreateOpenIDConnectProvider", "an identity provider the agent could control"),
        ("iam:AddClientIDToOpenIDConnectProvider", "an identity provider the agent could control"),
        ("iam:UpdateOpenIDConnectProviderThumbprint", "an identity provider the agent could control"),
        ("iam:CreateSAMLProvider", "an identity provider the agent could control"),
        ("iam:UpdateSAMLProvider", "an identity provider the agent could control"),
        ("iot:CreateCertificateFromCsr", "a device certificate for a key of the agent's (exchangeable for AWS credentials)"),
        // Session 12 probe: the same capabilities by other doors.
        ("iot:RegisterCertificate", "a device certificate for a key of the agent's (exchangeable for AWS credentials)"),
        ("iot:RegisterCertificateWithoutCA", "a device certificate for a key of the agent's (exchangeable for AWS credentials)"),
        ("iot:RegisterCACertificate", "a certificate authority of the agent's (its device certificates are exchangeable for AWS credentials)"),
        ("rolesanywhere:CreateTrustAnchor", "a certificate authority of the agent's (IAM Roles Anywhere exchanges its certificates for AWS credentials)"),
        ("rolesanywhere:UpdateTrustAnchor", "a certificate authority of the agent's (IAM Roles Anywhere exchanges its certificates for AWS credentials)"),
        ("cognito-idp:AdminSetUserPassword", "a user-pool password chosen by the agent"),
        ("ec2:ImportKeyPair", "an SSH key of the agent's for instances"),
        ("lightsail:ImportKeyPair", "an SSH key of the agent's for instances"),
        ("ec2-instance-connect:SendSSHPublicKey", "an SSH key of the agent's on an instance"),
        ("ec2-instance-connect:SendSerialConsoleSSHPublicKey", "an SSH key of the agent's on an instance's serial console"),
    ].map { DenyRule(actionPattern: $0.0, reason: "built-in: \($0.1) gives access outside the gateway") }

    public init(denyRules: [DenyRule] = []) { self.denyRules = denyRules }

    /// The first rule (built-in, then configured) that denies one of `actions`, with the matching action.
    public func denial(for actions: [String]) -> (rule: DenyRule, action: String)? {
        guard !actions.isEmpty, !(builtinRules.isEmpty && denyRules.isEmpty) else { return nil }
        let lowered = actions.map { $0.lowercased() }
        func first(in rules: [DenyRule]) -> (rule: DenyRule, action: String)? {
            for rule in rules {
                for (i, action) in lowered.enumerated() where wildcardMatch(rule.loweredPattern, action) {
                    return (rule, actions[i])
                }
            }
            return nil
        }
        return first(in: builtinRules) ?? first(in: denyRules)
    }
}

/// IAM-style glob: `*` any run, `?` one character.
func wildcardMatch(_ pattern: String, _ text: String) -> Bool {
    var pattern = pattern, text = text  // native strings are contiguous: withUTF8 copies nothing
    return pattern.withUTF8 { p in text.withUTF8 { t in wildcardMatch(p, t) } }
}

private func wildcardMatch(_ p: UnsafeBufferPointer<UInt8>, _ t: UnsafeBufferPointer<UInt8>) -> Bool {
    var pi = 0, ti = 0, star = -1, mark = 0
    while ti < t.count {
        if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == t[ti]) {
            pi += 1; ti += 1
        } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
            star = pi; mark = ti; pi += 1
        } else if star >= 0 {
            pi = star + 1; mark += 1; ti = mark
        } else {
            return false
        }
    }
    while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
}
