import Foundation
import Testing
@testable import TallyAWS

/// Requests with many header names, or a long SignedHeaders list: the per-request name checks and the canonical
/// headers switch from comparing names one by one to hashing them once a request carries many (an agent may send
/// thousands of `x-amz-*` headers before any signature is checked; comparing every pair was quadratic). The answers
/// must not depend on which way they were computed.
@Suite struct ManyHeadersTests {
    private func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(method: "GET", target: "/bucket/key", headers: [("Host", "127.0.0.1")] + headers.map { ($0.0, $0.1) })
    }

    @Test func nameSetAnswersTheSameBeforeAndAfterItStartsHashing() {
        var set = NameSet()
        for i in 0..<(NameSet.linearLimit * 3) {
            let new = set.insert("name-\(i)"), again = set.insert("name-\(i)"), earlier = set.insert("name-\(i / 2)")
            #expect(new && !again && !earlier, "name-\(i)")
            #expect(set.contains("name-\(i)") && !set.contains("name-\(i + 1)"))
        }
        for count in [0, 1, NameSet.linearLimit, NameSet.linearLimit + 1, 100] {
            let names = (0..<count).map { "h\($0)" }
            let built = NameSet(names)
            #expect(names.allSatisfy(built.contains) && !built.contains("h\(count)"))
        }
    }

    @Test func aRepeatedHeaderIsFoundAmongManyDistinctOnes() throws {
        let distinct = (0..<40).map { ("X-Amz-Test-\($0)", "v") }
        try SigV4.checkNoDuplicates(head(distinct))
        for repeated in [0, 15, 16, 17, 39] {
            do {
                try SigV4.checkNoDuplicates(head(distinct + [("x-amz-test-\(repeated)", "again")]))
                Issue.record("a second x-amz-test-\(repeated) was accepted")
            } catch {
                #expect(error.code == "InvalidRequest" && error.message.contains("'x-amz-test-\(repeated)'"))
            }
        }
    }

    @Test func unsignedHeadersAreListedOnceAmongManySignedOnes() throws {
        let signed = (0..<40).map { "x-amz-test-\($0)" }
        let headers = signed.map { ($0, "v") } + [("X-Amz-Extra", "1"), ("x-amz-extra", "2"), ("x-amz-other", "3")]
        try SigV4.checkSignedCoverage(head(signed.map { ($0, "v") }), signedHeaders: ["host"] + signed, service: "s3")
        do {
            try SigV4.checkSignedCoverage(head(headers), signedHeaders: ["host"] + signed, service: "s3")
            Issue.record("unsigned x-amz-* headers were accepted")
        } catch {
            #expect(error.code == "AccessDenied" && error.message.hasSuffix("not signed: x-amz-extra, x-amz-other"))
        }
        let forwarded = SigV4.forwardableHeaders(of: head(headers), signedHeaders: ["host"] + signed, service: "s3")
        #expect(forwarded.map(\.name) == signed)
    }

    /// The canonical headers as the SigV4 rules define them, computed the plain way.
    private func reference(_ head: HTTPRequestHead, _ signed: [String]) -> String {
        signed.map { name in
            let values = head.headers.filter { $0.name.lowercased() == name }.map {
                $0.value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            }
            return "\(name):\(values.joined(separator: ","))\n"
        }.joined()
    }

    @Test func canonicalHeadersAreTheSameWhetherIndexedOrNot() {
        // Repeated names (values joined in arrival order), mixed case, inner and outer spaces, a signed name absent.
        var headers: [(String, String)] = [("X-Dup", " a  b "), ("x-amz-date", "20261127T000000Z"), ("x-dup", "c"), ("X-DUP", "d  ")]
        let few = ["host", "x-amz-date", "x-dup", "x-missing"]
        let small = head(headers)
        #expect(few.count * small.lowercasedNames.count <= SigV4.indexedCanonicalHeadersAbove)
        #expect(SigV4.canonicalHeaders(small, signedHeaders: few) == reference(small, few))
        headers += (0..<60).map { ("X-Amz-Meta-N\($0)", "value \($0)") }
        let many = few + (0..<60).map { "x-amz-meta-n\($0)" }.sorted()
        let large = head(headers)
        #expect(many.count * large.lowercasedNames.count > SigV4.indexedCanonicalHeadersAbove)
        #expect(SigV4.canonicalHeaders(large, signedHeaders: many) == reference(large, many))
        #expect(SigV4.canonicalHeaders(large, signedHeaders: few) == reference(large, few))
    }
}
