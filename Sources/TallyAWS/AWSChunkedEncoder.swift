import TallyCore

/// Incremental aws-chunked encoder: what the gateway uses to re-sign a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
/// upload for the upstream (chunk signatures chained from the upstream request's seed signature, see
/// ``SigV4/sign(_:credentials:region:service:payloadHash:date:)``), or to frame an unsigned trailer upload.
///
/// Chunks have a fixed size (the last one may be shorter), so the encoded length is known in advance from
/// `x-amz-decoded-content-length` with ``encodedLength(decodedLength:chunkSize:mode:trailers:)`` — the
/// upstream request can carry a `Content-Length`. Memory is bounded by one chunk.
public struct AWSChunkedEncoder: Sendable {
    /// The default chunk size (64 KiB, as AWS recommends).
    public static let defaultChunkSize = 64 << 10

    let mode: SigV4PayloadMode
    let context: VerifiedSigV4?
    let chunkSize: Int
    var previousSignature: String
    var pending: [UInt8] = []

    /// Creates an encoder. `mode` is ``SigV4PayloadMode/streamingSigned``, ``SigV4PayloadMode/streamingSignedTrailer``
    /// (both need `context`, the value returned by ``SigV4/sign(_:credentials:region:service:payloadHash:date:)``) or
    /// ``SigV4PayloadMode/streamingUnsignedTrailer``.
    public init(mode: SigV4PayloadMode, context: VerifiedSigV4?, chunkSize: Int = defaultChunkSize) {
        precondition(mode.isChunked, "AWSChunkedEncoder needs an aws-chunked mode")
        precondition(!mode.hasChunkSignatures || context != nil, "signed aws-chunked encoding needs a signing context")
        precondition(chunkSize > 0)
        self.mode = mode
        self.context = context
        self.chunkSize = chunkSize
        self.previousSignature = context?.seedSignature ?? ""
        pending.reserveCapacity(chunkSize)
    }

    /// Adds payload bytes; returns the encoded bytes of every chunk completed by them.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(chunkSize - pending.count, rest.count)
            let end = rest.index(rest.startIndex, offsetBy: take)
            pending.append(contentsOf: rest[rest.startIndex..<end])
            rest = rest[end...]
            if pending.count == chunkSize {
                emit(pending, into: &out)
                pending.removeAll(keepingCapacity: true)
            }
        }
        return out
    }

    /// Ends the payload: the last partial chunk, the zero-size chunk, the trailers (with
    /// `x-amz-trailer-signature` in the signed-trailer mode) and the terminating empty line.
    public mutating func finish(trailers: [(String, String)] = []) -> [UInt8] {
        var out: [UInt8] = []
        if !pending.isEmpty {
            emit(pending, into: &out)
            pending.removeAll()
        }
        emit([], into: &out)
        for (n, v) in trailers { out += Array("\(n.lowercased()):\(v)\r\n".utf8) }
        if mode == .streamingSignedTrailer, let context {
            let sig = AWSChunkSigning.trailerSignature(trailers, previousSignature: previousSignature, context: context)
            out += Array("x-amz-trailer-signature:\(sig)\r\n".utf8)
        }
        out += [13, 10]
        return out
    }

    private mutating func emit(_ data: [UInt8], into out: inout [UInt8]) {
        var header = String(data.count, radix: 16)
        if mode.hasChunkSignatures, let context {
            let sig = AWSChunkSigning.chunkSignature(data, previousSignature: previousSignature, context: context)
            previousSignature = sig
            header += ";chunk-signature=" + sig
        }
        out += Array(header.utf8)
        out += [13, 10]
        if !data.isEmpty {
            out += data
            out += [13, 10]
        }
    }

    /// The encoded length of a payload of `decodedLength` bytes (for `Content-Length`).
    public static func encodedLength(decodedLength: Int, chunkSize: Int = defaultChunkSize, mode: SigV4PayloadMode,
                                     trailers: [(String, String)] = []) -> Int {
        let signed = mode.hasChunkSignatures
        func header(_ size: Int) -> Int { String(size, radix: 16).utf8.count + (signed ? 17 + 64 : 0) + 2 }
        var total = 0
        let full = decodedLength / chunkSize, last = decodedLength % chunkSize
        total += full * (header(chunkSize) + chunkSize + 2)
        if last > 0 { total += header(last) + last + 2 }
        total += header(0)
        for (n, v) in trailers { total += n.utf8.count + 1 + v.utf8.count + 2 }
        if mode == .streamingSignedTrailer { total += "x-amz-trailer-signature:".utf8.count + 64 + 2 }
        return total + 2
    }
}
