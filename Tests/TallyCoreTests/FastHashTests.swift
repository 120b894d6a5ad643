import Testing
import TallyCore

/// The ledger's hot-loop hashes (C helpers that pad the message themselves and fold CRC-32 with
/// carry-less multiplication) against independent references: libcrypto's EVP one-shot SHA-256
/// and a bit-at-a-time CRC-32 written here from the polynomial.
@Suite struct FastHashTests {
    /// Deterministic pseudo-random bytes (xorshift), so a failure reproduces.
    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = seed | 1
        return (0..<n).map { _ in x ^= x << 13; x ^= x >> 7; x ^= x << 17; return UInt8(truncatingIfNeeded: x) }
    }

    @Test func threePartDigestMatchesEVPForEverySplitAroundBlockBoundaries() {
        let data = Self.bytes(400, seed: 7)
        // Every total length 0...200 (all padding cases: 55, 56, 63, 64, 119, 120, ...) and several splits.
        for total in 0...200 {
            let want = SHA256.hash(Array(data[0..<total]))
            for (i, j) in [(0, 0), (0, total), (total, total), (total / 3, 2 * total / 3), (min(10, total), total),
                           (min(1, total), max(min(1, total), total - 1))] {
                var out = [UInt8](repeating: 0, count: 32)
                data.withUnsafeBytes { d in
                    out.withUnsafeMutableBytes { o in
                        SHA256.digest(UnsafeRawBufferPointer(rebasing: d[0..<i]), UnsafeRawBufferPointer(rebasing: d[i..<j]),
                                      UnsafeRawBufferPointer(rebasing: d[j..<total]), into: o.baseAddress!)
                    }
                }
                #expect(out == want, "length \(total), split \(i)/\(j)")
            }
        }
    }

    @Test func oneAndTwoPartDigestsMatchEVP() {
        for n in [0, 1, 55, 56, 64, 533, 4096 + 17] {
            let data = Self.bytes(n, seed: UInt64(n) + 3)
            var one = [UInt8](repeating: 0, count: 32), two = one
            data.withUnsafeBytes { d in
                one.withUnsafeMutableBytes { SHA256.digest(d, into: $0.baseAddress!) }
                two.withUnsafeMutableBytes {
                    SHA256.digest(UnsafeRawBufferPointer(rebasing: d[0..<(n / 2)]), UnsafeRawBufferPointer(rebasing: d[(n / 2)...]),
                                  into: $0.baseAddress!)
                }
            }
            #expect(one == SHA256.hash(data), "length \(n)")
            #expect(two == SHA256.hash(data), "length \(n), two parts")
        }
    }

    @Test func pairDigestMatchesEVP() {
        for prefix: UInt8 in [0, 1, 2, 0xFF] {
            let l = Self.bytes(32, seed: UInt64(prefix) + 11), r = Self.bytes(32, seed: UInt64(prefix) + 99)
            var out = [UInt8](repeating: 0, count: 32)
            l.withUnsafeBytes { lp in r.withUnsafeBytes { rp in
                out.withUnsafeMutableBytes { SHA256.digestPair(prefix: prefix, lp.baseAddress!, rp.baseAddress!, into: $0.baseAddress!) }
            } }
            #expect(out == SHA256.hash([prefix] + l + r))
        }
    }

    /// CRC-32 one bit at a time (reflected 0xEDB88320), the definition itself.
    static func bitwiseCRC(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    @Test func foldedCRCMatchesTheBitwiseDefinition() throws {
        try #require(CRC32Fold.isAvailable, "this CPU lacks PCLMULQDQ: the folding path cannot be checked here")
        let data = Self.bytes(5000, seed: 42)
        for (n, offset) in [(64, 0), (65, 3), (79, 1), (80, 0), (127, 5), (128, 0), (1000, 7), (4093, 13), (4900, 1)] {
            let slice = data[offset..<(offset + n)]
            var register: UInt32 = 0xFFFF_FFFF
            let used = slice.withUnsafeBytes { CRC32Fold.advance(&register, over: $0) }
            #expect(used == n & ~15)
            // Finish the tail bit by bit from the register the fold left.
            var c = register
            for b in slice.dropFirst(used) {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            }
            #expect(~c == Self.bitwiseCRC(slice), "length \(n) at offset \(offset)")
        }
        var r: UInt32 = 0
        #expect(data[0..<63].withUnsafeBytes { CRC32Fold.advance(&r, over: $0) } == 0, "shorter than 64 bytes is left to the table")
    }

    /// Recomputes the folding constants from P(x) = 0x104C11DB7: x^e mod P bit-reflected over 32 bits
    /// and shifted left by one, for e = 544, 480, 160, 96, 64; then P and floor(x^64 / P), reflected over 33 bits.
    @Test func foldingConstantsAreTheResiduesOfThePolynomial() {
        let p: UInt64 = 0x1_04C1_1DB7
        func xmod(_ e: Int) -> UInt64 {
            var r: UInt64 = 1
            for _ in 0..<e { r <<= 1; if r & (1 << 32) != 0 { r ^= p } }
            return r
        }
        func reflect(_ v: UInt64, bits: Int) -> UInt64 {
            var out: UInt64 = 0
            for i in 0..<bits where v & (1 << UInt64(i)) != 0 { out |= 1 << UInt64(bits - 1 - i) }
            return out
        }
        // floor(x^64 / P) by long division over GF(2): 65-bit dividend held as (hi bit, low 64).
        var quotient: UInt64 = 0
        var rem: (top: Bool, low: UInt64) = (true, 0)  // x^64
        for i in stride(from: 64, through: 32, by: -1) {
            let bit = i == 64 ? rem.top : rem.low & (1 << UInt64(i)) != 0
            if bit {
                quotient |= 1 << UInt64(i - 32)
                if i == 64 { rem.top = false; rem.low ^= p << 32 } else { rem.low ^= p << UInt64(i - 32) }
            }
        }
        let expected = [544, 480, 160, 96, 64].map { reflect(xmod($0), bits: 32) << 1 } + [reflect(p, bits: 33), reflect(quotient, bits: 33)]
        #expect(CRC32Fold.constants == expected)
    }

    /// HMAC-SHA256 runs on the padded SHA-256 helper: against RFC 2104 written here over libcrypto's EVP SHA-256,
    /// for keys shorter than, equal to and longer than a block (hashed first), and RFC 4231 test case 6.
    @Test func hmacMatchesRFC2104OverEVP() {
        func reference(_ key: [UInt8], _ msg: [UInt8]) -> [UInt8] {
            var k = key.count > 64 ? SHA256.hash(key) : key
            k += [UInt8](repeating: 0, count: 64 - k.count)
            let inner = SHA256.hash(k.map { $0 ^ 0x36 } + msg)
            return SHA256.hash(k.map { $0 ^ 0x5C } + inner)
        }
        let data = Self.bytes(400, seed: 11)
        for keyLength in [0, 1, 20, 31, 32, 55, 63, 64, 65, 100, 131, 200] {
            for msgLength in [0, 1, 12, 55, 56, 63, 64, 65, 119, 120, 200, 399] {
                let key = Array(data[0..<keyLength]), msg = Array(data[1..<(1 + msgLength)])
                #expect(HMACSHA256.mac(key: key, message: msg) == reference(key, msg), "key \(keyLength), message \(msgLength)")
            }
        }
        let rfc4231case6 = HMACSHA256.mac(key: [UInt8](repeating: 0xAA, count: 131),
                                          message: "Test Using Larger Than Block-Size Key - Hash Key First")
        #expect(Hex.encode(rfc4231case6) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }
}
