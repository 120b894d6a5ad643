import Foundation
import TallyCore

/// The single writer of a ledger (owned by the `Ledger`'s commit thread; not thread-safe).
final class LedgerWriter {
    let paths: LedgerPaths
    let options: LedgerOptions
    let epochs: EpochSet
    let keys: EpochKeyStore
    private(set) var lockFD: Int32

    // Segment being appended to.
    var segFD: Int32 = -1
    var segIndex: UInt32 = 0
    var segSize = 0
    var segBlocks = 0
    /// The segment file's size: `segSize` plus the zero bytes written ahead (`LedgerOptions.preallocateBytes`).
    var segAllocated = 0
    /// Writing zeros ahead failed in this segment (`preallocate`): not tried again until the next one.
    var preallocationRefused = false

    // Chain state after the last committed record.
    var size: UInt64 = 0
    var chain = Digest()
    var frontier = MerkleFrontier()
    var lastTime: Int64 = 0

    // Checkpoints.
    var ckptFD: Int32 = -1
    var checkpointedSize: UInt64 = 0
    var lastCheckpointClock: Int64 = 0
    var pending: [(size: UInt64, root: Digest, epoch: Int)] = []
    var firstLiveEpoch = 0
    /// The epoch whose private key `prepare` last found present (keys are erased only by this writer).
    var keyCheckedEpoch = -1

    // Buffers reused from commit to commit: leaf hashes (`prepare`), block content and compressed
    // blocks, and the bytes of one write (`write`).
    var leafSlots = Slots(count: 1, initial: Digest())
    /// Background compaction of sealed segments (`LedgerOptions.autoCompactLevel`), one at a time.
    let compactor = DispatchQueue(label: "tally-ledger-compact", qos: .utility)
    let blockBuffers = BufferPool()
    var outBuffer: [UInt8] = []

    init(paths: LedgerPaths, options: LedgerOptions, epochs: EpochSet, keys: EpochKeyStore, lockFD: Int32) {
        self.paths = paths
        self.options = options
        self.epochs = epochs
        self.keys = keys
        self.lockFD = lockFD
    }

    deinit { release() }

    /// Waits for a background compaction (it runs under the lock this writer holds), then closes the files and
    /// releases the ledger lock. Idempotent; the writer must not be used afterwards. `Ledger.close` calls it before
    /// it returns, so a closed ledger has finished its work and can be opened again at once.
    func release() {
        compactor.sync {}
        if segFD >= 0 {
            // Best effort: a zero tail left behind is valid (docs/LEDGER-FORMAT.md §4.5), only untidy.
            if segAllocated > segSize, (try? trimZeroTail(path: paths.segmentPath(segIndex))) != nil { _ = fsync(segFD) }
            close(segFD); segFD = -1
        }
        if ckptFD >= 0 { close(ckptFD); ckptFD = -1 }
        if lockFD >= 0 { close(lockFD); lockFD = -1 }
    }

    struct PlannedBlock {
        var first: Int       // event index
        var end: Int         // event index (exclusive)
        var startChain = Digest()
        var startFrontier = MerkleFrontier()
        var endChain = Digest()
    }

    /// A batch that has been sequenced and hashed (chain, tree and queued checkpoints already
    /// advanced) but not yet compressed and written: `write` does that, possibly on another thread.
    struct PreparedCommit: @unchecked Sendable {
        let batch: EventBatch
        /// Seq of the record before the batch's first.
        let base: UInt64
        let time: Int64
        let plan: [PlannedBlock]
        /// The ledger size once this batch is written.
        var endSize: UInt64 { base + UInt64(batch.count) }
    }

