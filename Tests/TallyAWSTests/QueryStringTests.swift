import Testing
import TallyAWS

/// `QueryString.rawPairs` splits on the bytes `&` and `=` exactly as the Character-based version did.
@Suite struct QueryStringTests {
    private func pairs(_ q: String) -> [String] { QueryString.rawPairs(q).map { "\($0.name)|\($0.value)" } }

    @Test func splitsPairsAndValues() {
        #expect(pairs("") == [])
        #expect(pairs("a") == ["a|"])
        #expect(pairs("a=") == ["a|"])
        #expect(pairs("=b") == ["|b"])
        #expect(pairs("a=1&b=2") == ["a|1", "b|2"])
        #expect(pairs("a=b=c") == ["a|b=c"])
        #expect(pairs("&&a=1&&b&") == ["a|1", "b|"])
        #expect(pairs("k%C3%A9=v%20w&x=%2F") == ["k%C3%A9|v%20w", "x|%2F"])
        #expect(pairs("é=ü&ñ") == ["é|ü", "ñ|"])
    }

    @Test func decodedPairsDecodePercentEscapes() {
        let d = QueryString.decodedPairs("X-Amz-Credential=AKID%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&x=a+b")
        #expect(d.map(\.name) == ["X-Amz-Credential", "x"])
        #expect(d.map(\.value) == ["AKID/20261126/us-east-1/s3/aws4_request", "a+b"])
    }
}
