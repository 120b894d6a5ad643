import TallyCore

/// Splits a segment file's bytes into its header and blocks, resynchronising after damage by
/// searching for the next block that decodes with a valid checksum.
struct SegmentScan {
    enum Entry {
        case good(offset: Int, header: BlockHeader)
        /// Bytes [offset, end) do not form valid blocks, and a valid block follows.
        case damaged(offset: Int, end: Int, reason: String)
        /// Bytes [offset, EOF) do not form a valid block and nothing valid follows: a torn
        /// append, unless checkpoints show the records were committed.
        case tail(offset: Int, reason: String)
    }

    var header: SegmentHeader?
    var headerLength = 0
    var headerProblem: String?
    var headerIncomplete = false
    var entries: [Entry] = []

    init(_ bytes: UnsafeRawBufferPointer) {
        var pos = 0
        switch SegmentHeader.decode(bytes) {
        case .ok(let h, let n):
            header = h
            headerLength = n
            pos = n
        case .incomplete:
            headerIncomplete = true
            return
        case .corrupt(let why):
            headerProblem = why
            // Find the first block to keep going.
            guard let q = SegmentScan.nextValidBlock(bytes, after: 7) else {
                if bytes.count > 64 { entries.append(.tail(offset: 64, reason: why)) }
                return
            }
            pos = q
        }
        while pos < bytes.count {
            switch BlockHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[pos...])) {
            case .ok(let h):
                entries.append(.good(offset: pos, header: h))
                pos += h.totalSize
            case .incomplete:
                if let q = SegmentScan.nextValidBlock(bytes, after: pos) {
                    entries.append(.damaged(offset: pos, end: q, reason: "block truncated or its length field is damaged"))
                    pos = q
                } else {
                    entries.append(.tail(offset: pos, reason: "incomplete block at the end of the file"))
                    return
                }
            case .corrupt(let why):
                if let q = SegmentScan.nextValidBlock(bytes, after: pos) {
                    entries.append(.damaged(offset: pos, end: q, reason: why))
                    pos = q
                } else {
                    entries.append(.tail(offset: pos, reason: why))
                    return
                }
            }
        }
    }

    /// The offset of the next block after `after` whose header and checksum are valid.
    static func nextValidBlock(_ bytes: UnsafeRawBufferPointer, after: Int) -> Int? {
        var p = after + 1
        let m = SegmentFormat.blockMagic
        while p + SegmentFormat.blockHeaderSize <= bytes.count {
            if bytes[p] == m[0], bytes[p + 1] == m[1], bytes[p + 2] == m[2], bytes[p + 3] == m[3],
               case .ok = BlockHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[p...])) {
                return p
            }
            p += 1
        }
        return nil
    }

    /// Decompresses a good block's payload.
    static func content(_ bytes: UnsafeRawBufferPointer, offset: Int, header: BlockHeader) throws -> [UInt8] {
        try LZ4.decompress(header.payload(in: bytes, at: offset), originalSize: Int(header.uncompressedLength))
    }
}