    /// Sequences and hashes `batch`: leaf hashes (in parallel), the chain and the Merkle frontier,
    /// the block plan with each block's chain values, and the every-N checkpoints it completes.
    /// Advances the writer's chain state (`size`, `chain`, `frontier`, `lastTime`, `pending`); the
    /// records become durable only once `write` and an fdatasync have run.
    func prepare(_ batch: EventBatch) throws -> PreparedCommit {
        let k = batch.count
        let time = max(options.clock(), lastTime, epochs.start)
        guard let epoch = epochs.epoch(at: time) else {
            throw TallyError(.io, "ledger time \(LedgerTime.string(time)) is past the last certified epoch (\(LedgerTime.string(epochs.window(epochs.publicKeys.count - 1).end))): the epoch keys are exhausted; nothing was appended. Start a new home with `tally init` (see docs/LEDGER-FORMAT.md, \"When epochs run out\")")
        }
        if epoch != keyCheckedEpoch {  // read the key file once per epoch, not once per commit
            guard (try keys.privateKey(epoch)) != nil else {
                throw TallyError(.integrity, "the key of the current epoch \(epoch) has been erased; refusing to append records that could not be checkpointed")
            }
            keyCheckedEpoch = epoch
        }
        if size > checkpointedSize, let last = epochs.epoch(at: lastTime), last != epoch {
            pending.append((size, frontier.root, last))
        }

        // 1. Leaf hashes, in parallel.
        let base = size
        if leafSlots.buffer.count < k { leafSlots = Slots(count: k, initial: Digest()) }
        let leaves = leafSlots
        let chunks = k >= 2048 ? workerCount * 4 : 1
        batch.bytes.withUnsafeBytes { all in
            parallelFor(chunks) { c in
                var builder = RecordBuilder()
                let lo = k * c / chunks, hi = k * (c + 1) / chunks
                var i = lo
                while i + 1 < hi {  // two by two: SHA256.digest2 interleaves the pair
                    let s0 = batch.start(of: i), s1 = batch.start(of: i + 1)
                    (leaves[i], leaves[i + 1]) = builder.leafPair(
                        UnsafeRawBufferPointer(rebasing: all[s0..<batch.ends[i]]), seq: base + UInt64(i) + 1, time: time,
                        UnsafeRawBufferPointer(rebasing: all[s1..<batch.ends[i + 1]]), seq: base + UInt64(i) + 2, time: time)
                    i += 2
                }
                if i < hi {
                    let s = batch.start(of: i)
                    leaves[i] = builder.leaf(event: UnsafeRawBufferPointer(rebasing: all[s..<batch.ends[i]]), seq: base + UInt64(i) + 1, time: time)
                }
            }
        }

        // 2. Plan blocks, then chain + tree over them.
        var plan: [PlannedBlock] = []
        var first = 0
        var bytesInBlock = 0
        for i in 0..<k {
            bytesInBlock += batch.ends[i] - batch.start(of: i) + 1
            if bytesInBlock >= options.blockMaxBytes || i == k - 1 {
                plan.append(PlannedBlock(first: first, end: i + 1))
                first = i + 1
                bytesInBlock = 0
            }
        }
        var lastQueued = max(checkpointedSize, pending.last?.size ?? 0)
        let every = options.checkpointEveryRecords
        for b in plan.indices {
            plan[b].startChain = chain
            plan[b].startFrontier = frontier
            for i in plan[b].first..<plan[b].end {
                frontier.append(leaves[i], chain: &chain)
                if every > 0 && frontier.size - lastQueued >= every {
                    pending.append((frontier.size, frontier.root, epoch))
                    lastQueued = frontier.size
                }
            }
            plan[b].endChain = chain
        }
        size += UInt64(k)
        lastTime = time
        return PreparedCommit(batch: batch, base: base, time: time, plan: plan)
    }

