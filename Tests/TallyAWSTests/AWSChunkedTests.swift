import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// aws-chunked decoding and encoding, against the S3 API reference example "Signature Calculations for the
/// Authorization Header: Transferring Payload in Multiple Chunks": 65 KiB of 'a' in a 64 KiB and a 1 KiB chunk,
/// seed signature 4f232c43..., chunk signatures ad80c730..., 0055627c..., b6c6ea8a....
@Suite struct AWSChunkedTests {
    static let s3Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    static let sig1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    static let sig2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    static let sig3 = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

    static var exampleHead: HTTPRequestHead {
        HTTPRequestHead(method: "PUT", target: "/examplebucket/chunkObject.txt", headers: [
            ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                + "x-amz-decoded-content-length;x-amz-storage-class,Signature=\(seed)"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
        ])
    }

    static var exampleBody: [UInt8] {
        Array("10000;chunk-signature=\(sig1)\r\n".utf8) + [UInt8](repeating: 97, count: 65536) + Array("\r\n".utf8)
            + Array("400;chunk-signature=\(sig2)\r\n".utf8) + [UInt8](repeating: 97, count: 1024) + Array("\r\n".utf8)
            + Array("0;chunk-signature=\(sig3)\r\n\r\n".utf8)
    }

    static func verifiedExample() throws -> VerifiedSigV4 {
        let head = exampleHead
        let auth = try SigV4.parse(head)
        #expect(auth.payloadMode == .streamingSigned)
        return try SigV4.verify(head, auth: auth, secretAccessKey: s3Secret,
                                payloadHash: auth.payloadHashForVerification(bodySHA256Hex: nil)!, now: utc("20130524T000000Z"))
    }

    func decodeAll(_ body: [UInt8], mode: SigV4PayloadMode, verified: VerifiedSigV4?, length: Int? = nil,
                   pieces: [Int]) throws -> ([UInt8], [(String, String)]) {
        var d = AWSChunkedDecoder(mode: mode, verified: verified, decodedContentLength: length)
        var out: [UInt8] = [], start = 0
        for end in pieces + [body.count] where end >= start {
            out += try d.feed(body[start..<end])
            start = end
        }
        return (out, try d.finish())
    }

    @Test func documentedExampleVerifies() throws {
        let v = try Self.verifiedExample()
        #expect(v.seedSignature == Self.seed)
        #expect(Self.exampleBody.count == 66824)
        let (out, trailers) = try decodeAll(Self.exampleBody, mode: .streamingSigned, verified: v, length: 66560, pieces: [])
        #expect(out == [UInt8](repeating: 97, count: 66560))
        #expect(trailers.isEmpty)
    }

    @Test func documentedExampleByteAtATimeAndSplits() throws {
        let v = try Self.verifiedExample()
        let body = Self.exampleBody
        var d = AWSChunkedDecoder(mode: .streamingSigned, verified: v, decodedContentLength: 66560)
        var out: [UInt8] = []
        for b in body { out += try d.feed(CollectionOfOne(b)) }
        _ = try d.finish()
        #expect(out.count == 66560 && d.chunkCount == 3)
        // two pieces split at every boundary inside the framing, and a sample inside the data
        let framing = Array(0..<90) + Array(65620..<65720) + Array(66700..<body.count)
        for cut in framing + stride(from: 100, to: 65600, by: 997).map({ $0 }) {
            let (o, _) = try decodeAll(body, mode: .streamingSigned, verified: v, length: 66560, pieces: [cut])
            #expect(o.count == 66560, "split at \(cut)")
        }
    }

    @Test func encoderReproducesDocumentedBody() throws {
        let v = try Self.verifiedExample()
        var e = AWSChunkedEncoder(mode: .streamingSigned, context: v, chunkSize: 65536)
        var encoded = e.feed([UInt8](repeating: 97, count: 66560))
        encoded += e.finish()
        #expect(encoded == Self.exampleBody)
        #expect(AWSChunkedEncoder.encodedLength(decodedLength: 66560, chunkSize: 65536, mode: .streamingSigned) == 66824)
    }

