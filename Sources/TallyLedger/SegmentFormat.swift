import TallyCore

/// Byte layouts of segment files (docs/LEDGER-FORMAT.md, "Segment files"). All integers little-endian.
enum SegmentFormat {
    static let segmentMagic = Array("TALLYSEG".utf8)
    static let blockMagic = Array("TBLK".utf8)
    static let version: UInt32 = 1
    /// magic 4, compressed 4, uncompressed 4, count 4, first seq 8, base time 8, end chain 32, crc 4.
    static let blockHeaderSize = 68
    /// Upper bound a reader accepts for one block's uncompressed size.
    static let maxBlockBytes = 256 << 20
}

/// A segment header: where the segment starts and the chain state it starts from.
struct SegmentHeader: Equatable {
    var index: UInt32
    var firstSeq: UInt64
    var startChain: Digest
    var startFrontier: MerkleFrontier

    var encodedSize: Int { 64 + 32 * startFrontier.hashes.count }

    func encoded() -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(encodedSize)
        b.append(contentsOf: SegmentFormat.segmentMagic)
        b.appendLE(SegmentFormat.version)
        b.appendLE(index)
        b.appendLE(firstSeq)
        b.append(contentsOf: startChain.bytes)
        b.appendLE(UInt32(startFrontier.hashes.count))
        for h in startFrontier.hashes { b.append(contentsOf: h.bytes) }
        b.appendLE(CRC32.checksum(b))
        return b
    }

    enum Decoded { case ok(SegmentHeader, Int), incomplete, corrupt(String) }

    static func decode(_ bytes: UnsafeRawBufferPointer) -> Decoded {
        guard bytes.count >= 64 else { return .incomplete }
        guard Array(bytes[0..<8]) == SegmentFormat.segmentMagic else { return .corrupt("bad segment magic") }
        var r = ByteReader(bytes, at: 8)
        let version = r.readLE(UInt32.self)!
        let index = r.readLE(UInt32.self)!
        let firstSeq = r.readLE(UInt64.self)!
        let chain = Digest(r.readBytes(32)!)!
        let count = Int(r.readLE(UInt32.self)!)
        guard count <= 64 else { return .corrupt("segment header frontier count \(count) is impossible") }
        let total = 64 + 32 * count
        guard bytes.count >= total else { return .incomplete }
        var hashes: [Digest] = []
        for _ in 0..<count { hashes.append(Digest(r.readBytes(32)!)!) }
        let crc = r.readLE(UInt32.self)!
        guard CRC32.update(0, UnsafeRawBufferPointer(rebasing: bytes[0..<(total - 4)])) == crc else {
            return .corrupt("segment header checksum mismatch")
        }
        guard version == SegmentFormat.version else { return .corrupt("unsupported segment version \(version)") }
        guard firstSeq >= 1, let frontier = MerkleFrontier(size: firstSeq - 1, hashes: hashes) else {
            return .corrupt("segment header frontier does not match its first seq \(firstSeq)")
        }
        return .ok(SegmentHeader(index: index, firstSeq: firstSeq, startChain: chain, startFrontier: frontier), total)
    }
}

/// A block header (68 bytes) in front of an LZ4 payload.
struct BlockHeader {
    var compressedLength: UInt32
    var uncompressedLength: UInt32
    var recordCount: UInt32
    var firstSeq: UInt64
    var baseTime: Int64
    var endChain: Digest

    var totalSize: Int { SegmentFormat.blockHeaderSize + Int(compressedLength) }