    /// Compresses the blocks of a prepared batch (in parallel when there are several) and writes
    /// them to the segment files, rolling over to a new segment when one is full. Touches only the
    /// segment state (`segFD`, `segIndex`, `segSize`, `segBlocks`), so it may run on another thread
    /// than `prepare` as long as writes run one at a time, in prepare order.
    func write(_ prepared: PreparedCommit) throws {
        let batch = prepared.batch
        let plan = prepared.plan
        let blockCount = plan.count
        // Buffers come from a pool the writer keeps (content, compressed block) and are reused from
        // batch to batch: fresh multi-MiB buffers would each be faulted in and zeroed by the kernel.
        let payloads = Slots<[UInt8]>(count: blockCount, initial: [])
        let blockStarts = Slots(count: blockCount, initial: 0)
        let blockLengths = Slots(count: blockCount, initial: 0)
        let rawLengths = Slots(count: blockCount, initial: 0)
        var compressError: (any Error)?
        let errorLock = NSLock()
        let pool = blockBuffers
        let headerSize = SegmentFormat.blockHeaderSize
        batch.bytes.withUnsafeBytes { all in
            parallelFor(blockCount, inline: batch.bytes.count < inlineBatchBytes) { job in
                let p = plan[job]
                let s = batch.start(of: p.first), e = batch.ends[p.end - 1] + 1
                var times: [UInt8] = []
                BlockContent.encodeTimes([(0, UInt64(p.end - p.first))], into: &times)
                // The block's content is its time runs ‖ its events: compressed straight from the batch,
                // the time runs spliced in by the LZ4 wrapper (no copy of the events), after room for the
                // block header.
                var block = pool.take(atLeast: headerSize + LZ4.prefixedBound(prefix: times.count, body: e - s))
                do {
                    let range = try block.withUnsafeMutableBytes { b in
                        try times.withUnsafeBytes { t in
                            try LZ4.compress(prefix: t, body: UnsafeRawBufferPointer(rebasing: all[s..<e]),
                                             into: UnsafeMutableRawBufferPointer(rebasing: b[headerSize...]))
                        }
                    }
                    blockStarts[job] = range.lowerBound  // the header goes right before the payload
                    blockLengths[job] = headerSize + range.count
                    rawLengths[job] = times.count + (e - s)
                } catch {
                    errorLock.lock(); compressError = error; errorLock.unlock()
                }
                payloads[job] = block
            }
        }
        defer { for b in 0..<blockCount { pool.give(payloads[b]) } }
        if let compressError { throw compressError }

        // Write the blocks (rolling segments over), one write per segment touched. A lone block (the
        // common case) is written straight from its buffer; several are gathered into one.
        var pending: [Int] = []      // blocks not yet written, in order
        var pendingBytes = 0
        func flush(sealing: Bool = false) throws {
            let path = paths.segmentPath(segIndex)
            if !sealing { preallocate(for: pendingBytes, path: path) }
            if pending.count == 1 {
                let b = pending[0], first = blockStarts[b]
                try payloads[b].withUnsafeBytes { try FileIO.pwriteAll(segFD, UnsafeRawBufferPointer(rebasing: $0[first..<(first + blockLengths[b])]), at: segSize, path: path) }
            } else if pendingBytes > 0 {
                var out: [UInt8] = []
                swap(&out, &outBuffer)  // unique owner: no copy on write
                out.removeAll(keepingCapacity: true)
                defer { outBuffer = out }
                for b in pending {
                    let first = blockStarts[b]
                    payloads[b].withUnsafeBytes { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[first..<(first + blockLengths[b])])) }
                }
                try FileIO.pwriteAll(segFD, out, at: segSize, path: path)
            }
            segSize += pendingBytes
            segAllocated = max(segAllocated, segSize)
            pending.removeAll()
            pendingBytes = 0
        }
        var sealed: [UInt32] = []
        for b in 0..<blockCount {
            let p = plan[b]
            let length = blockLengths[b]
            let header = BlockHeader(compressedLength: UInt32(length - SegmentFormat.blockHeaderSize),
                                     uncompressedLength: UInt32(rawLengths[b]),
                                     recordCount: UInt32(p.end - p.first), firstSeq: prepared.base + UInt64(p.first) + 1,
                                     baseTime: prepared.time, endChain: p.endChain)
            let first = blockStarts[b]
            payloads[b].withUnsafeMutableBytes { header.fill(UnsafeMutableRawBufferPointer(rebasing: $0[first..<(first + length)])) }
            if segBlocks > 0 && segSize + pendingBytes + length > options.segmentMaxBytes {
                try flush(sealing: true)
                try trimZeroTail(path: paths.segmentPath(segIndex))  // a sealed segment keeps no zero tail
                try FileIO.syncData(segFD, path: paths.segmentPath(segIndex))
                close(segFD)
                segFD = -1
                segIndex += 1
                let path = paths.segmentPath(segIndex)
                segFD = try FileIO.openFile(path, O_WRONLY | O_CREAT | O_EXCL)
                // The header is made durable (with the directory entry) before any block is written: the pages of
                // one write reach the disk in any order, so a header written together with blocks could be lost
                // while a block after it was not (a zero header before a valid block is damage, not a rollover cut
                // short; session 14 review).
                let sh = SegmentHeader(index: segIndex, firstSeq: header.firstSeq, startChain: p.startChain, startFrontier: p.startFrontier)
                let headerBytes = sh.encoded()
                try FileIO.pwriteAll(segFD, headerBytes, at: 0, path: path)
                try FileIO.syncData(segFD, path: path)
                try FileIO.syncDirectory(paths.segmentsDir)
                segSize = headerBytes.count
                segAllocated = segSize
                preallocationRefused = false
                segBlocks = 0
                sealed.append(segIndex - 1)
            }
            pending.append(b)
            pendingBytes += length
            segBlocks += 1
        }
        try flush()
        // Queued once the next segment's header is written, so the compaction can check that the sealed segment ends
        // where that header says the next one starts (queued before, it usually found an empty file).
        if let level = options.autoCompactLevel { for index in sealed { compactInBackground(index, level: level) } }
    }
}

