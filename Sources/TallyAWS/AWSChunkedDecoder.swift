import Foundation
import TallyCore

/// Incremental decoder of `Content-Encoding: aws-chunked` bodies (S3 streaming uploads).
///
/// Framing: `hex-size[;chunk-signature=<64 hex>]\r\n<data>\r\n` repeated, a final `0[;chunk-signature=...]\r\n`,
/// then trailer lines `name:value\r\n` (and `x-amz-trailer-signature:<hex>\r\n` in the signed-trailer mode),
/// then an empty line `\r\n`.
///
/// Feed bytes as they arrive (split anywhere); decoded payload bytes come out. In the signed modes every chunk
/// signature is verified — string to sign `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous signature>\n
/// <sha256("")>\n<sha256(chunk)>`, chained from the seed (request) signature — and in
/// ``SigV4PayloadMode/streamingSignedTrailer`` the trailer signature (`AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n
/// <previous signature>\n<sha256(trailer lines "name:value\n")>`).
///
/// Memory is bounded: unsigned chunks pass straight through; a signed chunk is held until its signature
/// checks (unverified bytes are never released) and may be at most ``maximumSignedChunkSize`` bytes; size and
/// trailer lines are limited to ``maximumLineLength``.
public struct AWSChunkedDecoder: Sendable {
    /// The largest signed chunk accepted (held in memory until verified). SDKs use 8–128 KiB chunks.
    public static let maximumSignedChunkSize = 8 << 20
    /// The longest size or trailer line accepted.
    public static let maximumLineLength = 4096
    /// The most trailer bytes accepted in total.
    public static let maximumTrailerBytes = 16 << 10

    enum State: Sendable {
        case sizeLine
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLine
        case done
    }

    let mode: SigV4PayloadMode
    let verified: VerifiedSigV4?
    let expectedLength: Int?
    var previousSignature: String
    var state = State.sizeLine
    var line: [UInt8] = []
    var chunk: [UInt8] = []
    var chunkSignature = ""
    var trailers: [(String, String)] = []
    var trailerSignature: String?
    var trailerBytes = 0
    var failed: AWSAuthError?
    /// Decoded payload bytes produced so far.
    public private(set) var decodedCount = 0
    /// Number of chunks completed (the final zero-size chunk included).
    public private(set) var chunkCount = 0
    /// Bytes of a signed chunk held until its signature checks.
    public var heldBytes: Int { chunk.count }

    /// Creates a decoder for `mode` (one of the aws-chunked modes); `verified` (from
    /// ``SigV4/verify(_:auth:secretAccessKey:payloadHash:now:)``) is required for the signed modes.
    /// `decodedContentLength` (`x-amz-decoded-content-length`), when given, is checked at the end.
    public init(mode: SigV4PayloadMode, verified: VerifiedSigV4?, decodedContentLength: Int? = nil) {
        self.mode = mode
        self.verified = verified
        self.expectedLength = decodedContentLength
        self.previousSignature = verified?.seedSignature ?? ""
        if !mode.isChunked {
            failed = .invalidRequest("AWSChunkedDecoder needs an aws-chunked payload mode, not \(mode.literal ?? "none")")
        } else if mode.hasChunkSignatures && verified == nil {
            failed = .invalidRequest("signed aws-chunked decoding needs the verified request signature")
        }
    }

    var signed: Bool { mode.hasChunkSignatures }