    @Test func badChunkSignatureIsRejected() throws {
        let v = try Self.verifiedExample()
        var body = Self.exampleBody
        body[30] = body[30] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")   // inside sig1
        #expect(throws: AWSAuthError.self) { _ = try decodeAll(body, mode: .streamingSigned, verified: v, pieces: []) }
        var tampered = Self.exampleBody
        tampered[200] = 98                                                                    // chunk data
        do {
            var d = AWSChunkedDecoder(mode: .streamingSigned, verified: v)
            let released = try? d.feed(tampered)
            #expect(released == nil, "no byte of a chunk whose signature fails is released")
            #expect(throws: AWSAuthError.self) { _ = try d.finish() }
        }
        // reordered / dropped chunk: the chain breaks
        let dropFirst = Array("400;chunk-signature=\(Self.sig2)\r\n".utf8) + [UInt8](repeating: 97, count: 1024) + Array("\r\n".utf8)
        #expect(throws: AWSAuthError.self) { _ = try decodeAll(dropFirst, mode: .streamingSigned, verified: v, pieces: []) }
        // wrong secret: seed differs, so the first chunk fails
        var wrong = v
        wrong.signingKey = SigV4.signingKey(secretAccessKey: "nope", date: "20130524", region: "us-east-1", service: "s3")
        #expect(throws: AWSAuthError.self) { _ = try decodeAll(Self.exampleBody, mode: .streamingSigned, verified: wrong, pieces: []) }
    }

