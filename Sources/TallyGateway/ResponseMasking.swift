/// Response masking (the DESIGN's "mask the response" step; review findings 3 and 14): the agent never receives a
/// usable upstream secret. Responses of credential-minting operations (IAM CreateAccessKey, STS GetSessionToken /
/// AssumeRole* / GetFederationToken, ...) and every upstream error body are buffered (small; capped), the secret
/// fields are replaced by ``placeholder`` and the rest is passed on unchanged, so the call still succeeds and
/// parses in the client. Every other response streams untouched.
struct ResponseMasking: Sendable {
    /// The value a masked field gets: parses as the string it replaces.
    static let placeholder = "TALLY-MASKED"

    /// The value of masked fields that clients base64-decode (blobs, and tokens they decode): valid base64 of
    /// ``placeholder``, so the call still parses (`TALLY-MASKED` itself made botocore fail with "Incorrect padding":
    /// `aws iam create-virtual-mfa-device`, `aws ecr get-login-password`; session 12 probe).
    static let placeholderForField: [String: String] = [
        "Base32StringSeed": "VEFMTFktTUFTS0VE",  // base64("TALLY-MASKED")
        "QRCodePNG": "VEFMTFktTUFTS0VE",
        "privateKeyBase64": "VEFMTFktTUFTS0VE",
        "authorizationToken": "QVdTOlRBTExZLU1BU0tFRA==",  // base64("AWS:TALLY-MASKED"): ECR's user:password shape
    ]

    /// The replacement for the value of `field`.
    static func placeholder(for field: String) -> [UInt8] { Array((placeholderForField[field] ?? placeholder).utf8) }

    /// Largest response body buffered for masking. A larger body that must be masked is withheld (fail closed).
    static let maxBody = 1 << 20

    /// Largest successful answer of an operation not known to hand out a credential that is buffered for the
    /// safety net (``credentialShapeFields`` and the gateway's own secret); larger ones stream untouched.
    static let safetyNetLimit = 64 << 10

    /// Operations (`service:Operation`, the signing name) whose successful responses carry a credential of the
    /// upstream account, with the fields that hold its secret parts. XML elements and JSON keys alike.
    static let credentialOperations: [String: [String]] = {
        let sts = ["SecretAccessKey", "SessionToken"]
        return [
            "iam:CreateAccessKey": ["SecretAccessKey"],
            "iam:CreateServiceSpecificCredential": ["ServicePassword", "ServiceCredentialSecret"],
            "iam:ResetServiceSpecificCredential": ["ServicePassword", "ServiceCredentialSecret"],
            "iam:CreateVirtualMFADevice": ["Base32StringSeed", "QRCodePNG"],
            "sts:GetSessionToken": sts, "sts:AssumeRole": sts, "sts:AssumeRoleWithSAML": sts,
            "sts:AssumeRoleWithWebIdentity": sts, "sts:AssumeRoot": sts, "sts:GetFederationToken": sts,
            "cognito-identity:GetCredentialsForIdentity": ["SecretKey", "SessionToken"],
            "lightsail:CreateBucketAccessKey": ["secretAccessKey"],
            "ecr:GetAuthorizationToken": ["authorizationToken"],
            "ecr-public:GetAuthorizationToken": ["authorizationToken"],
            "codeartifact:GetAuthorizationToken": ["authorizationToken"],
            "gamelift:GetComputeAccess": sts,
            "ssm:StartSession": ["TokenValue"],
            "iot:CreateKeysAndCertificate": ["PrivateKey"],
            // Session 12 probe: more operations that hand out a credential of the upstream account, or a key or token
            // that works outside the gateway (names are signing names; fields as in botocore's output shapes).
            "lakeformation:GetTemporaryGlueTableCredentials": sts,
            "lakeformation:GetTemporaryGluePartitionCredentials": sts,
            "lakeformation:GetTemporaryDataLocationCredentials": sts,
            "ssm:GetAccessToken": sts,
            "sts:GetDelegatedAccessToken": sts,
            "sts:GetWebIdentityToken": ["WebIdentityToken"],
            "gamelift:RequestUploadCredentials": sts,
            "gamelift:GetComputeAuthToken": ["AuthToken"],
            "gamelift:GetInstanceAccess": ["Secret"],
            "datazone:GetEnvironmentCredentials": ["secretAccessKey", "sessionToken"],
            "finspace-api:GetProgrammaticAccessCredentials": ["secretAccessKey", "sessionToken"],
            "awsssoportal:GetRoleCredentials": ["secretAccessKey", "sessionToken"],
            // An OpenID token of the identity pool: exchangeable for credentials with an unsigned GetCredentialsForIdentity.
            "cognito-identity:GetOpenIdTokenForDeveloperIdentity": ["Token"],
            "cognito-identity:GetOpenIdToken": ["Token"],
            // Private keys of key pairs AWS generates: an SSH login to instances (and their role) outside the gateway.
            "ec2:CreateKeyPair": ["keyMaterial"],
            "lightsail:CreateKeyPair": ["privateKeyBase64"],
            "lightsail:DownloadDefaultKeyPair": ["privateKeyBase64"],
            "lightsail:CreateContainerServiceRegistryLogin": ["password"],
            "iot:CreateProvisioningClaim": ["PrivateKey"],
            "elasticmapreduce:GetClusterSessionCredentials": ["Password"],
            "connect:GetFederationToken": ["AccessToken", "RefreshToken"],
            "grafana:CreateWorkspaceApiKey": ["key"],
            "grafana:CreateWorkspaceServiceAccountToken": ["key"],
            "airflow:CreateCliToken": ["CliToken"],
            "airflow:CreateWebLoginToken": ["WebToken"],
            // S3 Express directory buckets: a session key pair for the bucket (review, session 9).
            "s3:CreateSession": ["SecretAccessKey", "SessionToken"],
            // Database credentials minted from the upstream identity: usable outside the gateway.
            "redshift:GetClusterCredentials": ["DbPassword"],
            "redshift:GetClusterCredentialsWithIAM": ["DbPassword"],
            "redshift-serverless:GetCredentials": ["dbPassword"],
            "lightsail:GetInstanceAccessDetails": ["password", "privateKey"],
            "lightsail:GetRelationalDatabaseMasterUserPassword": ["masterUserPassword"],
        ]
    }()

