import Testing
import TallyAWS
@testable import TallyGateway

/// The presigned-auth parameters are removed however their names are cased or percent-encoded;
/// every other pair is forwarded byte for byte, in order.
@Suite struct StripPresignTests {
    @Test func removesEncodedAndCasedPresignNames() {
        #expect(GatewayHandler.stripPresign("x-amz-signature=1&X%2DAmz%2DDate=2&%58-Amz-Credential=3&keep=%2F&a=") == "keep=%2F&a=")
        #expect(GatewayHandler.stripPresign("&&uploads&partNumber=1&&") == "uploads&partNumber=1")
        #expect(GatewayHandler.stripPresign("X-Amz-Expires") == nil)
        #expect(GatewayHandler.stripPresign("=X-Amz-Signature&b=é") == "=X-Amz-Signature&b=é")
        #expect(GatewayHandler.stripPresign("") == nil)
    }

    /// The byte-wise fast path answers exactly as decoding and Unicode-lowercasing every name would.
    @Test func fastPathAgreesWithDecodeAndLowercase() {
        let names = ["X-Amz-Date", "x-amz-date", "X-AMZ-SIGNATURE", "X-Amz-SignedHeaders", "X-Amz-Security-Token",
                     "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Expires", "X-Amz-Datex", "X-Amz-Dat", "x_amz-date",
                     "X-Amz-Security-To\u{212A}en", "X%2DAmz-Date", "x-amz-date%", "uploads", "", "X-Amz-Content-Sha256",
                     "X-Amz-Checksum-Mode", "versionId", "x-id", "X-Amz-Security-Tokens"]
        for name in names {
            let reference = GatewayHandler.presignParameters.contains(URIEncoding.decode(name).lowercased())
            let fast = Array(name.utf8).withUnsafeBufferPointer { GatewayHandler.isPresignParameter($0) }
            #expect(fast == reference, "\(name)")
            let query = "a=1&\(name)=v&b"
            #expect(GatewayHandler.stripPresign(query) == (reference ? "a=1&b" : query), "\(name)")
        }
    }
}
