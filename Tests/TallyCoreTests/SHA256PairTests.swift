import Foundation
import Testing
import TallyCore

/// `SHA256.digest2` (two messages interleaved on the SHA extensions, CTallyShim/sha256_x2.c)
/// against libcrypto's EVP one-shot SHA-256 of each concatenation: every total length around the
/// padding and block boundaries, part splits that put block edges inside and across parts, and
/// pairs of unequal length (one lane finishes alone).
@Suite struct SHA256PairTests {
    static func digest2(_ m0: [UInt8], _ i0: Int, _ j0: Int, _ m1: [UInt8], _ i1: Int, _ j1: Int) -> ([UInt8], [UInt8]) {
        var o0 = [UInt8](repeating: 0, count: 32), o1 = o0
        m0.withUnsafeBytes { d0 in
            m1.withUnsafeBytes { d1 in
                o0.withUnsafeMutableBytes { p0 in
                    o1.withUnsafeMutableBytes { p1 in
                        SHA256.digest2(UnsafeRawBufferPointer(rebasing: d0[0..<i0]), UnsafeRawBufferPointer(rebasing: d0[i0..<j0]),
                                       UnsafeRawBufferPointer(rebasing: d0[j0...]), into: p0.baseAddress!,
                                       UnsafeRawBufferPointer(rebasing: d1[0..<i1]), UnsafeRawBufferPointer(rebasing: d1[i1..<j1]),
                                       UnsafeRawBufferPointer(rebasing: d1[j1...]), into: p1.baseAddress!)
                    }
                }
            }
        }
        return (o0, o1)
    }

    @Test func everyLengthAndSplitMatchesEVP() {
        let data = FastHashTests.bytes(1200, seed: 11)
        for total in 0...300 {
            let m0 = Array(data[0..<total])
            let m1 = Array(data[(300 - total / 2)..<(300 + total / 2 + 37)])  // a different length
            let want0 = SHA256.hash(m0), want1 = SHA256.hash(m1)
            for (i, j) in [(0, 0), (0, total), (total, total), (min(10, total), total), (min(10, total), max(min(10, total), total - 40)),
                           (total / 3, 2 * total / 3)] {
                let (o0, o1) = Self.digest2(m0, i, j, m1, min(i, m1.count), min(j, m1.count))
                #expect(o0 == want0, "first message, length \(total), split \(i)/\(j)")
                #expect(o1 == want1, "second message, length \(m1.count), split \(i)/\(j)")
                let (p1, p0) = Self.digest2(m1, 0, m1.count, m0, i, j)  // lanes swapped
                #expect(p0 == want0 && p1 == want1, "swapped lanes, lengths \(total) and \(m1.count)")
            }
        }
    }

    @Test func ledgerSizedRecordsMatchEVP() {
        let data = FastHashTests.bytes(20_000, seed: 5)
        var x: UInt64 = 99
        for _ in 0..<2000 {
            x = x &* 6364136223846793005 &+ 1
            let n0 = Int(x >> 33) % 900, n1 = Int(x >> 45) % 900, at = Int(x >> 20) % 10_000
            let m0 = Array(data[at..<(at + n0)]), m1 = Array(data[(at + 7)..<(at + 7 + n1)])
            let (o0, o1) = Self.digest2(m0, min(10, n0), max(min(10, n0), n0 - 41), m1, min(10, n1), max(min(10, n1), n1 - 41))
            #expect(o0 == SHA256.hash(m0) && o1 == SHA256.hash(m1), "lengths \(n0), \(n1)")
        }
    }

    /// The interleaved path is the one under test wherever the CPU has the SHA extensions (Linux
    /// reports them as the `sha_ni` flag), not the one-after-the-other fallback.
    @Test func interleavesWhereTheCPUHasSHAExtensions() throws {
        #if arch(x86_64) && os(Linux)
        let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map(String.init) ?? ""
        let hasSHA = flags.split(separator: " ").contains("sha_ni")
        #expect(SHA256.interleavesTwoMessages == hasSHA, "cpuinfo sha_ni \(hasSHA)")
        #endif
    }
}
