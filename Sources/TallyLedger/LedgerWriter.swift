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

    private struct PlannedBlock {
        var first: Int       // event index
        var end: Int         // event index (exclusive)
        var startChain = Digest()
        var startFrontier = MerkleFrontier()
        var endChain = Digest()
    }

    /// Sequences, hashes, compresses and durably writes `batch`; returns the last seq.
    /// Records are acknowledged (the return) only after fdatasync.
    /// With `sync` false the blocks are written but neither fdatasync'd nor checkpointed: the
    /// caller commits several queued batches and syncs once with the last.
    func commit(_ batch: EventBatch, sync: Bool = true) throws -> UInt64 {
        let k = batch.count
        guard k > 0 else { return size }
        let time = max(options.clock(), lastTime, epochs.start)
        guard let epoch = epochs.epoch(at: time) else {
            throw TallyError(.io, "ledger time \(LedgerTime.string(time)) is past the last certified epoch (\(LedgerTime.string(epochs.window(epochs.publicKeys.count - 1).end))): the epoch keys are exhausted; nothing was appended. Start a new home with `tally init` (see docs/LEDGER-FORMAT.md, \"When epochs run out\")")
        }
        if size > checkpointedSize, let last = epochs.epoch(at: lastTime), last != epoch {
            pending.append((size, frontier.root, last))
        }
        if epoch != keyCheckedEpoch {  // read the key file once per epoch, not once per commit
            guard (try keys.privateKey(epoch)) != nil else {
                throw TallyError(.integrity, "the key of the current epoch \(epoch) has been erased; refusing to append records that could not be checkpointed")
            }
            keyCheckedEpoch = epoch
        }

        // 1. Leaf hashes, in parallel.
        let base = size
        let leaves = Slots(count: k, initial: Digest())
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

        // 2. Plan blocks.
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

        // 3. Chain + tree (sequential) while the other workers compress blocks.
        let payloads = Slots<[UInt8]>(count: plan.count, initial: [])
        let rawLengths = Slots(count: plan.count, initial: 0)
        let planSlots = Slots(count: plan.count, initial: PlannedBlock(first: 0, end: 0))
        for (i, p) in plan.enumerated() { planSlots[i] = p }
        var newChain = chain
        var newFrontier = frontier
        var newPending: [(size: UInt64, root: Digest, epoch: Int)] = []
        var lastQueued = max(checkpointedSize, pending.last?.size ?? 0)
        let every = options.checkpointEveryRecords
        var compressError: (any Error)?
        let errorLock = NSLock()
        let blockCount = plan.count
        batch.bytes.withUnsafeBytes { all in
            parallelFor(blockCount + 1, inline: batch.bytes.count < inlineBatchBytes) { job in
                if job == 0 {
                    for b in 0..<blockCount {
                        var p = planSlots[b]
                        p.startChain = newChain
                        p.startFrontier = newFrontier
                        for i in p.first..<p.end {
                            let leaf = leaves[i]
                            newChain = LedgerHash.chain(newChain, leaf)
                            newFrontier.append(leaf)
                            if every > 0 && newFrontier.size - lastQueued >= every {
                                newPending.append((newFrontier.size, newFrontier.root, epoch))
                                lastQueued = newFrontier.size
                            }
                        }
                        p.endChain = newChain
                        planSlots[b] = p
                    }
                } else {
                    let p = plan[job - 1]
                    var content: [UInt8] = []
                    let s = batch.start(of: p.first), e = batch.ends[p.end - 1] + 1
                    content.reserveCapacity(e - s + 12)
                    BlockContent.encodeTimes([(0, UInt64(p.end - p.first))], into: &content)
                    content.append(contentsOf: UnsafeRawBufferPointer(rebasing: all[s..<e]))
                    do {
                        // Compress straight into the block's bytes, after room for its header.
                        let bound = SegmentFormat.blockHeaderSize + LZ4.compressBound(content.count)
                        payloads[job - 1] = try [UInt8](unsafeUninitializedCapacity: bound) { b, n in
                            n = 0
                            let c = try content.withUnsafeBytes {
                                try LZ4.compress($0, into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(b)[SegmentFormat.blockHeaderSize...]))
                            }
                            n = SegmentFormat.blockHeaderSize + c
                        }
                        rawLengths[job - 1] = content.count
                    } catch {
                        errorLock.lock(); compressError = error; errorLock.unlock()
                    }
                }
            }
        }
        if let compressError { throw compressError }

        // 4. Write the blocks (rolling segments over), then one fdatasync.
        var out: [UInt8] = []
        var createdSegment = false
        for b in 0..<blockCount {
            let p = planSlots[b]
            var blockBytes = payloads[b]
            payloads[b] = []
            let header = BlockHeader(compressedLength: UInt32(blockBytes.count - SegmentFormat.blockHeaderSize),
                                     uncompressedLength: UInt32(rawLengths[b]),
                                     recordCount: UInt32(p.end - p.first), firstSeq: base + UInt64(p.first) + 1,
                                     baseTime: time, endChain: p.endChain)
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

        size += UInt64(k)
        chain = newChain
        frontier = newFrontier
        lastTime = time
        pending.append(contentsOf: newPending)
        if sync {
            try FileIO.syncData(segFD, path: path)
            try writePendingCheckpoints()
        }
        return size
    }
}

#if canImport(Glibc)
import Glibc
#endif