    /// The LZ4 payload of this block, whose header starts at `offset` in `bytes`.
    func payload(in bytes: UnsafeRawBufferPointer, at offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[(offset + SegmentFormat.blockHeaderSize)..<(offset + totalSize)])
    }
    var lastSeq: UInt64 { firstSeq + UInt64(recordCount) - 1 }

    /// The header bytes [0, 64) (everything but the CRC).
    private func fieldBytes(reserving extra: Int = 0) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(64 + extra)
        b.append(contentsOf: SegmentFormat.blockMagic)
        b.appendLE(compressedLength)
        b.appendLE(uncompressedLength)
        b.appendLE(recordCount)
        b.appendLE(firstSeq)
        b.appendLE(baseTime)
        b.append(contentsOf: endChain.bytes)
        return b
    }

    /// Fills the header (with its CRC) into the first 68 bytes of `block`, whose remaining bytes
    /// are the payload, in place.
    func fill(_ block: UnsafeMutableRawBufferPointer) {
        precondition(block.count == SegmentFormat.blockHeaderSize + Int(compressedLength))
        var b = fieldBytes()
        var crc = b.withUnsafeBytes { CRC32.update(0, $0) }
        crc = CRC32.update(crc, UnsafeRawBufferPointer(rebasing: block[SegmentFormat.blockHeaderSize...]))
        b.appendLE(crc)
        block.copyBytes(from: b)
    }

    /// Header bytes + payload, with the CRC over header[0..<64] ‖ payload.
    func encoded(payload: [UInt8]) -> [UInt8] {
        var b = fieldBytes(reserving: 4 + payload.count)
        var crc = b.withUnsafeBytes { CRC32.update(0, $0) }
        crc = payload.withUnsafeBytes { CRC32.update(crc, $0) }
        b.appendLE(crc)
        b.append(contentsOf: payload)
        return b
    }

    enum Decoded { case ok(BlockHeader), incomplete, corrupt(String) }

    /// Decodes and checks the block at the start of `bytes` (header, CRC over header and payload).
    static func decode(_ bytes: UnsafeRawBufferPointer) -> Decoded {
        guard bytes.count >= SegmentFormat.blockHeaderSize else { return .incomplete }
        guard Array(bytes[0..<4]) == SegmentFormat.blockMagic else { return .corrupt("bad block magic") }
        var r = ByteReader(bytes, at: 4)
        let h = BlockHeader(
            compressedLength: r.readLE(UInt32.self)!, uncompressedLength: r.readLE(UInt32.self)!,
            recordCount: r.readLE(UInt32.self)!, firstSeq: r.readLE(UInt64.self)!, baseTime: r.readLE(Int64.self)!,
            endChain: Digest(r.readBytes(32)!)!)
        let crc = r.readLE(UInt32.self)!
        guard Int(h.uncompressedLength) <= SegmentFormat.maxBlockBytes, h.recordCount > 0,
              Int(h.compressedLength) <= LZ4.compressBound(Int(h.uncompressedLength)) else {
            if bytes.count < h.totalSize { return .incomplete }
            return .corrupt("block header fields are impossible")
        }
        guard bytes.count >= h.totalSize else { return .incomplete }
        var c = CRC32.update(0, UnsafeRawBufferPointer(rebasing: bytes[0..<64]))
        c = CRC32.update(c, UnsafeRawBufferPointer(rebasing: bytes[SegmentFormat.blockHeaderSize..<h.totalSize]))
        guard c == crc else { return .corrupt("block checksum mismatch") }
        return .ok(h)
    }
}

/// The uncompressed content of a block: time runs, then `count` events each followed by 0x0A.
enum BlockContent {
    /// Encodes time runs: (delta from the previous run's time, starting at the base time; count).
    static func encodeTimes(_ runs: [(delta: UInt64, count: UInt64)], into out: inout [UInt8]) {
        for r in runs { out.appendVarint(r.delta); out.appendVarint(r.count) }
    }

    /// Calls `body(seq, timeMs, event)` for each record; throws a description of malformed content.
    static func forEachRecord(_ content: UnsafeRawBufferPointer, header: BlockHeader,
                              _ body: (UInt64, Int64, UnsafeRawBufferPointer) throws -> Void) throws {
        var r = ByteReader(content)
        var runs: [(Int64, UInt64)] = []
        var total: UInt64 = 0
        var t = header.baseTime
        while total < UInt64(header.recordCount) {
            guard let delta = r.readVarint(), let count = r.readVarint(), count > 0, delta < (1 << 62),
                  total + count <= UInt64(header.recordCount) else {
                throw TallyError(.integrity, "malformed time runs")
            }
            t += Int64(delta)
            runs.append((t, count))
            total += count
        }
        var pos = r.pos
        var seq = header.firstSeq
        let base = content.baseAddress!
        for (time, count) in runs {
            for _ in 0..<count {
                guard pos < content.count, let nl = memchr(base + pos, 0x0A, content.count - pos) else {
                    throw TallyError(.integrity, "fewer events than the record count")
                }
                let end = base.distance(to: UnsafeRawPointer(nl))
                guard end > pos else { throw TallyError(.integrity, "empty event") }
                try body(seq, time, UnsafeRawBufferPointer(start: base + pos, count: end - pos))
                pos = end + 1
                seq += 1
            }
        }
        guard pos == content.count else { throw TallyError(.integrity, "\(content.count - pos) bytes after the last event") }
    }
}

/// Builds record bytes and leaf hashes (docs/LEDGER-FORMAT.md, "Records").
struct RecordBuilder {
    private var buf: [UInt8] = []
    private var cachedTime: Int64 = .min
    private var timeSuffixBytes: [UInt8] = []

    init() { buf.reserveCapacity(4096) }

    /// The record: {"event":E,"seq":N,"time":"T"}.
    static func record(event: UnsafeRawBufferPointer, seq: UInt64, time: Int64) -> [UInt8] {
        var b = RecordBuilder()
        b.build(event: event, seq: seq, time: time, leafPrefix: false)
        return b.buf
    }