    /// Feeds the next bytes of the body; returns the payload bytes decoded (and, when signed, verified) by them.
    /// After an error every later call throws the same error.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(AWSAuthError) -> [UInt8] {
        if let failed { throw failed }
        var out: [UInt8] = []
        let input = Array(bytes)
        var i = 0
        do {
            while i < input.count {
                switch state {
                case .sizeLine, .trailerLine:
                    let b = input[i]
                    i += 1
                    if b == 10 {
                        guard line.last == 13 else { throw AWSAuthError.incompleteBody("aws-chunked line not terminated by CRLF") }
                        line.removeLast()
                        if case .sizeLine = state { try endSizeLine() } else { try endTrailerLine() }
                        line.removeAll(keepingCapacity: true)
                    } else {
                        line.append(b)
                        if line.count > Self.maximumLineLength {
                            throw AWSAuthError.incompleteBody("aws-chunked line longer than \(Self.maximumLineLength) bytes")
                        }
                    }
                case .data(let remaining):
                    let n = min(remaining, input.count - i)
                    if signed {
                        chunk.append(contentsOf: input[i..<(i + n)])
                    } else {
                        out.append(contentsOf: input[i..<(i + n)])
                        decodedCount += n
                    }
                    i += n
                    state = remaining - n == 0 ? .dataCR : .data(remaining: remaining - n)
                case .dataCR:
                    guard input[i] == 13 else { throw AWSAuthError.incompleteBody("aws-chunked chunk data not followed by CRLF") }
                    i += 1
                    state = .dataLF
                case .dataLF:
                    guard input[i] == 10 else { throw AWSAuthError.incompleteBody("aws-chunked chunk data not followed by CRLF") }
                    i += 1
                    if signed {
                        try verifyChunk()
                        out.append(contentsOf: chunk)
                        decodedCount += chunk.count
                        chunk = []  // released: a verified chunk holds no memory (or budget) for the rest of the upload
                    }
                    chunkCount += 1
                    state = .sizeLine
                case .done:
                    throw AWSAuthError.incompleteBody("\(input.count - i) bytes after the end of the aws-chunked body")
                }
            }
            if let expectedLength, decodedCount > expectedLength {
                // At once, not only at the end: a re-encoder sized by the declared length must never see more.
                throw AWSAuthError.incompleteBody("the aws-chunked body decodes to more than its x-amz-decoded-content-length "
                                                  + "of \(expectedLength) bytes")
            }
        } catch let e as AWSAuthError {
            failed = e
            throw e
        } catch {
            let e = AWSAuthError.incompleteBody("\(error)")
            failed = e
            throw e
        }
        return out
    }

    /// Ends the body: throws when it is incomplete (or the decoded length differs from
    /// `x-amz-decoded-content-length`); returns the trailers (lower-case names, trimmed values) in order,
    /// without `x-amz-trailer-signature`.
    public mutating func finish() throws(AWSAuthError) -> [(String, String)] {
        if let failed { throw failed }
        guard case .done = state else {
            let e = AWSAuthError.incompleteBody("the aws-chunked body ended before its final chunk and trailer terminator")
            failed = e
            throw e
        }
        if let expectedLength, expectedLength != decodedCount {
            let e = AWSAuthError.incompleteBody("x-amz-decoded-content-length is \(expectedLength) but the aws-chunked body "
                                                + "decoded to \(decodedCount) bytes")
            failed = e
            throw e
        }
        return trailers
    }

    private mutating func endSizeLine() throws(AWSAuthError) {
        let text = String(decoding: line, as: UTF8.self)
        let parts = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        let hex = parts[0].trimmingSpaces
        guard !hex.isEmpty, hex.utf8.count <= 15, ASCII.isHex(hex), let size = Int(hex, radix: 16) else {
            throw .incompleteBody("aws-chunked chunk size '\(text.prefix(80))' is not a hexadecimal number")
        }
        chunkSignature = ""
        if parts.count > 1 {
            for ext in parts[1].split(separator: ";") {
                let kv = ext.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingSpaces == "chunk-signature" { chunkSignature = kv[1].trimmingSpaces.lowercased() }
            }
        }
        if signed {
            guard chunkSignature.utf8.count == 64 else {
                throw .signatureDoesNotMatch("aws-chunked chunk \(chunkCount + 1) has no valid chunk-signature")
            }
            guard size <= Self.maximumSignedChunkSize else {
                throw .invalidRequest("aws-chunked signed chunk of \(size) bytes exceeds the \(Self.maximumSignedChunkSize)-byte limit")
            }
            chunk.reserveCapacity(size)  // once, at its size (no regrowth; pages are used as bytes arrive)
        }
        if size == 0 {
            if signed { try verifyChunk() }
            chunkCount += 1
            state = .trailerLine
        } else {
            state = .data(remaining: size)
        }
    }

    private mutating func endTrailerLine() throws(AWSAuthError) {
        if line.isEmpty {
            if mode == .streamingSignedTrailer {
                guard let sig = trailerSignature else {
                    throw .signatureDoesNotMatch("the aws-chunked body has no x-amz-trailer-signature")
                }
                try verifyTrailer(sig)
            }
            state = .done
            return
        }
        if mode == .streamingSigned {
            // Nothing signs a trailer in this mode (AWS refuses one): the body ends with the zero chunk and an empty line.
            throw .incompleteBody("aws-chunked trailer line after the final chunk, but x-amz-content-sha256 "
                                  + "STREAMING-AWS4-HMAC-SHA256-PAYLOAD declares no trailer")
        }
        trailerBytes += line.count
        guard trailerBytes <= Self.maximumTrailerBytes else { throw .incompleteBody("aws-chunked trailers too large") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .incompleteBody("aws-chunked trailer line '\(String(decoding: line.prefix(80), as: UTF8.self))' has no ':'")
        }
        let name = String(decoding: line[..<colon], as: UTF8.self).trimmingSpaces.lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces
        if name == "x-amz-trailer-signature" {
            trailerSignature = value.lowercased()
        } else {
            guard trailerSignature == nil else { throw .incompleteBody("aws-chunked trailer after x-amz-trailer-signature") }
            trailers.append((name, value))
        }
    }

    private mutating func verifyChunk() throws(AWSAuthError) {
        guard let v = verified else { throw .invalidRequest("no signing context") }
        let expected = AWSChunkSigning.chunkSignature(chunk, previousSignature: previousSignature, context: v)
        guard constantTimeEquals(Array(expected.utf8), Array(chunkSignature.utf8)) else {
            throw .signatureDoesNotMatch("aws-chunked chunk \(chunkCount + 1) signature does not match")
        }
        previousSignature = expected
    }

    private mutating func verifyTrailer(_ sig: String) throws(AWSAuthError) {
        guard let v = verified else { throw .invalidRequest("no signing context") }
        let expected = AWSChunkSigning.trailerSignature(trailers, previousSignature: previousSignature, context: v)
        guard constantTimeEquals(Array(expected.utf8), Array(sig.utf8)) else {
            throw .signatureDoesNotMatch("aws-chunked trailer signature does not match")
        }
    }
}

