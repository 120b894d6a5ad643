import HTTPTypes
import Testing
@testable import TallyGateway
import TallyAWS

@Suite struct HandlerTests {
    @Test func presignParametersAreStrippedAndTheRestKeptAsSent() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&versionId=a%2Fb&X-Amz-Credential=AKIA%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20250101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&x-id=GetObject"
        #expect(GatewayHandler.stripPresign(q) == "versionId=a%2Fb&x-id=GetObject")
        #expect(GatewayHandler.stripPresign("X-Amz-Signature=abc") == nil)
        #expect(GatewayHandler.stripPresign(nil) == nil)
    }

    @Test func headKeepsTheRawTargetAndRestoresHost() {
        var request = HTTPRequest(method: .put, scheme: "http", authority: "127.0.0.1:8080", path: "/b/a%20key?uploads&x=%2F")
        request.headerFields[.contentType] = "text/plain"
        let head = GatewayHandler.makeHead(request)
        #expect(head.path == "/b/a%20key")
        #expect(head.query == "uploads&x=%2F")
        #expect(head.value(of: "host") == "127.0.0.1:8080")
        #expect(head.value(of: "content-type") == "text/plain")
        #expect(head.method == "PUT")
    }

    @Test func errorFormatBeforeIdentification() {
        let json = TallyAWS.HTTPRequestHead(method: "POST", target: "/", headers: [(name: "X-Amz-Target", value: "DynamoDB_20120810.PutItem")])
        #expect(GatewayHandler.guessProtocol(json) == .json)
        let form = TallyAWS.HTTPRequestHead(method: "POST", target: "/", headers: [(name: "Content-Type", value: "application/x-www-form-urlencoded")])
        #expect(GatewayHandler.guessProtocol(form) == .query)
        #expect(GatewayHandler.guessProtocol(TallyAWS.HTTPRequestHead(method: "GET", target: "/bucket", headers: [])) == .restXML)
    }

    @Test func smallPlainS3BodiesAreBufferedOthersStream() {
        var small = HTTPRequest(method: .put, scheme: "http", authority: "h", path: "/b/k")
        small.headerFields[.contentLength] = "1024"
        #expect(GatewayHandler.isSmallPlainBody(small, mode: .unsigned))
        #expect(!GatewayHandler.isSmallPlainBody(small, mode: .streamingUnsignedTrailer))
        var big = small
        big.headerFields[.contentLength] = String(GatewayHandler.smallBodyLimit + 1)
        #expect(!GatewayHandler.isSmallPlainBody(big, mode: .unsigned))
        var chunked = HTTPRequest(method: .put, scheme: "http", authority: "h", path: "/b/k")
        chunked.headerFields[.transferEncoding] = "chunked"
        #expect(!GatewayHandler.isSmallPlainBody(chunked, mode: .unsigned))
    }

    @Test func callIdsAreUniqueHex() {
        let ids = (0..<100).map { _ in GatewayHandler.newCallId() }
        #expect(Set(ids).count == 100)
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
    }
}
