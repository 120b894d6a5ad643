import Foundation
import Testing
import TallyCore
@testable import TallyAWS

/// The cheaper identification (routes ordered by score with an early stop, a linear query lookup, byte-wise path
/// splitting and Host checks) decides exactly as the exhaustive search it replaced.
@Suite struct IdentificationFastPathTests {
    static let id = Result { try OperationIdentifier.load() }

    /// The previous REST search: every route of every candidate service, in operation-name order, the first with
    /// the strictly highest score that accepts and matches wins; segments split by Characters.
    static func exhaustive(_ id: OperationIdentifier, _ head: HTTPRequestHead, signingName: String) -> (String, String)? {
        var best: (svc: String, op: String, score: Int)?
        let query = QueryLookup(head.queryItems)
        let path = head.path.isEmpty ? "/" : head.path
        let segs = path.split(separator: "/", omittingEmptySubsequences: true).map { URIEncoding.decode($0) }
        let slash = path.utf8.count > 1 && path.hasSuffix("/")
        for name in id.model.bySigningName[signingName] ?? [] {
            let svc = id.model.services[name]!
            for route in svc.routes[head.method.uppercased()] ?? [] {  // all of them: the order is the sort below
                guard let score = route.specificity(query: query, head: head),
                      route.match(segs, trailingSlash: slash) != nil else { continue }
                // strictly higher score, or the same score and an earlier operation name of the same service
                if let b = best, score < b.score || (score == b.score && (b.svc != name || b.op < route.operation)) { continue }
                best = (name, route.operation, score)
            }
        }
        return best.map { ($0.svc, $0.op) }
    }

