import TallyCore

/// Splits a segment file's bytes into its header and blocks, resynchronising after damage by
/// searching for the next block that decodes with a valid checksum.
///
/// Zero bytes from the end of the last block to the end of the file are space a writer preallocated
/// (docs/LEDGER-FORMAT.md §4.5): not data, not damage (`zeroTail`). In the newest segment, unreadable bytes
/// before a valid block that leave a page of the file zero from the unreadable start (or the page start) to the
/// page's end are an append that was not synced when the writer stopped (its pages reached the disk out of
/// order, some still the preallocated zeros): they and everything after them are a `.tail`.
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
    /// Where the preallocated zero bytes at the end of the file start, if there are any.
    var zeroTail: Int?

    /// `newest`: the segment is the ledger's last one (the one a writer appends to).
    init(_ bytes: UnsafeRawBufferPointer, newest: Bool = false) {
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
            let decoded = BlockHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[pos...]))
            switch decoded {
            case .ok(let h):
                entries.append(.good(offset: pos, header: h))
                pos += h.totalSize
            case .incomplete, .corrupt:
                // Not a block here: a zero tail, an unsynced append, damage before a later block, or a torn end.
                if SegmentScan.allZero(bytes, from: pos, to: bytes.count) { zeroTail = pos; return }
                let why: String? = if case .corrupt(let w) = decoded { w } else { nil }
                guard let q = SegmentScan.nextValidBlock(bytes, after: pos) else {
                    entries.append(.tail(offset: pos, reason: why ?? "incomplete block at the end of the file"))
                    return
                }
                if newest && SegmentScan.hasZeroPage(bytes, from: pos, to: q) {
                    entries.append(.tail(offset: pos, reason: SegmentScan.unsyncedGap))
                    return
                }
                entries.append(.damaged(offset: pos, end: q, reason: why ?? "block truncated or its length field is damaged"))
                pos = q
            }
        }
    }

    static let unsyncedGap = "zero bytes before later blocks: an append whose pages were not all written before the writer stopped"

    /// The unit in which a file's pages reach the disk (`hasZeroPage`).
    static let pageSize = 4096

    /// Whether a page that ends at or before the start of the page holding `to` is zero from `from` (or from its start, when
    /// later) to its end: the sign of a page of an unsynced write that was never written back.
    static func hasZeroPage(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        var start = from
        var end = (from / pageSize + 1) * pageSize
        while end <= to - to % pageSize {
            if allZero(bytes, from: start, to: end) { return true }
            start = end
            end += pageSize
        }
        return false
    }

    /// Whether bytes [from, to) are all zero.
    static func allZero(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        var p = from
        while p + 8 <= to {
            if bytes.loadUnaligned(fromByteOffset: p, as: UInt64.self) != 0 { return false }
            p += 8
        }
        while p < to {
            if bytes[p] != 0 { return false }
            p += 1
        }
        return true
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
