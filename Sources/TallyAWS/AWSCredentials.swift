/// An AWS credential: access key id, secret access key and, for temporary credentials, a session token.
public struct AWSCredentials: Sendable, Hashable {
    /// The access key id (`AKIA...` or `ASIA...`).
    public var accessKeyId: String
    /// The secret access key. Never log or record it.
    public var secretAccessKey: String
    /// The session token of a temporary credential (sent as `X-Amz-Security-Token`), if any.
    public var sessionToken: String?

    /// Creates a credential.
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}
