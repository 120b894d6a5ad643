import HTTPTypes
import NIOHTTP1
import Testing
@testable import TallyGateway

@Suite struct PlainCallTests {
    private func request(_ fields: [(String, String)] = [], method: HTTPRequest.Method = .post, path: String = "/") -> HTTPRequest {
        var r = HTTPRequest(method: method, scheme: "http", authority: "127.0.0.1:8080", path: path)
        for (name, value) in fields { r.headerFields[HTTPField.Name(name)!] = value }
        return r
    }

    /// Only requests the task path would buffer whole take the event-loop path; streamed, chunked, 100-continue and
    /// oversized bodies and the gateway's own endpoints go to the task path.
    @Test func onlySmallKnownPlainBodiesAreTakenOnTheEventLoop() {
        let limit = 64 << 20
        #expect(GatewayHandler.plainCallLength(request(method: .get, path: "/b/k?X-Amz-Signature=x"), maxBufferedBody: limit) == 0)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "120")]), maxBufferedBody: limit) == 120)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", String(GatewayHandler.smallBodyLimit))]),
                                               maxBufferedBody: limit) == GatewayHandler.smallBodyLimit)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", String(GatewayHandler.smallBodyLimit + 1))]),
                                               maxBufferedBody: limit) == nil)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "2048")]), maxBufferedBody: 1024) == nil)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "-1")]), maxBufferedBody: limit) == nil)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "12x")]), maxBufferedBody: limit) == nil)
        #expect(GatewayHandler.plainCallLength(request([("Transfer-Encoding", "chunked")]), maxBufferedBody: limit) == nil)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "10"), ("Expect", "100-continue")], method: .put, path: "/b/k"),
                                               maxBufferedBody: limit) == nil)
        for mode in ["STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                     "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"] {
            #expect(GatewayHandler.plainCallLength(request([("Content-Length", "10"), ("x-amz-content-sha256", mode)], method: .put, path: "/b/k"),
                                                   maxBufferedBody: limit) == nil)
        }
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "10"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], method: .put, path: "/b/k"),
                                               maxBufferedBody: limit) == 10)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "10"), ("Connection", "close")]), maxBufferedBody: limit) == nil)
        #expect(GatewayHandler.plainCallLength(request([("Content-Length", "10"), ("Connection", "keep-alive")]), maxBufferedBody: limit) == 10)
        #expect(GatewayHandler.plainCallLength(request(method: .get, path: "/_tally/health"), maxBufferedBody: limit) == nil)
        #expect(GatewayHandler.plainCallLength(request(method: .get, path: "/_tally/metrics"), maxBufferedBody: limit) == nil)
    }

    /// The upstream's hop-by-hop headers are dropped in any letter case (both paths use `answerFields`); every other
    /// header passes through with its value and order.
    @Test func hopByHopResponseHeadersAreDroppedInAnyCase() {
        let headers = HTTPHeaders([
            ("Connection", "keep-alive"), ("KEEP-ALIVE", "timeout=5"), ("Transfer-Encoding", "chunked"), ("te", "trailers"),
            ("Trailer", "x-amz-checksum-crc32"), ("UpGrade", "h2c"), ("Proxy-Authenticate", "Basic"), ("proxy-connection", "x"),
            ("ETag", "\"abc\""), ("Content-Length", "3"), ("x-amz-request-id", "REQ1"), ("Connections", "kept"), ("tE2", "kept"),
        ])
        let fields = GatewayHandler.answerFields(headers)
        #expect(fields.map(\.name.rawName) == ["ETag", "Content-Length", "x-amz-request-id", "Connections", "tE2"])
        #expect(fields[HTTPField.Name("etag")!] == "\"abc\"")
        for name in GatewayHandler.droppedResponseHeaders {
            #expect(GatewayHandler.isDroppedResponseHeader(name.uppercased()))
            #expect(!GatewayHandler.isDroppedResponseHeader(name + "s"))
        }
    }
}