    private mutating func build(event: UnsafeRawBufferPointer, seq: UInt64, time: Int64, leafPrefix: Bool) {
        buf.removeAll(keepingCapacity: true)
        if leafPrefix { buf.append(0) }
        buf.append(contentsOf: RecordBuilder.eventPrefix)
        buf.append(contentsOf: event)
        buf.append(contentsOf: RecordBuilder.seqPrefix)
        Self.appendDecimal(seq, to: &buf)
        buf.append(contentsOf: timeSuffix(time))
    }

    /// `,"time":"T"}` for `time`, cached for the last time seen.
    private mutating func timeSuffix(_ time: Int64) -> [UInt8] {
        if time != cachedTime {
            cachedTime = time
            timeSuffixBytes = Array(",\"time\":\"".utf8)
            LedgerTime.append(time, to: &timeSuffixBytes)
            timeSuffixBytes.append(contentsOf: "\"}".utf8)
        }
        return timeSuffixBytes
    }

    /// Appends `v` in decimal: digits least significant first, then reversed in place (no temporary allocation).
    private static func appendDecimal(_ v: UInt64, to out: inout [UInt8]) {
        let start = out.count
        var x = v
        repeat { out.append(UInt8(0x30 + x % 10)); x /= 10 } while x > 0
        out[start...].reverse()
    }

    static let eventPrefix = Array("{\"event\":".utf8)
    static let seqPrefix = Array(",\"seq\":".utf8)

    /// SHA-256(0x00 ‖ record), hashing the event in place (no copy). The suffix
    /// `,"seq":N,"time":"T"}` is kept between calls: for consecutive seqs at the same time only
    /// its digits are incremented in place.
    mutating func leaf(event: UnsafeRawBufferPointer, seq: UInt64, time: Int64) -> Digest {
        prepareSuffix(seq: seq, time: time)
        var d = Digest()
        leafPrefix.withUnsafeBytes { p in
            suffix.withUnsafeBytes { s in
                Swift.withUnsafeMutableBytes(of: &d) { SHA256.digest(p, event, s, into: $0.baseAddress!) }
            }
        }
        return d
    }

    /// The leaves of two records at once (`SHA256.digest2`: interleaved on the SHA extensions),
    /// the same as `leaf` twice.
    mutating func leafPair(_ e0: UnsafeRawBufferPointer, seq s0: UInt64, time t0: Int64,
                           _ e1: UnsafeRawBufferPointer, seq s1: UInt64, time t1: Int64) -> (Digest, Digest) {
        prepareSuffix(seq: s0, time: t0)
        firstSuffix.removeAll(keepingCapacity: true)
        firstSuffix.append(contentsOf: suffix)
        prepareSuffix(seq: s1, time: t1)
        var d0 = Digest(), d1 = Digest()
        leafPrefix.withUnsafeBytes { p in
            firstSuffix.withUnsafeBytes { x0 in
                suffix.withUnsafeBytes { x1 in
                    Swift.withUnsafeMutableBytes(of: &d0) { o0 in
                        Swift.withUnsafeMutableBytes(of: &d1) { o1 in
                            SHA256.digest2(p, e0, x0, into: o0.baseAddress!, p, e1, x1, into: o1.baseAddress!)
                        }
                    }
                }
            }
        }
        return (d0, d1)
    }

    /// `suffix` := `,"seq":N,"time":"T"}` for `seq` and `time`.
    private mutating func prepareSuffix(seq: UInt64, time: Int64) {
        if time != cachedTime || suffixSeq == 0 || seq != suffixSeq &+ 1 || !incrementSuffixSeq() {
            let t = timeSuffix(time)
            suffix.removeAll(keepingCapacity: true)
            suffix.append(contentsOf: RecordBuilder.seqPrefix)
            Self.appendDecimal(seq, to: &suffix)
            digitsEnd = suffix.count
            suffix.append(contentsOf: t)
        }
        suffixSeq = seq
    }

    /// Adds one to the decimal seq in `suffix`; false when that needs one more digit.
    private mutating func incrementSuffixSeq() -> Bool {
        let first = RecordBuilder.seqPrefix.count
        var i = digitsEnd - 1
        return suffix.withUnsafeMutableBufferPointer { b in
            while i >= first {
                if b[i] != UInt8(ascii: "9") { b[i] += 1; return true }
                b[i] = UInt8(ascii: "0")
                i -= 1
            }
            return false
        }
    }

    private var suffix: [UInt8] = []
    private var firstSuffix: [UInt8] = []
    private var suffixSeq: UInt64 = 0
    private var digitsEnd = 0
    private let leafPrefix: [UInt8] = RecordBuilder.leafPrefix

    static let leafPrefix: [UInt8] = [0] + Array("{\"event\":".utf8)
}

#if canImport(Glibc)
import Glibc
#endif
