import Testing
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
}