    /// Every REST operation's synthesized request, bare, with presigning parameters and with its query literals
    /// dropped (so a less specific route must win), is identified as the exhaustive search identifies it.
    @Test func orderedRoutesAgreeWithTheExhaustiveSearch() throws {
        let id = try Self.id.get()
        let presign = ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Date=20261127T000000Z", "X-Amz-Expires=3600",
                       "X-Amz-SignedHeaders=host", "X-Amz-Signature=00"]
        var checked = 0, disagreements: [String] = []
        for (name, svc) in id.model.services.sorted(by: { $0.key < $1.key }) where !svc.routes.isEmpty {
            for (opName, op) in svc.operations.sorted(by: { $0.key < $1.key }) {
                let route = Route(operation: opName, model: op)
                let path = route.syntheticPath(label: "v%201", greedy: "a/b/")
                let literals = route.syntheticQueryLiterals, required = route.syntheticRequiredQuery
                let headers = route.syntheticHeaders
                for query in [literals + required, literals + required + presign, required, presign] {
                    for method in [op.method, op.method.lowercased()] {
                        let head = HTTPRequestHead(method: method, path: path, query: query.isEmpty ? nil : query.joined(separator: "&"),
                                                   headers: headers)
                        let got = id.identify(head, signingName: svc.signingName, region: "us-east-1", body: nil)
                        let want = Self.exhaustive(id, head, signingName: svc.signingName)
                        checked += 1
                        if got.operation != want?.1 || (want != nil && got.modelName != want?.0) {
                            disagreements.append("\(name).\(opName) \(method) \(head.target): \(got.modelName ?? "-").\(got.operation ?? "nil") vs \(want.map { "\($0.0).\($0.1)" } ?? "none")")
                        }
                    }
                }
            }
        }
        #expect(checked > 40_000)
        #expect(disagreements.isEmpty, "\(disagreements.count): \(disagreements.prefix(20).joined(separator: "\n"))")
    }

    @Test func routesAreOrderedMostSpecificFirst() throws {
        let id = try Self.id.get()
        for svc in id.model.services.values {
            for routes in svc.routes.values {
                for (a, b) in zip(routes, routes.dropFirst()) {
                    #expect(a.score > b.score || (a.score == b.score && a.operation < b.operation), "\(svc.name): \(a.operation), \(b.operation)")
                }
            }
        }
        let s3 = try #require(id.model.services["s3"]?.routes["GET"])
        let getObject = try #require(s3.first { $0.operation == "GetObject" })
        #expect(getObject.score == 3)  // {Bucket} 2 + {Key+} 1
        #expect(try #require(s3.first { $0.operation == "GetObjectAcl" }).score == 103)
    }

    @Test func queryLookupGivesTheFirstValue() {
        let q = QueryLookup([(name: "a", value: "1"), (name: "list-type", value: "2"), (name: "a", value: "3"), (name: "", value: "e")])
        #expect(q["a"] == "1" && q["list-type"] == "2" && q[""] == "e")
        #expect(q["b"] == nil && q["list-typo"] == nil && q["uploads"] == nil)
        #expect(q.mayContain("z") && !q.mayContain("zz"))
        #expect(QueryLookup([])["a"] == nil)
    }

    @Test(arguments: ["/", "", "/b", "/b/", "//b//k", "/b/dir/a%20b.txt", "/b/a%2Fb/", "/%E2%82%AC/x", "/b/k%", "/a+b/c"])
    func asciiPathsSplitAsCharactersDo(_ path: String) {
        let reference = path.split(separator: "/", omittingEmptySubsequences: true).map { URIEncoding.decode($0) }
        #expect(OperationIdentifier.pathSegments(path) == reference)
        #expect(OperationIdentifier.hasTrailingSlash(path) == (path.utf8.count > 1 && path.hasSuffix("/")))
    }

    /// A non-ASCII path keeps Character semantics: `/` followed by a combining mark is no separator.
    @Test func nonASCIIPathsKeepCharacterSemantics() {
        let path = "/b/\u{301}k/x/\u{301}"
        #expect(OperationIdentifier.pathSegments(path) == ["b/\u{301}k", "x/\u{301}"])
        #expect(!OperationIdentifier.hasTrailingSlash(path))
        #expect(OperationIdentifier.pathSegments("/é/ü") == ["é", "ü"])
    }

    @Test func virtualHostedBucketByBytes() {
        let cases: [(String?, String?)] = [
            (nil, nil), ("", nil), ("s3.amazonaws.com", nil), ("localhost:5056", nil), ("127.0.0.1:18182", nil),
            ("[::1]:8080", nil), ("[::1]", nil), ("bucket.s3.example.com", nil), ("bucket.s3.amazonaws.com.evil", nil),
            ("b.s3-eu-west-1.amazonaws.com:443", "b"), ("My-Bucket.S3.US-WEST-2.AMAZONAWS.COM", "my-bucket"),
            ("b.s3.cn-north-1.amazonaws.com.cn", "b"), ("b.S3.Amazonaws.Com.CN:443", "b"), ("a.b.s3.amazonaws.com", "a.b"),
            (".s3.amazonaws.com", nil), ("sqs.us-east-1.amazonaws.com", nil), ("b.s3.amazonaws.com:", "b"),
            ("bücket.s3.amazonaws.com", "bücket"), ("b.s3.amazonaws.com\u{301}", nil),
        ]
        for (host, bucket) in cases {
            #expect(OperationIdentifier.virtualHostedBucket(host) == bucket, "\(host ?? "nil")")
        }
        #expect(OperationIdentifier.endsWithAWSDomain("x.AmazonAWS.com:1") == true)
        #expect(OperationIdentifier.endsWithAWSDomain("127.0.0.1:1") == false)
        #expect(OperationIdentifier.endsWithAWSDomain("bücket.s3.amazonaws.com") == nil)
    }

    @Test func methodsUpperCased() {
        #expect(ASCII.uppercasedMethod("GET") == "GET")
        #expect(ASCII.uppercasedMethod("get") == "GET")
        #expect(ASCII.uppercasedMethod("Delete") == "DELETE")
        #expect(ASCII.uppercasedMethod("ı") == "ı".uppercased())
    }
}