extension LedgerWriter {
    /// Before a write of `count` bytes at `segSize`: with `LedgerOptions.preallocateBytes` set and a small write that
    /// would not fit in the zero bytes already written ahead, writes `preallocateBytes` more zeros past the file's
    /// end (page-aligned). They reach the disk with this commit's fdatasync (the one commit in many that also
    /// changes the file's size); the commits after it overwrite them without changing it. A write as large as the
    /// preallocation simply extends the file (a bulk append gains nothing from writing zeros first).
    ///
    /// It is only an optimisation: when the zeros cannot be written (a full disk, a file size limit), the segment is
    /// not preallocated further and the commit is written as it would be without it, so only a commit that does not
    /// fit fails.
    func preallocate(for count: Int, path: String) {
        let ahead = options.preallocateBytes
        guard ahead > 0, !preallocationRefused, count > 0, segSize + count > segAllocated, count < ahead else { return }
        let page = SegmentScan.pageSize
        let target = ((segSize + count + ahead + page - 1) / page) * page
        var at = segAllocated
        do {
            while at < target {
                let n = min(LedgerWriter.zeros.count, target - at)
                try LedgerWriter.zeros.withUnsafeBytes { try FileIO.pwriteAll(segFD, UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: at, path: path) }
                at += n
            }
            segAllocated = target
        } catch {
            preallocationRefused = true
            var st = stat()  // some of the zeros may have been written: they are a zero tail like any other
            segAllocated = fstat(segFD, &st) == 0 ? max(segSize, Int(st.st_size)) : at
        }
    }

    static let zeros = [UInt8](repeating: 0, count: 256 << 10)

    /// Cuts the zeros written ahead off the segment file (made durable by the next sync of `segFD`).
    func trimZeroTail(path: String) throws {
        guard segAllocated > segSize else { return }
        try FileIO.truncate(segFD, to: segSize, path: path)
        segAllocated = segSize
    }

    /// Compacts sealed segment `index` on the compactor queue while appends go on in the newer
    /// segment. This writer holds the ledger lock, so no `tally ledger compact` runs meanwhile; the
    /// segment is replaced atomically, so readers see the old or the new file, both valid. A failure
    /// leaves the segment as it was (`tally ledger verify` reports any damage).
    func compactInBackground(_ index: UInt32, level: Int) {
        let paths = self.paths
        compactor.async {
            _ = try? LedgerCompaction.compactSealedSegment(paths, index, level: level)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
