import Foundation
import TallyCore

/// The single writer of a ledger (owned by the `Ledger`'s commit thread; not thread-safe).
final class LedgerWriter {
    let paths: LedgerPaths
    let options: LedgerOptions
    let epochs: EpochSet
    let keys: EpochKeyStore
    let lockFD: Int32

    // Segment being appended to.
    var segFD: Int32 = -1
    var segIndex: UInt32 = 0
    var segSize = 0
    var segBlocks = 0

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
    /// The epoch whose private key `commit` last found present (keys are erased only by this writer).
    var keyCheckedEpoch = -1

    init(paths: LedgerPaths, options: LedgerOptions, epochs: EpochSet, keys: EpochKeyStore, lockFD: Int32) {
        self.paths = paths
        self.options = options
        self.epochs = epochs
        self.keys = keys
        self.lockFD = lockFD
    }

    deinit {
        if segFD >= 0 { close(segFD) }
        if ckptFD >= 0 { close(ckptFD) }
        close(lockFD)
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

    /// Sequences, hashes, compresses and durably writes `batch`; returns the last seq.
    /// Records are acknowledged (the return) only after fdatasync.
    /// With `sync` false the blocks are written but neither fdatasync'd nor checkpointed: the
    /// caller commits several queued batches and syncs once with the last.
    func commit(_ batch: EventBatch, sync: Bool = true) throws -> UInt64 {
        guard batch.count > 0 else { return size }
        let prepared = try prepare(batch)
        try write(prepared)
        if sync {
            try FileIO.syncData(segFD, path: paths.segmentPath(segIndex))
            try writePendingCheckpoints()
        }
        return size
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
        let leaves = Slots(count: max(k, 1), initial: Digest())
        let chunks = k >= 2048 ? workerCount * 4 : 1
        batch.bytes.withUnsafeBytes { all in
            parallelFor(chunks) { c in
                var builder = RecordBuilder()
                let lo = k * c / chunks, hi = k * (c + 1) / chunks
                for i in lo..<hi {
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
                let leaf = leaves[i]
                chain = LedgerHash.chain(chain, leaf)
                frontier.append(leaf)
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
        let payloads = Slots<[UInt8]>(count: blockCount, initial: [])
        let rawLengths = Slots(count: blockCount, initial: 0)
        var compressError: (any Error)?
        let errorLock = NSLock()
        batch.bytes.withUnsafeBytes { all in
            parallelFor(blockCount, inline: batch.bytes.count < inlineBatchBytes) { job in
                let p = plan[job]
                var content: [UInt8] = []
                let s = batch.start(of: p.first), e = batch.ends[p.end - 1] + 1
                content.reserveCapacity(e - s + 12)
                BlockContent.encodeTimes([(0, UInt64(p.end - p.first))], into: &content)
                content.append(contentsOf: UnsafeRawBufferPointer(rebasing: all[s..<e]))
                do {
                    // Compress straight into the block's bytes, after room for its header.
                    let bound = SegmentFormat.blockHeaderSize + LZ4.compressBound(content.count)
                    payloads[job] = try [UInt8](unsafeUninitializedCapacity: bound) { b, n in
                        n = 0
                        let c = try content.withUnsafeBytes {
                            try LZ4.compress($0, into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(b)[SegmentFormat.blockHeaderSize...]))
                        }
                        n = SegmentFormat.blockHeaderSize + c
                    }
                    rawLengths[job] = content.count
                } catch {
                    errorLock.lock(); compressError = error; errorLock.unlock()
                }
            }
        }
        if let compressError { throw compressError }

        // Write the blocks (rolling segments over).
        var out: [UInt8] = []
        var createdSegment = false
        for b in 0..<blockCount {
            let p = plan[b]
            var blockBytes = payloads[b]
            payloads[b] = []
            let header = BlockHeader(compressedLength: UInt32(blockBytes.count - SegmentFormat.blockHeaderSize),
                                     uncompressedLength: UInt32(rawLengths[b]),
                                     recordCount: UInt32(p.end - p.first), firstSeq: prepared.base + UInt64(p.first) + 1,
                                     baseTime: prepared.time, endChain: p.endChain)
            blockBytes.withUnsafeMutableBytes { header.fill($0) }
            if segBlocks > 0 && segSize + out.count + blockBytes.count > options.segmentMaxBytes {
                try FileIO.writeAll(segFD, out, path: paths.segmentPath(segIndex))
                try FileIO.syncData(segFD, path: paths.segmentPath(segIndex))
                out.removeAll(keepingCapacity: true)
                close(segFD)
                segFD = -1
                segIndex += 1
                let path = paths.segmentPath(segIndex)
                segFD = try FileIO.openFile(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND)
                let sh = SegmentHeader(index: segIndex, firstSeq: header.firstSeq, startChain: p.startChain, startFrontier: p.startFrontier)
                out.append(contentsOf: sh.encoded())
                segSize = 0
                segBlocks = 0
                createdSegment = true
            }
            out.append(contentsOf: blockBytes)
            segBlocks += 1
        }
        let path = paths.segmentPath(segIndex)
        try FileIO.writeAll(segFD, out, path: path)
        if createdSegment { try FileIO.syncDirectory(paths.segmentsDir) }
        segSize += out.count
    }
}

#if canImport(Glibc)
import Glibc
#endif