/// The string-to-sign and signatures of aws-chunked chunks and trailers.
public enum AWSChunkSigning {
    /// Signature of one chunk: HMAC(signing key, `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous>\n
    /// <sha256("")>\n<sha256(chunk)>`).
    public static func chunkSignature(_ chunk: [UInt8], previousSignature: String, context: VerifiedSigV4) -> String {
        let sts = "AWS4-HMAC-SHA256-PAYLOAD\n\(context.amzDate)\n\(context.credentialScope)\n\(previousSignature)\n"
            + "\(SigV4.emptySHA256)\n\(Hex.encode(SHA256.hash(chunk)))"
        return SigV4.signature(signingKey: context.signingKey, stringToSign: sts)
    }

    /// Signature of the trailers: HMAC(signing key, `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<previous>\n
    /// <sha256(lines "name:value\n")>`).
    public static func trailerSignature(_ trailers: [(String, String)], previousSignature: String,
                                        context: VerifiedSigV4) -> String {
        let canonical = trailers.map { "\($0.0.lowercased()):\(SigV4.trimAll($0.1))\n" }.joined()
        let sts = "AWS4-HMAC-SHA256-TRAILER\n\(context.amzDate)\n\(context.credentialScope)\n\(previousSignature)\n"
            + Hex.encode(SHA256.hash(Array(canonical.utf8)))
        return SigV4.signature(signingKey: context.signingKey, stringToSign: sts)
    }
}

extension StringProtocol {
    var trimmingSpaces: String { trimmingCharacters(in: .whitespaces) }
}
