import Foundation
import HTTPTypes
import Testing
@testable import TallyGateway
import TallyCore

/// `/_tally/metrics` authentication (review finding 13).
@Suite struct MetricsAccessTests {
    func request(_ auth: String?) -> HTTPRequest {
        var r = HTTPRequest(method: .get, scheme: "http", authority: "h", path: "/_tally/metrics")
        if let auth { r.headerFields[.authorization] = auth }
        return r
    }

    @Test func bearerTokenIsRequiredUnlessPublic() {
        let token = "0123456789abcdef0123"
        #expect(GatewayHandler.metricsAuthorized(request("Bearer \(token)"), token: token))
        #expect(!GatewayHandler.metricsAuthorized(request(nil), token: token))
        #expect(!GatewayHandler.metricsAuthorized(request("Bearer \(token)x"), token: token))
        // The scheme name is case-insensitive (RFC 9110 §11.1); the token is not.
        #expect(GatewayHandler.metricsAuthorized(request("bearer \(token)"), token: token))
        #expect(GatewayHandler.metricsAuthorized(request("BEARER \(token)"), token: token))
        #expect(!GatewayHandler.metricsAuthorized(request("Bearer \(token.uppercased())"), token: token))
        #expect(!GatewayHandler.metricsAuthorized(request("Bearer\(token)"), token: token))
        #expect(!GatewayHandler.metricsAuthorized(request("Bearer "), token: ""))  // none configured: nobody
        #expect(GatewayHandler.metricsAuthorized(request(nil), token: nil))  // metricsPublic
        // SigV4 requests under /_tally/ go to the SigV4 path; Bearer ones and unauthenticated ones are internal
        #expect(GatewayHandler.isInternalRequest(request(nil)) && GatewayHandler.isInternalRequest(request("Bearer x")))
        #expect(!GatewayHandler.isInternalRequest(request("AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/s3/aws4_request")))
    }

    @Test func defaultTokenIsDerivedStableAndPrivate() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tally-metrics-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let paths = GatewayPaths(home: home)
        let a = try MetricsAccess.defaultToken(paths: paths)
        let again = try MetricsAccess.defaultToken(paths: paths)
        #expect(a.count == 64 && a == again)
        let attributes = try FileManager.default.attributesOfItem(atPath: MetricsAccess.tokenPath(paths))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(String(decoding: FileManager.default.contents(atPath: MetricsAccess.tokenPath(paths)) ?? Data(), as: UTF8.self) == a + "\n")
        var c = GatewayConfiguration(home: home, host: "127.0.0.1", port: 1, upstream: try UpstreamEndpoint.parse("http://127.0.0.1:1"))
        try c.resolveMetricsToken()
        #expect(c.metricsToken == a)
        var open = c
        open.metricsToken = nil
        open.metricsPublic = true
        try open.resolveMetricsToken()
        #expect(open.metricsToken == nil)
    }
}
