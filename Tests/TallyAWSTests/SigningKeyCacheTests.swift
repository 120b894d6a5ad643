import Testing
@testable import TallyAWS

/// The cache returns exactly the derived key of each secret and scope (keyed by the secret's SHA-256, never the
/// secret), and is cleared when full.
@Suite struct SigningKeyCacheTests {
    @Test func eachSecretAndScopeGetsItsOwnDerivedKey() {
        let cache = SigningKeyCache(capacity: 8)
        let secrets = ["agent-secret-a", "agent-secret-b", "", "agent-secret-a ", String(repeating: "x", count: 200)]
        for _ in 0..<2 {
            for secret in secrets {
                for (date, region, service) in [("20261127", "us-east-1", "s3"), ("20261128", "us-east-1", "s3"),
                                                ("20261127", "eu-west-1", "s3"), ("20261127", "us-east-1", "sts")] {
                    #expect(cache.signingKey(secretAccessKey: secret, date: date, region: region, service: service)
                            == SigV4.signingKey(secretAccessKey: secret, date: date, region: region, service: service))
                }
            }
        }
        #expect(cache.count <= 8)
    }
}
