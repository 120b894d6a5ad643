import Foundation
public import TallyCore

/// What `LedgerCompaction.run` did.
public struct CompactionReport: Sendable {
    public struct Skipped: Sendable {
        public var file: String
        public var reason: String
    }
    /// Segments rewritten with recompressed blocks.
    public var compacted: [String] = []
    /// Sealed segments left as they were, with the reason (damaged, already compact, …).
    public var skipped: [Skipped] = []
    /// Bytes of all segment files before and after.
    public var bytesBefore = 0
    public var bytesAfter = 0
}

/// Recompresses the blocks of sealed segments with LZ4HC (docs/LEDGER-FORMAT.md, "Compaction").
///
/// The append path compresses with the fast LZ4 compressor so that commits stay cheap; once a
/// segment is sealed (a newer one exists) nothing appends to it again, and its blocks can be
/// recompressed with the slower, stronger LZ4HC into the same LZ4 block format, and consecutive
/// small blocks merged into one. The records (seq, time, event bytes), and so every hash, the
/// chain, the tree and every signed checkpoint and proof, stay exactly as they were; only block
/// boundaries, time-run encoding, `C` and CRC fields change. A segment with any damaged or unreadable byte is never rewritten (its evidence stays
/// where verify reports it). Each segment is replaced atomically (`FileIO.writeAtomically`:
/// temporary file, fsync, rename, directory fsync) under the writer lock, so a crash leaves either
/// the old or the new file.
public enum LedgerCompaction {
    static let tempSuffix = ".compact"

    /// Compacts every sealed segment of the ledger in `home` that is not compact yet.
    /// `progress(done, total)` is called after each segment.
    public static func run(home: String, level: Int = LZ4.highCompressionDefaultLevel, lockTimeout: Double = 10,
                           onLockWait: (@Sendable (Double) -> Void)? = nil,
                           progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> CompactionReport {
        guard (1...12).contains(level) else {
            throw TallyError(.badUsage, "compression level \(level) is out of range: LZ4HC levels are 1–12")
        }
        let paths = LedgerPaths(home: home)
        try paths.checkIsHome()
        let lockFD = try LedgerWriter.acquireLock(paths, timeout: lockTimeout, onWait: onLockWait)
        defer { close(lockFD) }
        // Leftovers of an interrupted compaction are incomplete copies: the originals are intact.
        if let names = try? FileManager.default.contentsOfDirectory(atPath: paths.segmentsDir) {
            for n in names where n.hasSuffix(tempSuffix) { unlink(paths.segmentsDir + "/" + n) }
        }
        let indexes = try paths.segmentIndexes()
        var report = CompactionReport()
        for i in indexes { report.bytesBefore += FileIO.fileSize(paths.segmentPath(i)) ?? 0 }
        // Segments whose size is what the last compaction left are not recompressed again.
        let statePath = paths.dir + "/compacted.list"
        var state = readState(statePath)
        var sealed: [UInt32] = []
        for i in indexes.dropLast() {
            let name = LedgerPaths.segmentName(i)
            if let size = state[name], size == FileIO.fileSize(paths.segmentPath(i)) {
                report.skipped.append(.init(file: name, reason: "already compact"))
            } else {
                sealed.append(i)
            }
        }
        let outcomes = Slots<Result<Bool, TallyError>>(count: sealed.count, initial: .success(false))
        let done = Slots(count: 1, initial: 0)
        let doneLock = NSLock()
        parallelFor(sealed.count) { k in
            do {
                let path = paths.segmentPath(sealed[k])
                outcomes[k] = .success(try compactSegment(path, level: level, next: nextHeader(paths, after: sealed[k])))
            } catch let e as TallyError {
                outcomes[k] = .failure(e)
            } catch {
                outcomes[k] = .failure(TallyError(.io, "\(error)"))
            }
            doneLock.lock(); done[0] += 1; let n = done[0]; doneLock.unlock()
            progress?(n, sealed.count)
        }
        for (k, i) in sealed.enumerated() {
            let name = LedgerPaths.segmentName(i)
            switch outcomes[k] {
            case .success(let didRewrite):
                if didRewrite { report.compacted.append(name) } else { report.skipped.append(.init(file: name, reason: "already compact")) }
                state[name] = FileIO.fileSize(paths.segmentPath(i))
            case .failure(let e): report.skipped.append(.init(file: name, reason: e.reason))
            }
        }
        report.skipped.sort { $0.file < $1.file }
        if !sealed.isEmpty { try writeState(statePath, state) }
        for i in indexes { report.bytesAfter += FileIO.fileSize(paths.segmentPath(i)) ?? 0 }
        return report
    }

    /// Compacts one sealed segment and records it in `compacted.list`; for a writer that holds the lock
    /// (background compaction after a rollover). Returns whether the segment was rewritten.
    static func compactSealedSegment(_ paths: LedgerPaths, _ index: UInt32, level: Int) throws -> Bool {
        let path = paths.segmentPath(index)
        let rewritten = try compactSegment(path, level: level, next: nextHeader(paths, after: index))
        let statePath = paths.dir + "/compacted.list"
        var state = readState(statePath)
        state[LedgerPaths.segmentName(index)] = FileIO.fileSize(path)
        try writeState(statePath, state)
        return rewritten
    }

    static func writeState(_ path: String, _ state: [String: Int]) throws {
        let text = state.keys.sorted().map { "\($0) \(state[$0]!)\n" }.joined()
        try FileIO.writeAtomically(path, Array(text.utf8))
    }

    /// `ledger/compacted.list`: one line per compacted segment, "NAME SIZE". Advisory only (a
    /// missing or stale entry just means the segment is recompressed again); never trusted by verify.
    static func readState(_ path: String) -> [String: Int] {
        guard let bytes = try? FileIO.readFile(path) else { return [:] }
        var state: [String: Int] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let size = Int(parts[1]) { state[String(parts[0])] = size }
        }
        return state
    }