    @Test func truncatedAndMalformedBodiesAreRejected() throws {
        let v = try Self.verifiedExample()
        let body = Self.exampleBody
        for cut in [0, 10, 88, 5000, 65626, body.count - 3, body.count - 1] {
            var d = AWSChunkedDecoder(mode: .streamingSigned, verified: v)
            _ = try? d.feed(body[0..<cut])
            #expect(throws: AWSAuthError.self) { _ = try d.finish() }
        }
        #expect(throws: AWSAuthError.self) {
            _ = try decodeAll(Array("zz\r\nab\r\n0\r\n\r\n".utf8), mode: .streamingUnsignedTrailer, verified: nil, pieces: [])
        }
        #expect(throws: AWSAuthError.self) {   // data not followed by CRLF
            _ = try decodeAll(Array("2\r\nabc\r\n0\r\n\r\n".utf8), mode: .streamingUnsignedTrailer, verified: nil, pieces: [])
        }
        #expect(throws: AWSAuthError.self) {   // decoded length mismatch
            _ = try decodeAll(Array("2\r\nab\r\n0\r\n\r\n".utf8), mode: .streamingUnsignedTrailer, verified: nil, length: 3, pieces: [])
        }
        #expect(throws: AWSAuthError.self) {   // bytes after the end
            _ = try decodeAll(Array("2\r\nab\r\n0\r\n\r\nx".utf8), mode: .streamingUnsignedTrailer, verified: nil, pieces: [])
        }
        #expect(throws: AWSAuthError.self) {   // signed mode without chunk-signature
            _ = try decodeAll(Array("2\r\nab\r\n0\r\n\r\n".utf8), mode: .streamingSigned, verified: v, pieces: [])
        }
    }

    /// S3 API reference, "Signature calculations for trailing headers (chunked uploads)": the same 65 KiB upload
    /// with STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, seed 106e2a8a..., chunks b474d886..., 1c1344b1...,
    /// 2ca2aba2..., trailer x-amz-checksum-crc32c:sOO8/Q== signed d81f82fc....
    @Test func documentedTrailerExample() throws {
        let seed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
        let head = HTTPRequestHead(method: "PUT", target: "/examplebucket/chunkObject.txt", headers: [
            ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                + "x-amz-storage-class;x-amz-trailer,Signature=\(seed)"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"), ("x-amz-trailer", "x-amz-checksum-crc32c"),
        ])
        let auth = try SigV4.parse(head)
        #expect(auth.payloadMode == .streamingSignedTrailer)
        let v = try SigV4.verify(head, auth: auth, secretAccessKey: Self.s3Secret, payloadHash: auth.payloadMode.literal!,
                                 now: utc("20130524T000000Z"))
        #expect(v.seedSignature == seed)
        func body(trailerSignature: String = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435",
                  value: String = "sOO8/Q==") -> [UInt8] {
            Array("10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n".utf8)
                + [UInt8](repeating: 97, count: 65536)
                + Array("\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n".utf8)
                + [UInt8](repeating: 97, count: 1024)
                + Array(("\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
                    + "x-amz-checksum-crc32c:\(value)\r\nx-amz-trailer-signature:\(trailerSignature)\r\n\r\n").utf8)
        }
        for cut in [0, 1, 90, 65625, 66700, 66800, body().count - 1] {
            let (out, trailers) = try decodeAll(body(), mode: .streamingSignedTrailer, verified: v, length: 66560, pieces: [cut])
            #expect(out.count == 66560)
            #expect(trailers.count == 1 && trailers[0] == ("x-amz-checksum-crc32c", "sOO8/Q=="))
        }
        var e = AWSChunkedEncoder(mode: .streamingSignedTrailer, context: v, chunkSize: 65536)
        #expect(e.feed([UInt8](repeating: 97, count: 66560)) + e.finish(trailers: [("x-amz-checksum-crc32c", "sOO8/Q==")]) == body())
        #expect(throws: AWSAuthError.self) {
            _ = try decodeAll(body(value: "sOO8/Q=A"), mode: .streamingSignedTrailer, verified: v, pieces: [])
        }
        #expect(throws: AWSAuthError.self) {
            _ = try decodeAll(body(trailerSignature: String(repeating: "0", count: 64)), mode: .streamingSignedTrailer, verified: v, pieces: [])
        }
    }

    @Test func oversizedSignedChunkIsRejected() throws {
        let v = try Self.verifiedExample()
        var d = AWSChunkedDecoder(mode: .streamingSigned, verified: v)
        let header = Array("\(String(AWSChunkedDecoder.maximumSignedChunkSize + 1, radix: 16));chunk-signature=\(Self.sig1)\r\n".utf8)
        #expect { _ = try d.feed(header) } throws: { ($0 as? AWSAuthError)?.code == "InvalidRequest" }
        var long = AWSChunkedDecoder(mode: .streamingUnsignedTrailer, verified: nil)
        #expect(throws: AWSAuthError.self) { _ = try long.feed([UInt8](repeating: 49, count: 5000)) }
    }

    /// Signed chunks with a signed trailer, produced by our encoder, decode at every split point; a changed
    /// trailer value or trailer signature is rejected.
    @Test func signedTrailerRoundTripAtEverySplit() throws {
        var head = HTTPRequestHead(method: "PUT", target: "/b/k", headers: [("Host", "s3.amazonaws.com"),
                                   ("X-Amz-Trailer", "x-amz-checksum-crc32"), ("Content-Encoding", "aws-chunked")])
        let creds = AWSCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "secret-1")
        let date = utc("20261126T143900Z")
        let ctx = SigV4.sign(&head, credentials: creds, region: "us-east-1", service: "s3",
                             payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", date: date)
        let auth = try SigV4.parse(head)
        let v = try SigV4.verify(head, auth: auth, secretAccessKey: "secret-1", payloadHash: auth.payloadMode.literal!, now: date)
        #expect(v.seedSignature == ctx.seedSignature)
        let payload = Array("hello aws-chunked world, split me anywhere".utf8)
        var e = AWSChunkedEncoder(mode: .streamingSignedTrailer, context: ctx, chunkSize: 16)
        let body = e.feed(payload) + e.finish(trailers: [("x-amz-checksum-crc32", "AAAAAA==")])
        #expect(body.count == AWSChunkedEncoder.encodedLength(decodedLength: payload.count, chunkSize: 16, mode: .streamingSignedTrailer,
                                                               trailers: [("x-amz-checksum-crc32", "AAAAAA==")]))
        for cut in 0...body.count {
            for cut2 in [cut, min(body.count, cut + 1), min(body.count, cut + 7)] {
                let (out, trailers) = try decodeAll(body, mode: .streamingSignedTrailer, verified: v, length: payload.count,
                                                    pieces: [cut, cut2])
                #expect(out == payload)
                #expect(trailers.count == 1 && trailers[0].0 == "x-amz-checksum-crc32" && trailers[0].1 == "AAAAAA==")
            }
        }
        let text = String(decoding: body, as: UTF8.self)
        let changedValue = Array(text.replacingOccurrences(of: "AAAAAA==", with: "AAAAAB==").utf8)
        #expect(throws: AWSAuthError.self) { _ = try decodeAll(changedValue, mode: .streamingSignedTrailer, verified: v, pieces: []) }
        let noSig = Array(text.replacingOccurrences(of: "x-amz-trailer-signature:", with: "x-amz-other:").utf8)
        #expect(throws: AWSAuthError.self) { _ = try decodeAll(noSig, mode: .streamingSignedTrailer, verified: v, pieces: []) }
    }

    /// Capture 13 (aws-cli, STREAMING-UNSIGNED-PAYLOAD-TRAILER, stdin): decodes to "hello stdin" with its CRC32
    /// trailer at every split point.
    @Test func capture13UnsignedTrailerAtEverySplit() throws {
        let c = try Capture.load("13_s3_PutObject_stdin_https_awschunked.http")
        let auth = try SigV4.parse(c.head)
        #expect(auth.payloadMode == .streamingUnsignedTrailer)
        for cut in 0...c.body.count {
            for cut2 in cut...min(c.body.count, cut + 3) {
                let (out, trailers) = try decodeAll(c.body, mode: auth.payloadMode, verified: nil, length: 11, pieces: [cut, cut2])
                #expect(String(decoding: out, as: UTF8.self) == "hello stdin")
                #expect(trailers.count == 1 && trailers[0] == ("x-amz-checksum-crc32", "+tulQg=="))
            }
        }
    }

    /// Capture 12 (2000 bytes, TLS): decodes to the same 2000 bytes capture 10 sent with a hex payload hash.
    @Test func capture12MatchesCapture10Body() throws {
        let c12 = try Capture.load("12_s3_PutObject_https_STREAMING-UNSIGNED-PAYLOAD-TRAILER.http")
        let c10 = try Capture.load("10_s3_restxml_PutObject_http_signedpayload.http")
        let (out, trailers) = try decodeAll(c12.body, mode: .streamingUnsignedTrailer, verified: nil, length: 2000, pieces: [1000])
        #expect(out == c10.body)
        #expect(trailers.first?.1 == "fUFF+Q==")
    }

    @Test func unsignedEncoderRoundTrip() throws {
        let payload = (0..<1000).map { UInt8($0 % 251) }
        var e = AWSChunkedEncoder(mode: .streamingUnsignedTrailer, context: nil, chunkSize: 64)
        var body: [UInt8] = []
        for piece in stride(from: 0, to: payload.count, by: 37) { body += e.feed(payload[piece..<min(payload.count, piece + 37)]) }
        body += e.finish(trailers: [("x-amz-checksum-crc32", "abcd")])
        let (out, trailers) = try decodeAll(body, mode: .streamingUnsignedTrailer, verified: nil, length: 1000, pieces: [3, 500])
        #expect(out == payload && trailers.count == 1)
    }
}
