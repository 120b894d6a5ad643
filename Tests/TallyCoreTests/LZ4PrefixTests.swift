import Testing
@testable import TallyCore

/// `LZ4.compress(prefix:body:into:)` splices the prefix into the first literal run of body's block:
/// liblz4's own decoder must read back exactly prefix ‖ body, whatever the first run's length (short,
/// at the 15-byte token limit, across 255-byte extension steps) and whatever the prefix length.
@Suite struct LZ4PrefixTests {
    static func roundTrip(prefix: [UInt8], body: [UInt8]) throws -> Bool {
        var out = [UInt8](repeating: 0xEE, count: LZ4.prefixedBound(prefix: prefix.count, body: body.count))
        let range = try prefix.withUnsafeBytes { p in
            try body.withUnsafeBytes { b in try out.withUnsafeMutableBytes { try LZ4.compress(prefix: p, body: b, into: $0) } }
        }
        #expect(range.lowerBound <= prefix.count + 4 && range.upperBound <= out.count)
        let block = Array(out[range])
        let back = try LZ4.decompress(block, originalSize: prefix.count + body.count)
        return back == prefix + body
    }

    /// Bodies whose first literal run has every length 1...600: `run` distinct bytes, then a long repeat.
    @Test func everyFirstRunLengthAndPrefixLength() throws {
        var seed: UInt64 = 0x5EED
        func byte() -> UInt8 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: seed >> 33) }
        let noise = (0..<700).map { _ in byte() }
        for run in [1, 2, 5, 13, 14, 15, 16, 17, 29, 30, 31, 60, 268, 269, 270, 271, 284, 285, 300, 523, 524, 525, 526, 600] {
            let body = Array(noise[0..<run]) + [UInt8](repeating: 0x41, count: 200) + Array(noise[0..<run])
            for prefixLength in [0, 1, 2, 3, 9, 10, 14, 15, 16, 17, 40, 63, 64] {
                let prefix = (0..<prefixLength).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }
                #expect(try Self.roundTrip(prefix: prefix, body: body), "first run \(run), prefix \(prefixLength)")
            }
        }
    }

    /// Short, incompressible and large JSON-like bodies (matches far back, several MiB, literal-only blocks).
    @Test func realisticBodies() throws {
        var json: [UInt8] = []
        for i in 0..<40_000 {
            json += Array(#"{"action":"s3:GetObject","arn":"arn:aws:s3:::bucket-\#(i % 97)/key/\#(i)","seq":\#(i),"type":"call.requested"}"#.utf8) + [0x0A]
        }
        var seed: UInt64 = 42
        let random = (0..<100_000).map { _ -> UInt8 in seed = seed &* 6364136223846793005 &+ 1; return UInt8(truncatingIfNeeded: seed >> 40) }
        for body in [[UInt8(0x7B)], Array("{}\n".utf8), Array(json[0..<12]), json, random, Array(random[0..<20])] {
            for prefix: [UInt8] in [[], [0x00, 0x01], [0x85, 0x80, 0x04, 0x10], [UInt8](repeating: 0xFF, count: 64)] {
                #expect(try Self.roundTrip(prefix: prefix, body: body), "body of \(body.count) bytes, prefix \(prefix.count)")
            }
        }
    }
}
