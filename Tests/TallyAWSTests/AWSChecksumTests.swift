import Foundation
import Testing
@testable import TallyAWS
import TallyCore

/// S3 flexible checksums (`x-amz-checksum-*`): the five algorithms against published check values and real captures,
/// incremental updates at every split, and the trailer rules the gateway enforces.
@Suite struct AWSChecksumTests {
    private func value(_ algorithm: AWSChecksumAlgorithm, _ bytes: [UInt8]) -> String {
        AWSChecksumHasher.value(algorithm, of: bytes)
    }

    private func hex(_ algorithm: AWSChecksumAlgorithm, _ bytes: [UInt8]) -> String {
        var h = AWSChecksumHasher(algorithm)
        h.update(bytes)
        return Hex.encode(h.finalize())
    }

    /// A bit-at-a-time reflected CRC (the definition), to check the slicing-by-8 tables against.
    private func reference<W: FixedWidthInteger & UnsignedInteger>(_ bytes: [UInt8], poly: W) -> W {
        var c = ~W(0)
        for b in bytes {
            c ^= W(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1 }
        }
        return ~c
    }

    @Test func checkValuesOf123456789() {
        let check = Array("123456789".utf8)
        #expect(hex(.crc32, check) == "cbf43926")
        #expect(hex(.crc32c, check) == "e3069283")
        #expect(hex(.crc64nvme, check) == "ae8b14860a799888")
        #expect(hex(.sha1, check) == "f7c3bc1d808e04732adf679965ccc34ca7ae3441")
        #expect(hex(.sha256, check) == "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225")
        #expect(value(.crc32, []) == "AAAAAA==" && value(.crc64nvme, []) == "AAAAAAAAAAA=")
    }

    @Test func realCapturesAndTheAWSExample() throws {
        // aws-cli's own trailers: capture 13 ("hello stdin") and capture 12 (the 2000 bytes of capture 10).
        #expect(value(.crc32, Array("hello stdin".utf8)) == "+tulQg==")
        let c10 = try Capture.load("10_s3_restxml_PutObject_http_signedpayload.http")
        #expect(value(.crc32, c10.body) == "fUFF+Q==")
        #expect(c10.head.value(of: "x-amz-checksum-crc32") == "fUFF+Q==")
        // The S3 documentation's signed-trailer example: 66,560 × "a", CRC32C sOO8/Q==.
        #expect(value(.crc32c, [UInt8](repeating: 97, count: 66560)) == "sOO8/Q==")
    }

    @Test func tablesAgreeWithTheDefinitionAtEveryLengthAndSplit() {
        let data = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 299, 300, 4096, 4109, 5000] {  // ≥ 64: CRC-32 folds
            let part = Array(data.prefix(n))
            #expect(hex(.crc32, part) == String(format: "%08x", reference(part, poly: UInt32(0xEDB8_8320))))
            #expect(hex(.crc32c, part) == String(format: "%08x", reference(part, poly: UInt32(0x82F6_3B78))))
            #expect(hex(.crc64nvme, part) == String(format: "%016llx", reference(part, poly: UInt64(0x9A6C_9329_AC4B_C9B5))))
        }
        for algorithm in AWSChecksumAlgorithm.allCases {
            let whole = hex(algorithm, data)
            for cut in [1, 3, 8, 13, 100, 299, 1000, 4937] {
                var h = AWSChecksumHasher(algorithm)
                h.update(Array(data[..<cut]))
                h.update(Array(data[cut...]))
                #expect(Hex.encode(h.finalize()) == whole, "\(algorithm) split at \(cut)")
            }
        }
    }

    @Test func declaredTrailerNamesOneKnownChecksum() throws {
        #expect(try AWSChecksumAlgorithm.declaredTrailer(nil) == nil)
        #expect(try AWSChecksumAlgorithm.declaredTrailer("x-amz-checksum-crc32") == .crc32)
        #expect(try AWSChecksumAlgorithm.declaredTrailer("X-Amz-Checksum-CRC64NVME") == .crc64nvme)
        #expect(try AWSChecksumAlgorithm.declaredTrailer("x-amz-meta-other") == nil)
        #expect { _ = try AWSChecksumAlgorithm.declaredTrailer("x-amz-checksum-md5") } throws: { ($0 as? AWSAuthError)?.code == "InvalidRequest" }
        #expect(throws: AWSAuthError.self) { _ = try AWSChecksumAlgorithm.declaredTrailer("x-amz-checksum-crc32, x-amz-checksum-sha1") }
    }

    @Test func trailerVerificationAnswersAsS3Does() throws {
        let payload = Array("hello stdin".utf8)
        var h = AWSChecksumHasher(.crc32)
        h.update(payload)
        let digest = h.finalize()
        #expect(try AWSChecksumAlgorithm.crc32.verifyTrailer([("x-amz-checksum-crc32", "+tulQg==")], digest: digest) == "+tulQg==")
        func code(_ trailers: [(String, String)]) -> String? {
            do { _ = try AWSChecksumAlgorithm.crc32.verifyTrailer(trailers, digest: digest); return nil } catch { return error.code }
        }
        #expect(code([("x-amz-checksum-crc32", "+tulQw==")]) == "BadDigest")
        #expect(code([("x-amz-checksum-crc32", "not base64!")]) == "InvalidRequest")
        #expect(code([("x-amz-checksum-crc32", "AAAAAAAAAAA=")]) == "InvalidRequest")  // the length of another algorithm
        #expect(code([]) == "InvalidRequest")
        #expect(code([("x-amz-checksum-crc32c", "+tulQg==")]) == "InvalidRequest")
        #expect(code([("x-amz-checksum-crc32", "+tulQg=="), ("x-amz-checksum-crc32", "+tulQg==")]) == "InvalidRequest")
        #expect(AWSChecksumAlgorithm.crc32.base64Length == 8 && AWSChecksumAlgorithm.crc64nvme.base64Length == 12
                && AWSChecksumAlgorithm.sha1.base64Length == 28)
    }
}