    /// Fields masked in every upstream error body (status ≥ 300): echoed upstream credentials (S3's
    /// `SignatureDoesNotMatch` carries the upstream `AWSAccessKeyId` and the canonical request, which holds the
    /// upstream `x-amz-security-token`; `InvalidToken` / `ExpiredToken` echo `Token-0`).
    static let errorFields = ["SecretAccessKey", "SessionToken", "Token-0", "AWSAccessKeyId", "CanonicalRequest",
                              "CanonicalRequestBytes", "SecurityToken"]

    /// Fields masked in every other successful non-S3 answer that is buffered (``GatewayHandler/maskPlan``): the
    /// parts of an AWS credential under their usual names, for an operation that hands one out but is missing from
    /// ``credentialOperations``.
    static let credentialShapeFields = ["SecretAccessKey", "secretAccessKey", "SessionToken", "sessionToken"]

    /// ``credentialOperations`` by service, then operation (no string building per request).
    private static let byService: [String: [String: [String]]] = {
        var out: [String: [String: [String]]] = [:]
        for (key, fields) in credentialOperations {
            let parts = key.split(separator: ":", maxSplits: 1).map(String.init)
            out[parts[0], default: [:]][parts[1]] = fields
        }
        return out
    }()

    /// Every field name of ``credentialOperations`` and ``errorFields`` (for answers of unidentified operations).
    static let allSecretFields: [String] = {
        var all: [String] = []
        for fields in credentialOperations.values.sorted(by: { $0.description < $1.description }) + [errorFields] {
            for f in fields where !all.contains(f) { all.append(f) }
        }
        return all
    }()

    /// The secret fields of a successful response of `service:operation`, or nil when it carries no credential.
    static func credentialFields(service: String?, operation: String?) -> [String]? {
        guard let service, let operation, let ops = byService[service] else { return nil }
        return ops[operation]
    }

    /// The outcome of masking one body.
    struct Result: Sendable, Equatable {
        var body: [UInt8]
        /// Names of the fields (or literals) replaced, in first-seen order, without repeats. Never values.
        var masked: [String]
    }

