import Foundation
public import TallyCore

/// The S3 flexible-checksum algorithms (`x-amz-checksum-ALGORITHM`, as a header or an aws-chunked trailer). The value is
/// the base64 of the big-endian digest: CRC32 (IEEE), CRC32C (Castagnoli), CRC64NVME (4 bytes, 4, 8), SHA-1, SHA-256.
public enum AWSChecksumAlgorithm: String, Sendable, CaseIterable {
    case crc32, crc32c, crc64nvme, sha1, sha256

    /// The algorithm named by a header or trailer name such as `x-amz-checksum-crc32` (any case), or nil.
    public init?(headerName: some StringProtocol) {
        let name = headerName.lowercased()
        guard name.hasPrefix(Self.headerPrefix) else { return nil }
        self.init(rawValue: String(name.dropFirst(Self.headerPrefix.count)))
    }

    /// `x-amz-checksum-`.
    public static let headerPrefix = "x-amz-checksum-"

    /// `x-amz-checksum-crc32` etc.
    public var headerName: String { Self.headerPrefix + rawValue }

    /// The digest length in bytes.
    public var digestLength: Int {
        switch self {
        case .crc32, .crc32c: return 4
        case .crc64nvme: return 8
        case .sha1: return 20
        case .sha256: return 32
        }
    }

    /// How S3 names it in messages (`CRC32`, `SHA256`, ...).
    public var displayName: String { rawValue.uppercased() }
}

/// A streaming checksum of one ``AWSChecksumAlgorithm``.
public struct AWSChecksumHasher: ~Copyable {
    public let algorithm: AWSChecksumAlgorithm
    private var crc: UInt64 = 0
    private var sha1: SHA1?
    private var sha256: SHA256?

    public init(_ algorithm: AWSChecksumAlgorithm) {
        self.algorithm = algorithm
        if algorithm == .sha1 { sha1 = SHA1() }
        if algorithm == .sha256 { sha256 = SHA256() }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch algorithm {
        case .crc32:
            // CRC-32 is the ledger's: fold with PCLMULQDQ where the CPU has it (TallyCore), the rest by table.
            var register = ~UInt32(truncatingIfNeeded: crc)
            let folded = CRC32Fold.advance(&register, over: bytes)
            crc = UInt64(CRCTables.crc32.update(~register, UnsafeRawBufferPointer(rebasing: bytes[folded...])))
        case .crc32c: crc = UInt64(CRCTables.crc32c.update(UInt32(truncatingIfNeeded: crc), bytes))
        case .crc64nvme: crc = CRCTables.crc64nvme.update(crc, bytes)
        case .sha1: sha1!.update(bytes)
        case .sha256: sha256!.update(bytes)
        }
    }

    public mutating func update(_ bytes: some TallyCore.ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest (big-endian for the CRCs). The hasher is consumed.
    public consuming func finalize() -> [UInt8] {
        switch algorithm {
        case .crc32, .crc32c: return withUnsafeBytes(of: UInt32(truncatingIfNeeded: crc).bigEndian) { Array($0) }
        case .crc64nvme: return withUnsafeBytes(of: crc.bigEndian) { Array($0) }
        case .sha1: return sha1.take()!.finalize()
        case .sha256: return sha256.take()!.finalize()
        }
    }

    /// The base64 value S3 expects (`x-amz-checksum-crc32: fUFF+Q==`) of `bytes`.
    public static func value(_ algorithm: AWSChecksumAlgorithm, of bytes: some TallyCore.ContiguousBytes) -> String {
        var h = AWSChecksumHasher(algorithm)
        h.update(bytes)
        return Data(h.finalize()).base64EncodedString()
    }
}

/// Slicing-by-8 tables of a reflected CRC (init and final XOR all ones), 8 × 256 words in one array.
struct CRCTables<Word: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    let table: [Word]

    init(reflectedPolynomial poly: Word) {
        var t = [Word](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = Word(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let previous = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (previous >> 8) ^ t[Int(truncatingIfNeeded: previous & 0xFF)]
            }
        }
        table = t
    }