    /// The header of the segment after `index` (its first seq and start chain are where segment `index` must end),
    /// or nil when there is none or it cannot be read (then only the segment's own chain is checked).
    static func nextHeader(_ paths: LedgerPaths, after index: UInt32) -> SegmentHeader? {
        let next = paths.segmentPath(index + 1)
        guard FileIO.exists(next) else { return nil }
        return try? FileIO.withMappedFile(next) { b -> SegmentHeader? in
            if case .ok(let h, _) = SegmentHeader.decode(b) { return h }
            return nil
        }
    }

    /// Replays a segment's records before anything is rewritten: blocks in seq order from the header's
    /// first seq, times never going back, and the hash chain from the header's start value through every
    /// block's end value (and into `next`, the following segment's header, when known). A block whose CRC
    /// was recomputed after its records were changed passes the scan but not this; rewriting it would
    /// merge the changed records into blocks with fresh CRCs and chain values that no longer point at them,
    /// so verify could no longer say which records were changed.
    static func checkChain(_ buf: UnsafeRawBufferPointer, _ scan: SegmentScan, header: SegmentHeader, next: SegmentHeader?) throws {
        func refuse(_ why: String) -> TallyError { TallyError(.integrity, "\(why); not rewritten (run `tally ledger verify`)") }
        var chain = header.startChain
        var expected = header.firstSeq
        var lastTime = Int64.min
        var builder = RecordBuilder()
        for entry in scan.entries {
            guard case .good(let offset, let bh) = entry else {
                throw refuse("the segment holds a damaged or incomplete block")
            }
            guard bh.firstSeq == expected else { throw refuse("the block at byte \(offset) starts at seq \(bh.firstSeq), not \(expected)") }
            let content = try SegmentScan.content(buf, offset: offset, header: bh)
            try content.withUnsafeBytes { c in
                try BlockContent.forEachRecord(c, header: bh) { seq, time, event in
                    guard time >= lastTime else { throw refuse("record \(seq) goes back in time") }
                    lastTime = time
                    chain = LedgerHash.chain(chain, builder.leaf(event: event, seq: seq, time: time))
                }
            }
            guard chain == bh.endChain else { throw refuse("the records of the block at byte \(offset) do not hash to its chain value") }
            expected = bh.lastSeq + 1
        }
        if let next, next.firstSeq != expected || next.startChain != chain {
            throw refuse("the segment does not end where the next one starts")
        }
    }