    /// Masks `fields` (XML elements or JSON string members, whichever the body is) and every literal occurrence
    /// of `literals` (named by their key, e.g. the upstream secret itself, also in its JSON-escaped form).
    static func mask(_ body: [UInt8], fields: [String], literals: [(name: String, value: String)] = []) -> Result {
        var out = body
        var masked: [String] = []
        func note(_ name: String) { if !masked.contains(name) { masked.append(name) } }
        let first = out.first(where: { !isSpace($0) })
        switch first {
        case UInt8(ascii: "<"): for f in maskXML(&out, fields: Set(fields)) { note(f) }
        case UInt8(ascii: "{"), UInt8(ascii: "["): for f in maskJSON(&out, fields: Set(fields)) { note(f) }
        default: break
        }
        // In JSON and XML the literal becomes the placeholder; in any other body (CBOR, binary) a placeholder of the
        // same length, so that length prefixes around it still hold (a shorter one corrupted a CBOR answer; session 12
        // review).
        let text = first.map { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "[") } ?? true
        for literal in literals where literal.value.utf8.count >= 8 {
            let forms = Set([literal.value, literal.value.replacingSlashes()])
            for form in forms {
                let needle = Array(form.utf8)
                let replacement = text ? Array(placeholder.utf8) : sameLengthPlaceholder(needle.count)
                if replaceAll(&out, needle, with: replacement) { note(literal.name) }
            }
        }
        return Result(body: out, masked: masked)
    }

    /// `TALLY-MASKED` cut or padded with `-` to `count` bytes.
    static func sameLengthPlaceholder(_ count: Int) -> [UInt8] {
        let p = Array(placeholder.utf8)
        return count <= p.count ? Array(p.prefix(count)) : p + [UInt8](repeating: UInt8(ascii: "-"), count: count - p.count)
    }

    // MARK: XML

    /// Replaces the text of every element named in `fields` (`<Name>…</Name>`, attributes allowed).
    private static func maskXML(_ body: inout [UInt8], fields: Set<String>) -> [String] {
        var found: [String] = []
        var i = 0
        let lt = UInt8(ascii: "<"), gt = UInt8(ascii: ">")
        while i < body.count {
            guard body[i] == lt else { i += 1; continue }
            // the tag name
            var j = i + 1
            while j < body.count, isNameByte(body[j]) { j += 1 }
            guard j > i + 1, j < body.count else { i += 1; continue }
            let name = String(decoding: body[(i + 1)..<j], as: UTF8.self)
            let local = name.split(separator: ":").last.map(String.init) ?? name  // `<p:Name>` matches Name
            guard fields.contains(local) else { i = j; continue }
            guard let close = body[j...].firstIndex(of: gt) else { break }
            if body[close - 1] == UInt8(ascii: "/") { i = close + 1; continue }  // <Name/>: nothing to mask
            let contentStart = close + 1
            let endTag = Array("</\(name)>".utf8)
            let replacement = placeholder(for: local)
            guard let end = find(endTag, in: body, from: contentStart) else {
                // no end tag: mask to the end rather than pass a secret on
                body.replaceSubrange(contentStart..<body.count, with: replacement)
                found.append(local)
                break
            }
            body.replaceSubrange(contentStart..<end, with: replacement)
            found.append(local)
            i = contentStart + replacement.count + endTag.count
        }
        return found
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F
            || b == 0x2E || b == 0x3A
    }

    // MARK: JSON

    /// Replaces the string value of every object member whose key is in `fields` (a tokenizer: strings inside
    /// other strings are never mistaken for keys). A non-string value under such a key is left alone.
    private static func maskJSON(_ body: inout [UInt8], fields: Set<String>) -> [String] {
        var found: [String] = []
        var i = 0
        let quote = UInt8(ascii: "\""), colon = UInt8(ascii: ":")
        while i < body.count {
            guard body[i] == quote else { i += 1; continue }
            guard let keyEnd = stringEnd(body, from: i) else { break }
            var j = keyEnd + 1
            while j < body.count, isSpace(body[j]) { j += 1 }
            guard j < body.count, body[j] == colon else { i = keyEnd + 1; continue }  // a value, not a key
            let key = String(decoding: body[(i + 1)..<keyEnd], as: UTF8.self)
            j += 1
            while j < body.count, isSpace(body[j]) { j += 1 }
            guard fields.contains(key), j < body.count, body[j] == quote else { i = j; continue }
            let replacement = placeholder(for: key)
            guard let valueEnd = stringEnd(body, from: j) else {
                body.replaceSubrange((j + 1)..<body.count, with: replacement + [quote])
                found.append(key)
                break
            }
            body.replaceSubrange((j + 1)..<valueEnd, with: replacement)
            found.append(key)
            i = j + 1 + replacement.count + 1
        }
        return found
    }

    /// The index of the closing quote of the JSON string opening at `start`.
    private static func stringEnd(_ body: [UInt8], from start: Int) -> Int? {
        var k = start + 1
        while k < body.count {
            switch body[k] {
            case UInt8(ascii: "\\"): k += 2
            case UInt8(ascii: "\""): return k
            default: k += 1
            }
        }
        return nil
    }

    // MARK: bytes

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        let first = needle[0]
        var i = from
        while i <= hay.count - needle.count {
            if hay[i] == first, hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Replaces every occurrence of `needle`; true when there was one.
    private static func replaceAll(_ hay: inout [UInt8], _ needle: [UInt8], with replacement: [UInt8]) -> Bool {
        var any = false
        var from = 0
        while let at = find(needle, in: hay, from: from) {
            hay.replaceSubrange(at..<(at + needle.count), with: replacement)
            from = at + replacement.count
            any = true
        }
        return any
    }
}

private extension String {
    /// The JSON-escaped form of `/` (`\/`), which a JSON encoder may use.
    func replacingSlashes() -> String {
        var s = ""
        for c in self { if c == "/" { s += "\\/" } else { s.append(c) } }
        return s
    }
}
