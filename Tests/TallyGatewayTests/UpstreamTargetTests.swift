import Foundation
import Testing
@testable import TallyGateway

/// A fixed upstream's Host, base URL and pool key are computed once (``UpstreamTarget``) and must be what the
/// per-call functions give.
@Suite struct UpstreamTargetTests {
    @Test(arguments: ["http://127.0.0.1:18081", "https://s3.amazonaws.com", "https://example.com:443", "http://example.com:80",
                      "HTTP://Moto.Local:5000", "http://[::1]:8080", "https://[2001:db8::1]"])
    func matchesThePerCallFunctions(_ text: String) throws {
        let url = try #require(URL(string: text))
        let target = UpstreamTarget(url)
        #expect(target.authority == upstreamAuthority(url))
        #expect(target.baseURL == upstreamBaseURL(url))
        #expect(target.origin == UpstreamOrigin(url))
    }

    @Test func knownValues() throws {
        let t = UpstreamTarget(try #require(URL(string: "https://example.com:443")))
        #expect(t.authority == "example.com" && t.baseURL == "https://example.com")
        #expect(t.origin.tls && t.origin.host == "example.com" && t.origin.port == 443)
        let v6 = UpstreamTarget(try #require(URL(string: "http://[::1]:8080")))
        #expect(v6.authority == "[::1]:8080" && v6.origin.host == "::1" && v6.origin.port == 8080 && !v6.origin.tls)
    }
}
