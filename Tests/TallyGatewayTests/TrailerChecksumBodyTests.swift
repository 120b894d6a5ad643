import Foundation
import HummingbirdCore
import NIOCore
import Testing
@testable import TallyGateway
import TallyAWS
import TallyCore

/// aws-chunked uploads with a checksum trailer (`x-amz-trailer: x-amz-checksum-*`): the gateway checks the checksum
/// against the decoded body and carries it upstream — decoded signed-chunk uploads are re-framed as
/// STREAMING-UNSIGNED-PAYLOAD-TRAILER with the trailer; unsigned-trailer uploads go as they came. A wrong checksum
/// fails the body before the upstream has all of it (BadDigest).
@Suite struct TrailerChecksumBodyTests {
    static let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }

    /// Splits `body` into agent buffers of `size` bytes.
    static func parts(_ body: [UInt8], size: Int = 10_000) -> [ByteBuffer] {
        stride(from: 0, to: body.count, by: size).map { ByteBuffer(bytes: body[$0..<min(body.count, $0 + size)]) }
    }

    /// A signed-trailer upload of `payload` whose trailer says `value` (correctly signed), and the verified context.
    static func signedTrailerUpload(value: String) throws -> (body: [UInt8], verified: VerifiedSigV4) {
        var head = TallyAWS.HTTPRequestHead(method: "PUT", target: "/b/k", headers: [
            ("Host", "127.0.0.1:9000"), ("X-Amz-Trailer", "x-amz-checksum-crc32"), ("Content-Encoding", "aws-chunked"),
            ("X-Amz-Decoded-Content-Length", String(payload.count))])
        let date = Date()
        let ctx = SigV4.sign(&head, credentials: AWSCredentials(accessKeyId: "ASIATLYAAAAAAAAAAAAA", secretAccessKey: "agent-secret"),
                             region: "us-east-1", service: "s3", payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", date: date)
        let auth = try SigV4.parse(head)
        let verified = try SigV4.verify(head, auth: auth, secretAccessKey: "agent-secret", payloadHash: auth.payloadMode.literal!, now: date)
        var e = AWSChunkedEncoder(mode: .streamingSignedTrailer, context: ctx, chunkSize: 8192)
        return (e.feed(payload) + e.finish(trailers: [("x-amz-checksum-crc32", value)]), verified)
    }

    static func run(_ body: [UInt8], _ transform: BodyTransform) async -> (received: [UInt8], error: (any Error)?) {
        let pipe = BodyPipe()
        let pump = Task { await BodyPump.run(RequestBody(asyncSequence: BodyPipeTests.Agent(parts: parts(body))),
                                             transform: transform, pipe: pipe) }
        var received: [UInt8] = []
        var failure: (any Error)?
        do { for try await b in PipeBody(pipe: pipe) { received += b.readableBytesView } } catch { failure = error }
        _ = await pump.value
        return (received, failure)
    }

    @Test func aDecodedSignedUploadIsReframedWithItsVerifiedTrailer() async throws {
        let crc = AWSChecksumHasher.value(.crc32, of: Self.payload)
        let (body, verified) = try Self.signedTrailerUpload(value: crc)
        let tap = BodyTap(declaredSHA256: nil)
        let transform = BodyTransform(
            tap: tap, decoder: AWSChunkedDecoder(mode: .streamingSignedTrailer, verified: verified, decodedContentLength: Self.payload.count),
            checksum: ChecksumTap(.crc32), encoder: AWSChunkedEncoder(mode: .streamingUnsignedTrailer, context: nil))
        let (received, error) = await Self.run(body, transform)
        #expect(error == nil && tap.failure == nil)
        // exactly the length announced upstream (from x-amz-decoded-content-length and the algorithm's value length)
        #expect(received.count == AWSChunkedEncoder.encodedLength(decodedLength: Self.payload.count, mode: .streamingUnsignedTrailer,
                                                                   trailers: [("x-amz-checksum-crc32", "12345678")]))
        var d = AWSChunkedDecoder(mode: .streamingUnsignedTrailer, verified: nil, decodedContentLength: Self.payload.count)
        #expect(try d.feed(received) == Self.payload)
        let trailers = try d.finish()
        #expect(trailers.count == 1 && trailers[0] == ("x-amz-checksum-crc32", crc))
        #expect(tap.byteCount == Self.payload.count)  // bytes in: the decoded payload
    }

    @Test func aWrongChecksumInASignedTrailerNeverCompletesTheUpstreamBody() async throws {
        let (body, verified) = try Self.signedTrailerUpload(value: AWSChecksumHasher.value(.crc32, of: Array("something else".utf8)))
        let tap = BodyTap(declaredSHA256: nil)
        let transform = BodyTransform(
            tap: tap, decoder: AWSChunkedDecoder(mode: .streamingSignedTrailer, verified: verified, decodedContentLength: Self.payload.count),
            checksum: ChecksumTap(.crc32), encoder: AWSChunkedEncoder(mode: .streamingUnsignedTrailer, context: nil))
        let (received, error) = await Self.run(body, transform)
        #expect((error as? AWSAuthError)?.code == "BadDigest")
        #expect(tap.failure?.code == "BadDigest" && tap.failure?.httpStatus == 400)
        let full = AWSChunkedEncoder.encodedLength(decodedLength: Self.payload.count, mode: .streamingUnsignedTrailer,
                                                   trailers: [("x-amz-checksum-crc32", "12345678")])
        #expect(received.count < full - Self.payload.count % AWSChunkedEncoder.defaultChunkSize)  // the last chunk never left
    }

    @Test func anUnsignedTrailerUploadPassesAsSentAndIsChecked() async throws {
        var e = AWSChunkedEncoder(mode: .streamingUnsignedTrailer, context: nil, chunkSize: 16384)
        let good = e.feed(Self.payload) + e.finish(trailers: [("x-amz-checksum-crc32c", AWSChecksumHasher.value(.crc32c, of: Self.payload))])
        func transform(_ tap: BodyTap) -> BodyTransform {
            BodyTransform(tap: tap, decoder: AWSChunkedDecoder(mode: .streamingUnsignedTrailer, verified: nil,
                                                               decodedContentLength: Self.payload.count),
                          passthrough: true, checksum: ChecksumTap(.crc32c))
        }
        let okTap = BodyTap(declaredSHA256: nil)
        let ok = await Self.run(good, transform(okTap))
        #expect(ok.error == nil && ok.received == good && okTap.byteCount == good.count)

        var e2 = AWSChunkedEncoder(mode: .streamingUnsignedTrailer, context: nil, chunkSize: 16384)
        let bad = e2.feed(Self.payload) + e2.finish(trailers: [("x-amz-checksum-crc32c", "AAAAAA==")])
        let badTap = BodyTap(declaredSHA256: nil)
        let refused = await Self.run(bad, transform(badTap))
        #expect((refused.error as? AWSAuthError)?.code == "BadDigest" && badTap.failure?.code == "BadDigest")
        #expect(refused.received.count < bad.count && refused.received == Array(bad.prefix(refused.received.count)))
        // a trailer the upload did not declare is refused too
        let otherTap = BodyTap(declaredSHA256: nil)
        var e3 = AWSChunkedEncoder(mode: .streamingUnsignedTrailer, context: nil, chunkSize: 16384)
        let other = e3.feed(Self.payload) + e3.finish(trailers: [("x-amz-checksum-sha1", AWSChecksumHasher.value(.sha1, of: Self.payload))])
        let undeclared = await Self.run(other, transform(otherTap))
        #expect((undeclared.error as? AWSAuthError)?.code == "InvalidRequest")
    }

    @Test func aPlainBodyIsCheckedAgainstItsChecksumHeader() async throws {
        let right = ChecksumTap(.sha256, declared: AWSChecksumHasher.value(.sha256, of: Self.payload))
        let okTap = BodyTap(declaredSHA256: nil)
        let ok = await Self.run(Self.payload, BodyTransform(tap: okTap, decoder: nil, checksum: right))
        #expect(ok.error == nil && ok.received == Self.payload)
        let wrong = ChecksumTap(.crc64nvme, declared: AWSChecksumHasher.value(.crc64nvme, of: Array("other".utf8)))
        let badTap = BodyTap(declaredSHA256: nil)
        let bad = await Self.run(Self.payload, BodyTransform(tap: badTap, decoder: nil, checksum: wrong))
        #expect((bad.error as? AWSAuthError)?.code == "BadDigest" && badTap.failure?.code == "BadDigest")
        #expect(bad.received == Array(Self.payload.prefix(Self.payload.count - 10_000)))  // the last buffer never left
    }

    @Test func theChecksumHeaderOfAnObjectUploadIsTheOneThatCounts() throws {
        func head(_ headers: [(String, String)]) -> TallyAWS.HTTPRequestHead {
            TallyAWS.HTTPRequestHead(method: "PUT", target: "/b/k", headers: [("Host", "h")] + headers)
        }
        let put = IdentifiedOperation(service: "s3", signingName: "s3", operation: "PutObject", protocol: .restXML,
                                      parameters: [:], region: "us-east-1")
        let body = Array("hello stdin".utf8)
        try GatewayHandler.checkHeaderChecksum(put, head: head([("x-amz-checksum-crc32", "+tulQg=="), ("x-amz-checksum-type", "FULL_OBJECT")]),
                                               body: body)
        func code(_ headers: [(String, String)], _ ident: IdentifiedOperation = put) -> String? {
            do { try GatewayHandler.checkHeaderChecksum(ident, head: head(headers), body: body); return nil } catch { return error.code }
        }
        #expect(code([("x-amz-checksum-crc32", "+tulQw==")]) == "BadDigest")
        #expect(code([("x-amz-checksum-crc32", "+tulQg"), ]) == "InvalidRequest")
        #expect(code([("x-amz-checksum-crc32", "+tulQg=="), ("x-amz-checksum-sha1", "x")]) == "InvalidRequest")
        var complete = put
        complete.operation = "CompleteMultipartUpload"  // its header is the whole object's checksum
        #expect(code([("x-amz-checksum-crc32", "+tulQw==")], complete) == nil)
        #expect(GatewayHandler.headerChecksumTap(put, head: head([("x-amz-checksum-crc32c", "AAAAAA==")]))?.algorithm == .crc32c)
        #expect(GatewayHandler.headerChecksumTap(complete, head: head([("x-amz-checksum-crc32c", "AAAAAA==")])) == nil)
    }
}