    /// Rewrites one sealed segment with LZ4HC blocks when that makes it smaller; returns whether it did.
    /// Consecutive blocks are merged while their content stays within `mergeBytes` (a gateway under
    /// light load commits a few records per block; merged, they compress as well as bulk appends).
    /// Throws (leaving the file untouched) when the segment is damaged in any way, its records included
    /// (`checkChain`); `next` is the following segment's header.
    static func compactSegment(_ path: String, level: Int, next: SegmentHeader?, mergeBytes: Int = LedgerOptions().blockMaxBytes) throws -> Bool {
        let bytes = try FileIO.readFile(path)
        let rewritten: [UInt8]? = try bytes.withUnsafeBytes { buf in
            let scan = SegmentScan(buf)
            guard let header = scan.header, scan.headerProblem == nil else {
                throw TallyError(.integrity, "the segment header is damaged; not rewritten (run `tally ledger verify`)")
            }
            try checkChain(buf, scan, header: header, next: next)
            var out: [UInt8] = Array(buf[0..<scan.headerLength])
            out.reserveCapacity(buf.count)
            var run: [(offset: Int, header: BlockHeader)] = []
            var runBytes = 0
            func flush() throws {
                defer { run.removeAll(); runBytes = 0 }
                guard let first = run.first else { return }
                if run.count == 1 {
                    try out.append(contentsOf: recompressed(buf, offset: first.offset, header: first.header, level: level))
                } else {
                    try out.append(contentsOf: merged(buf, run, level: level))
                }
            }
            for entry in scan.entries {
                guard case .good(let offset, let header) = entry else {
                    throw TallyError(.integrity, "the segment holds a damaged or incomplete block; not rewritten (run `tally ledger verify`)")
                }
                let u = Int(header.uncompressedLength)
                if let last = run.last?.header, last.lastSeq + 1 != header.firstSeq || runBytes + u > mergeBytes { try flush() }
                run.append((offset, header))
                runBytes += u
            }
            try flush()
            return out.count < buf.count ? out : nil
        }
        guard let rewritten else { return false }
        try FileIO.writeAtomically(path, rewritten, tempSuffix: tempSuffix)
        return true
    }

    /// One block recompressed with LZ4HC (header and CRC updated), or as it was when that is not smaller.
    private static func recompressed(_ buf: UnsafeRawBufferPointer, offset: Int, header: BlockHeader, level: Int) throws -> [UInt8] {
        let content = try SegmentScan.content(buf, offset: offset, header: header)
        let hc = try roundTripped(content, level: level)
        guard hc.count < Int(header.compressedLength) else { return Array(buf[offset..<(offset + header.totalSize)]) }
        var h = header
        h.compressedLength = UInt32(hc.count)
        return h.encoded(payload: hc)
    }

    /// Consecutive blocks as one: the same records (seq, time, event) in the same order, with time runs
    /// re-encoded from the first record's time, and the chain value of the last block; so every record
    /// byte, hash and checkpoint stays the same.
    private static func merged(_ buf: UnsafeRawBufferPointer, _ run: [(offset: Int, header: BlockHeader)], level: Int) throws -> [UInt8] {
        var events: [UInt8] = []
        var runs: [(delta: UInt64, count: UInt64)] = []
        var baseTime: Int64?
        var runTime: Int64 = 0
        var count: UInt64 = 0
        for (offset, header) in run {
            let content = try SegmentScan.content(buf, offset: offset, header: header)
            try content.withUnsafeBytes { c in
                try BlockContent.forEachRecord(c, header: header) { _, time, event in
                    if baseTime == nil { baseTime = time; runTime = time; runs.append((0, 0)) }
                    if time != runTime {
                        guard time > runTime else {
                            throw TallyError(.integrity, "record times go backwards in block at offset \(offset); not rewritten (run `tally ledger verify`)")
                        }
                        runs.append((UInt64(time - runTime), 0))
                        runTime = time
                    }
                    runs[runs.count - 1].count += 1
                    events.append(contentsOf: event)
                    events.append(0x0A)
                    count += 1
                }
            }
        }
        var content: [UInt8] = []
        BlockContent.encodeTimes(runs, into: &content)
        content.append(contentsOf: events)
        guard let first = run.first?.header, let last = run.last?.header, let baseTime,
              count == last.lastSeq - first.firstSeq + 1, content.count <= SegmentFormat.maxBlockBytes else {
            throw TallyError(.integrity, "blocks from offset \(run.first?.offset ?? 0) do not merge into one block; not rewritten")
        }
        let hc = try roundTripped(content, level: level)
        let h = BlockHeader(compressedLength: UInt32(hc.count), uncompressedLength: UInt32(content.count), recordCount: UInt32(count),
                            firstSeq: first.firstSeq, baseTime: baseTime, endChain: last.endChain)
        return h.encoded(payload: hc)
    }

    /// LZ4HC of `content`, checked to decode back to it before it replaces anything.
    private static func roundTripped(_ content: [UInt8], level: Int) throws -> [UInt8] {
        let hc = try content.withUnsafeBytes { try LZ4.compressHC($0, level: level) }
        let back = try LZ4.decompress(hc, originalSize: content.count)
        guard back == content else { throw TallyError(.compression, "LZ4HC output did not round-trip; segment not rewritten") }
        return hc
    }
}

#if canImport(Glibc)
import Glibc
#endif