    /// The CRC of (what `crc` covers) followed by `bytes`; `crc` is a finished value (0 for nothing).
    func update(_ crc: Word, _ bytes: UnsafeRawBufferPointer) -> Word {
        guard bytes.count > 0, let base = bytes.baseAddress else { return crc }
        let n = bytes.count
        var c = ~crc
        table.withUnsafeBufferPointer { t in
            var i = 0
            while i + 8 <= n {
                // 8 bytes at once: the CRC (32 or 64 bits) is folded into the first bytes, each byte has its table.
                let x = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ UInt64(truncatingIfNeeded: c)
                let lo: Word = t[7 * 256 + Int(x & 0xFF)] ^ t[6 * 256 + Int((x >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((x >> 16) & 0xFF)]
                let mid: Word = t[4 * 256 + Int((x >> 24) & 0xFF)] ^ t[3 * 256 + Int((x >> 32) & 0xFF)]
                    ^ t[2 * 256 + Int((x >> 40) & 0xFF)]
                let hi: Word = t[1 * 256 + Int((x >> 48) & 0xFF)] ^ t[Int(x >> 56)]
                c = lo ^ mid ^ hi
                i += 8
            }
            while i < n {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                c = t[Int(truncatingIfNeeded: (c ^ Word(b)) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }
}

extension CRCTables where Word == UInt32 {
    static let crc32 = CRCTables(reflectedPolynomial: 0xEDB8_8320)
    static let crc32c = CRCTables(reflectedPolynomial: 0x82F6_3B78)
}

extension CRCTables where Word == UInt64 {
    static let crc64nvme = CRCTables(reflectedPolynomial: 0x9A6C_9329_AC4B_C9B5)
}

extension AWSChecksumAlgorithm {
    /// The algorithm of the one checksum trailer an aws-chunked upload declares in `x-amz-trailer` (nil when it declares
    /// none). Throws `InvalidRequest` for an `x-amz-checksum-*` name S3 does not define, or more than one checksum.
    public static func declaredTrailer(_ xAmzTrailer: String?) throws(AWSAuthError) -> AWSChecksumAlgorithm? {
        guard let xAmzTrailer else { return nil }
        var found: AWSChecksumAlgorithm?
        for name in xAmzTrailer.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            guard name.hasPrefix(headerPrefix) else { continue }
            guard let algorithm = AWSChecksumAlgorithm(headerName: name) else {
                throw .invalidRequest("x-amz-trailer names \(name), which is not a checksum S3 supports "
                                      + "(\(allCases.map(\.headerName).joined(separator: ", ")))")
            }
            guard found == nil else { throw .invalidRequest("x-amz-trailer declares more than one checksum") }
            found = algorithm
        }
        return found
    }

    /// Checks the trailers of an aws-chunked body against the digest of its decoded payload: the declared checksum
    /// trailer must be there, be the base64 of a digest of the right length (`InvalidRequest` otherwise, as S3 answers),
    /// and match (`BadDigest` otherwise); no other checksum trailer may appear. Returns the canonical value.
    public func verifyTrailer(_ trailers: [(String, String)], digest: [UInt8]) throws(AWSAuthError) -> String {
        var value: String?
        for (name, v) in trailers where name.lowercased().hasPrefix(Self.headerPrefix) {
            guard name.lowercased() == headerName, value == nil else {
                throw .invalidRequest("the aws-chunked trailer \(name) was not declared in x-amz-trailer (\(headerName) was)")
            }
            value = v
        }
        guard let value else { throw .invalidRequest("the aws-chunked body has no \(headerName) trailer, which x-amz-trailer declares") }
        return try verify(value, digest: digest, as: "trailing header")
    }

    /// Checks a declared base64 `value` (a header or a trailer, named by `as` in errors) against `digest`:
    /// `InvalidRequest` when it is not the base64 of a digest of this length, `BadDigest` when it differs (S3's
    /// answers). Returns the canonical value.
    public func verify(_ value: String, digest: [UInt8], as kind: String = "header") throws(AWSAuthError) -> String {
        guard let provided = Data(base64Encoded: value), provided.count == digestLength else {
            throw .invalidRequest("Value for \(headerName) \(kind) is invalid.")
        }
        guard constantTimeEquals(Array(provided), digest) else {
            throw AWSAuthError(code: "BadDigest", message: "The \(displayName) you specified did not match the calculated checksum.",
                               httpStatus: 400)
        }
        return Data(digest).base64EncodedString()
    }

    /// The one `x-amz-checksum-ALGORITHM` header of a request and its value (nil when there is none; the
    /// `x-amz-checksum-type/-mode/-algorithm` headers are no checksums). Throws `InvalidRequest` for two of them.
    public static func declaredHeader(_ head: HTTPRequestHead) throws(AWSAuthError) -> (AWSChecksumAlgorithm, String)? {
        var found: (AWSChecksumAlgorithm, String)?
        for (name, value) in head.headers {
            guard let algorithm = AWSChecksumAlgorithm(headerName: name) else { continue }
            guard found == nil else { throw .invalidRequest("Expecting a single x-amz-checksum- header") }
            found = (algorithm, value.trimmingCharacters(in: .whitespaces))
        }
        return found
    }

    /// The length of a canonical base64 value (what the gateway writes in a re-encoded trailer).
    public var base64Length: Int { (digestLength + 2) / 3 * 4 }
}
