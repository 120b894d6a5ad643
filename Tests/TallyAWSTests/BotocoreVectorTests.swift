import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// 160 requests with awkward paths (spaces, UTF-8, dot segments, double slashes, reserved characters), queries
/// (duplicates, empty values, case, reserved characters) and header values (runs of spaces, tabs, commas),
/// signed by botocore 1.43.11 for S3 and non-S3 services (Fixtures/make-botocore-vectors.py). Our canonical
/// request must equal botocore's byte for byte, and the signature must verify.
@Suite struct BotocoreVectorTests {
    struct Corpus: Decodable {
        struct Case: Decodable {
            var service: String
            var method: String
            var target: String
            var headers: [[String]]
            var body: String
            var canonicalRequest: String
        }
        var generator: String
        var secret: String
        var now: String
        var cases: [Case]
    }

    static let corpus: Corpus = {
        let url = Capture.directory.deletingLastPathComponent().appendingPathComponent("botocore-vectors.json")
        return try! JSONDecoder().decode(Corpus.self, from: Data(contentsOf: url))
    }()

    @Test func corpusIsFromBotocore() {
        #expect(Self.corpus.generator == "botocore 1.43.11")
        #expect(Self.corpus.cases.count == 160)
        #expect(Set(Self.corpus.cases.map(\.service)).isSuperset(of: ["s3", "sts", "lambda"]))
    }

    @Test(arguments: 0..<160)
    func canonicalRequestAndSignatureMatchBotocore(_ index: Int) throws {
        let c = Self.corpus.cases[index]
        let head = HTTPRequestHead(method: c.method, target: c.target, headers: c.headers.map { (name: $0[0], value: $0[1]) })
        let auth = try SigV4.parse(head)
        let bodyHash = Hex.encode(SHA256.hash(Array(c.body.utf8)))
        let payloadHash = try #require(auth.payloadHashForVerification(bodySHA256Hex: bodyHash))
        let canonical = SigV4.canonicalRequest(head, signedHeaders: auth.signedHeaders, payloadHash: payloadHash,
                                               service: auth.service, presigned: false)
        #expect(canonical == c.canonicalRequest, "case \(index): \(c.method) \(c.target)")
        _ = try SigV4.verify(head, auth: auth, secretAccessKey: Self.corpus.secret, payloadHash: payloadHash, now: utc(Self.corpus.now))
    }
}
