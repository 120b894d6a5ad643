import Foundation
public import TallyCore

extension TallyError.Code {
    /// Another process (e.g. a running gateway) holds the ledger's writer lock. Exit code 2.
    public static let ledgerLocked = TallyError.Code("ledger-locked")
}

extension LedgerWriter {
    /// Loads the root key (H/ledger.pub or `publicKeyPath`) and the certified epoch keys.
    static func loadEpochs(_ paths: LedgerPaths, publicKeyPath: String? = nil) throws -> EpochSet {
        let keyPath = publicKeyPath ?? paths.publicKey
        let keyText: String
        do { keyText = String(decoding: try FileIO.readFile(keyPath), as: UTF8.self) } catch let e as TallyError {
            throw TallyError(.io, "cannot read the public key: \(e.reason)")
        }
        let rootKey = try NoteVerifierKey(parsing: keyText)
        let noteText = String(decoding: try FileIO.readFile(paths.epochsNote), as: UTF8.self)
        let pubText = String(decoding: try FileIO.readFile(paths.epochsPub), as: UTF8.self)
        return try EpochSet.load(noteText: noteText, publicKeysText: pubText, rootKey: rootKey)
    }

    /// Takes the ledger's exclusive writer lock (waiting up to `timeout` seconds); returns its descriptor.
    static func acquireLock(_ paths: LedgerPaths, timeout: Double, onWait: (@Sendable (Double) -> Void)? = nil) throws -> Int32 {
        let lockFD = try FileIO.openFile(paths.lock, O_RDWR | O_CREAT, 0o600)
        let deadline = Date().addingTimeInterval(timeout)
        var told = false
        while flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
            if !told, timeout > 0 { onWait?(timeout); told = true }
            if Date() > deadline {
                close(lockFD)
                throw TallyError(.ledgerLocked, "the ledger in \(paths.home) is locked by another process (waited \(timeout) s)")
            }
            usleep(20_000)
        }
        return lockFD
    }

    /// Opens the ledger for appending: takes the lock, replays the tail since the last checkpoint,
    /// cuts off a torn uncommitted tail (reported), checkpoints committed-but-uncheckpointed
    /// records, and erases the keys of ended epochs. Fails closed on any other damage.
    static func open(paths: LedgerPaths, options: LedgerOptions) throws -> (LedgerWriter, RecoveryReport?) {
        try paths.checkIsHome()
        let lockFD = try acquireLock(paths, timeout: options.lockTimeout, onWait: options.onLockWait)
        let epochs: EpochSet
        let keys: EpochKeyStore
        do {
            epochs = try loadEpochs(paths)
            keys = try EpochKeyStore(path: paths.epochKeys, publicKeys: epochs.publicKeys)
        } catch { close(lockFD); throw error }
        let w = LedgerWriter(paths: paths, options: options, epochs: epochs, keys: keys, lockFD: lockFD)
        var repairs: [RecoveryReport.Repair] = []

        // Checkpoints: a torn final note is cut off; anything else wrong is damage.
        let ckptBytes = try FileIO.readFile(paths.checkpoints)
        let log = CheckpointLog.read(ckptBytes, epochs: epochs)
        if let p = log.problems.first {
            throw TallyError(.integrity, "\(paths.checkpoints) is damaged at byte \(p.offset): \(p.reason); run `tally ledger verify`")
        }
        w.ckptFD = try FileIO.openFile(paths.checkpoints, O_WRONLY | O_APPEND)
        if let torn = log.tornTailAt {
            try FileIO.truncate(w.ckptFD, to: torn, path: paths.checkpoints)
            try FileIO.syncFile(w.ckptFD, path: paths.checkpoints)
            repairs.append(.init(file: paths.checkpoints, offset: torn, bytesRemoved: ckptBytes.count - torn, reason: "incomplete checkpoint note"))
        }
        let last = log.entries.last?.checkpoint
        w.checkpointedSize = last?.size ?? 0
        w.lastCheckpointClock = options.clock()
        var prevSize: UInt64 = 0
        for e in log.entries {
            guard e.checkpoint.size >= prevSize else {
                throw TallyError(.integrity, "\(paths.checkpoints): checkpoint sizes go backwards at byte \(e.offset); run `tally ledger verify`")
            }
            prevSize = e.checkpoint.size
        }

        // Segments: contiguous indexes; replay from the one holding the first uncheckpointed record.
        var indexes = try paths.segmentIndexes()
        guard let lastIndex = indexes.last else { throw TallyError(.integrity, "\(paths.segmentsDir) holds no segment files") }
        guard indexes == Array(1...lastIndex) else {
            throw TallyError(.integrity, "segment files are missing (found \(indexes.count) of 1...\(lastIndex)); run `tally ledger verify`")
        }
        // A rollover writes the new segment's header with its first blocks, and acknowledges none of them
        // before that write is synced; a crash in between leaves a header that is short or torn (it can span
        // sectors) and no whole block after it. Such a segment is set aside here and removed only once the
        // segments before it are found to hold every checkpointed record (below): if checkpoints reach into it,
        // it is damage, and its bytes stay for `tally ledger verify` to report.
        var unfinished: (path: String, bytes: Int, reason: String)? = nil
        if indexes.count > 1 {
            let p = paths.segmentPath(lastIndex)
            let bytes = try FileIO.readFile(p)
            let reason: String? = bytes.withUnsafeBytes { b in
                let scan = SegmentScan(b)
                if scan.headerIncomplete { return "segment created but its header was never completed" }
                let hasBlock = scan.entries.contains { if case .good = $0 { true } else { false } }
                if let why = scan.headerProblem, !hasBlock { return "segment created but its header was torn (\(why)) and no block follows it" }
                return nil
            }
            if let reason {
                unfinished = (p, bytes.count, reason)
                indexes.removeLast()
            }
        }
        var start = indexes.count - 1
        while start > 0 {
            let bytes = try FileIO.readFile(paths.segmentPath(indexes[start]))
            let first = bytes.withUnsafeBytes { b -> UInt64? in
                if case .ok(let h, _) = SegmentHeader.decode(b) { return h.firstSeq }
                return nil
            }
            guard let first else { throw TallyError(.integrity, "\(paths.segmentPath(indexes[start])): damaged segment header; run `tally ledger verify`") }
            if first <= w.checkpointedSize + 1 { break }
            start -= 1
        }

        var state: (chain: Digest, frontier: MerkleFrontier)? = nil
        var lastTime: Int64 = 0
        var boundary: [(size: UInt64, root: Digest, epoch: Int)] = []
        var lastEpoch: Int? = nil
        for (n, index) in indexes[start...].enumerated() {
            let path = paths.segmentPath(index)
            let isLast = start + n == indexes.count - 1
            let bytes = try FileIO.readFile(path)
            var truncateAt: Int? = nil
            try bytes.withUnsafeBytes { buf in
                // A segment set aside as a rollover cut short makes this one the last here, but it was sealed (and
                // synced) before that one was created: sealed rules, as the verifiers apply them.
                let scan = SegmentScan(buf, newest: isLast && unfinished == nil)
                guard let h = scan.header else {
                    throw TallyError(.integrity, "\(path): damaged segment header (\(scan.headerProblem ?? "incomplete")); run `tally ledger verify`")
                }
                guard h.index == index else { throw TallyError(.integrity, "\(path): header says segment \(h.index)") }
                if let s = state {
                    guard s.chain == h.startChain, s.frontier == h.startFrontier, h.firstSeq == s.frontier.size + 1 else {
                        throw TallyError(.integrity, "\(path) does not continue the previous segment; run `tally ledger verify`")
                    }
                }
                var chain = h.startChain
                var frontier = h.startFrontier
                var builder = RecordBuilder()
                var blocks = 0
                for entry in scan.entries {
                    switch entry {
                    case .good(let offset, let bh):
                        guard bh.firstSeq == frontier.size + 1 else {
                            throw TallyError(.integrity, "\(path) byte \(offset): block starts at seq \(bh.firstSeq), expected \(frontier.size + 1); run `tally ledger verify`")
                        }
                        let content = try SegmentScan.content(buf, offset: offset, header: bh)
                        try content.withUnsafeBytes { c in
                            try BlockContent.forEachRecord(c, header: bh) { seq, time, event in
                                if seq > w.checkpointedSize, let e = epochs.epoch(at: time) {
                                    if let le = lastEpoch, le != e, frontier.size > w.checkpointedSize {
                                        boundary.append((frontier.size, frontier.root, le))
                                    }
                                    lastEpoch = e
                                }
                                let leaf = builder.leaf(event: event, seq: seq, time: time)
                                chain = LedgerHash.chain(chain, leaf)
                                frontier.append(leaf)
                                lastTime = time
                                if let last, frontier.size == last.size, frontier.root != last.root {
                                    throw TallyError(.integrity, "the records do not match the last checkpoint (size \(last.size)); run `tally ledger verify`")
                                }
                            }
                        }
                        guard chain == bh.endChain else {
                            throw TallyError(.integrity, "\(path) byte \(offset): the chain does not match the block; run `tally ledger verify`")
                        }
                        blocks += 1
                    case .damaged(let offset, _, let why):
                        throw TallyError(.integrity, "\(path) byte \(offset): \(why); run `tally ledger verify`")
                    case .tail(let offset, let why):
                        guard isLast, frontier.size >= w.checkpointedSize else {
                            throw TallyError(.integrity, "\(path) byte \(offset): \(why) in committed data; run `tally ledger verify`")
                        }
                        truncateAt = offset
                        repairs.append(.init(file: path, offset: offset, bytesRemoved: bytes.count - offset, reason: why))
                    }
                }
                state = (chain, frontier)
                if isLast {
                    w.segIndex = index
                    w.segBlocks = blocks
                    w.segSize = truncateAt ?? scan.zeroTail ?? bytes.count
                    w.segAllocated = truncateAt ?? bytes.count
                }
            }
            if isLast {
                w.segFD = try FileIO.openFile(path, O_WRONLY)
                if let t = truncateAt {
                    try FileIO.truncate(w.segFD, to: t, path: path)
                    try FileIO.syncFile(w.segFD, path: path)
                }
            }
        }
        guard let final = state else { throw TallyError(.integrity, "no readable segment") }
        w.size = final.frontier.size
        w.chain = final.chain
        w.frontier = final.frontier
        w.lastTime = lastTime
        guard w.checkpointedSize <= w.size else {
            throw TallyError(.integrity, "the last checkpoint covers \(w.checkpointedSize) records but the segments hold \(w.size): the ledger was truncated; run `tally ledger verify`")
        }
        if let u = unfinished {
            guard unlink(u.path) == 0 || errno == ENOENT else {
                throw TallyError(.io, "cannot remove \(u.path): \(FileIO.errorText())")
            }
            try FileIO.syncDirectory(paths.segmentsDir)
            repairs.append(.init(file: u.path, offset: 0, bytesRemoved: u.bytes, reason: u.reason))
        }
        if let fl = try keys.firstLiveEpoch() { w.firstLiveEpoch = fl } else { w.firstLiveEpoch = epochs.publicKeys.count }

        // Committed records not yet checkpointed (a crash between fsync and checkpoint).
        var written = 0
        if w.size > w.checkpointedSize {
            w.pending = boundary
            if let e = epochs.epoch(at: lastTime) { w.pending.append((w.size, w.frontier.root, e)) }
            written = w.pending.count
            try w.writePendingCheckpoints()
        }
        try w.eraseExpiredKeys()
        let report = repairs.isEmpty && written == 0 ? nil : RecoveryReport(repairs: repairs, checkpointsWritten: written)
        return (w, report)
    }
}

#if canImport(Glibc)
import Glibc
#endif
