import TallyCore

/// The chain state at the end of a verified segment.
struct SegmentEndState {
    var size: UInt64
    var chain: Digest
    var frontier: MerkleFrontier
    var frontierValid: Bool
}

struct SegmentVerifyResult {
    var file: String
    var header: SegmentHeader?
    var firstBlockSeq: UInt64?
    var end: SegmentEndState?
    var roots: [UInt64: Digest] = [:]
    var problems: [VerifyProblem] = []
    var warnings: [VerifyProblem] = []
    var tail: (offset: Int, reason: String)?
    /// The segment's first readable record (seq, time, block offset) and its last record's time: the link
    /// pass checks that time does not go back from one segment to the next.
    var firstRecord: (seq: UInt64, time: Int64, offset: Int)?
    var lastTime: Int64?
}

/// Verifies one segment on its own: framing, checksums, decompression, seq continuity, the
/// chain against every block header, Merkle roots at the requested sizes, and that each record
/// is first covered by a checkpoint signed in the record's epoch.
struct SegmentVerifyJob: @unchecked Sendable {
    let epochs: EpochSet?
    let targets: Set<UInt64>
    let coverage: [(size: UInt64, epochs: Set<Int>)]
    /// Decompression buffers shared by the jobs of one verify run.
    var buffers = BufferPool()

    /// `sealed`: a segment before the newest, which no writer truncates, so it is mapped rather
    /// than copied (the newest can be cut back by a writer's torn-tail repair and is read).
    func verify(path: String, relPath: String, index: UInt32, start: SegmentEndState?, sealed: Bool = false) -> SegmentVerifyResult {
        var r = SegmentVerifyResult(file: relPath)
        do {
            if sealed {
                try FileIO.withMappedFile(path) { buf in scan(buf, &r, index: index, start: start, newest: false) }
            } else {
                try FileIO.readFile(path).withUnsafeBytes { buf in scan(buf, &r, index: index, start: start, newest: true) }
            }
        } catch let e as TallyError {
            r.problems.append(.init(kind: "missing-segment", file: relPath, message: e.reason))
        } catch {}
        return r
    }

    private func scan(_ buf: UnsafeRawBufferPointer, _ r: inout SegmentVerifyResult, index: UInt32, start: SegmentEndState?, newest: Bool) {
        let scan = SegmentScan(buf, newest: newest)
        let file = r.file
        // Segment 1's header is written and synced by `init`, never by a rollover: damage there is never "torn".
        if index == 1, scan.headerIncomplete || scan.headerProblem != nil {
            r.problems.append(.init(kind: "segment-header", file: file, offset: 0,
                                    message: scan.headerProblem ?? "the file is shorter than a segment header"))
            if scan.headerIncomplete { return }
        } else if let why = scan.headerProblem, !scan.entries.contains(where: { if case .good = $0 { true } else { false } }) {
            // A header torn by a crash in the rollover that wrote it (it can span sectors), with no block after
            // it: like a file shorter than a header, harmless for the last segment when no checkpoint reaches into it.
            r.tail = (0, "the segment header is torn (\(why)) and no block follows it")
            return
        } else if let why = scan.headerProblem {
            r.problems.append(.init(kind: "segment-header", file: file, offset: 0, message: why))
        } else if scan.headerIncomplete {
            // Like a torn block: harmless for the last segment (a rollover cut short), damage elsewhere.
            r.tail = (0, "the file is shorter than a segment header")
            return
        }
        if let h = scan.header, h.index != index {
            r.problems.append(.init(kind: "segment-header", file: file, offset: 0, message: "the header says segment \(h.index), the file name \(index)"))
        }
        r.header = scan.header
        var expected: UInt64?
        var chain = Digest()
        var chainKnown = false
        var frontier = MerkleFrontier()
        var frontierValid = false
        if let s = start {
            expected = s.size + 1; chain = s.chain; chainKnown = true; frontier = s.frontier; frontierValid = s.frontierValid
        } else if let h = scan.header {
            expected = h.firstSeq; chain = h.startChain; chainKnown = true; frontier = h.startFrontier; frontierValid = true
        }
        var builder = RecordBuilder()
        var records: [(event: UnsafeRawBufferPointer, seq: UInt64, time: Int64)] = []
        var scratch = buffers.take(atLeast: 0)
        defer { buffers.give(scratch) }
        var cov = 0
        let sortedTargets = targets.sorted()
        var nextTarget = 0
        var cachedTime = Int64.min
        var cachedCov = -1
        var cachedOK = true
        var epochBad: [(first: UInt64, last: UInt64, offset: Int)] = []
        var lastTime = Int64.min
        for (n, entry) in scan.entries.enumerated() {
            switch entry {
            case .good(let offset, let h):
                if r.firstBlockSeq == nil { r.firstBlockSeq = h.firstSeq }
                if let exp = expected, h.firstSeq != exp {
                    if h.firstSeq > exp {
                        r.problems.append(.init(kind: "seq-gap", seq: exp, lastSeq: h.firstSeq - 1, file: file, offset: offset,
                                                message: "records \(exp)–\(h.firstSeq - 1) are missing before this block"))
                    } else {
                        r.problems.append(.init(kind: "seq-order", seq: h.firstSeq, lastSeq: h.lastSeq, file: file, offset: offset,
                                                message: "block holds seqs \(h.firstSeq)–\(h.lastSeq) but seq \(exp) was expected (blocks reordered or duplicated)"))
                    }
                    chainKnown = false
                    frontierValid = false
                }
                let blockChainKnown = chainKnown
                do {
                    // One decompression buffer per worker, reused across blocks and segments (no fresh pages).
                    let u = Int(h.uncompressedLength)
                    if scratch.count < u { scratch = [UInt8](unsafeUninitializedCapacity: u) { _, n in n = u } }
                    let payload = h.payload(in: buf, at: offset)
                    try scratch.withUnsafeMutableBytes { whole in
                        let c = UnsafeMutableRawBufferPointer(rebasing: whole[0..<u])
                        try LZ4.decompress(payload, into: c)
                        // The block's records first, then their leaves two by two (SHA256.digest2
                        // interleaves a pair), then every record's checks in order. Records before a
                        // decoding error are still checked, as when each was checked as it was read.
                        records.removeAll(keepingCapacity: true)
                        var decodeError: (any Error)?
                        do {
                            try BlockContent.forEachRecord(UnsafeRawBufferPointer(c), header: h) { seq, time, event in
                                records.append((event, seq, time))
                            }
                        } catch { decodeError = error }
                        func check(_ seq: UInt64, _ time: Int64, _ leaf: Digest) {
                            if chainKnown && frontierValid {
                                frontier.append(leaf, chain: &chain)
                            } else if chainKnown {
                                chain = LedgerHash.chain(chain, leaf)
                            } else if frontierValid {
                                frontier.append(leaf)
                            }
                            if frontierValid {
                                while nextTarget < sortedTargets.count && sortedTargets[nextTarget] < frontier.size { nextTarget += 1 }
                                if nextTarget < sortedTargets.count && sortedTargets[nextTarget] == frontier.size { r.roots[frontier.size] = frontier.root }
                            }
                            if r.firstRecord == nil { r.firstRecord = (seq, time, offset) }
                            if time < lastTime {
                                r.problems.append(.init(kind: "time-order", seq: seq, file: file, offset: offset, message: "record time goes backwards"))
                            }
                            lastTime = time
                            while cov < coverage.count && coverage[cov].size < seq { cov += 1 }
                            if time != cachedTime || cov != cachedCov {
                                cachedTime = time
                                cachedCov = cov
                                cachedOK = epochOK(seq: seq, time: time, cov: &cov)
                            }
                            if !cachedOK {
                                if let b = epochBad.last, b.last + 1 == seq { epochBad[epochBad.count - 1].last = seq } else { epochBad.append((seq, seq, offset)) }
                            }
                        }
                        var i = 0
                        while i + 1 < records.count {
                            let (a, b) = (records[i], records[i + 1])
                            let (l0, l1) = builder.leafPair(a.event, seq: a.seq, time: a.time, b.event, seq: b.seq, time: b.time)
                            check(a.seq, a.time, l0)
                            check(b.seq, b.time, l1)
                            i += 2
                        }
                        if i < records.count {
                            let a = records[i]
                            check(a.seq, a.time, builder.leaf(event: a.event, seq: a.seq, time: a.time))
                        }
                        if let decodeError { throw decodeError }
                    }
                    if blockChainKnown && chain != h.endChain {
                        r.problems.append(.init(kind: "chain-mismatch", seq: h.firstSeq, lastSeq: h.lastSeq, file: file, offset: offset,
                                                message: "the records do not hash to the chain value in the block header"))
                        // The Merkle frontier now holds the altered records' leaves, not the ones the checkpoints and the
                        // next segment's header were made from: comparing it blamed the intact next header too
                        // (`segment-link`; session 12 probe). The chain goes on from the header's value, as always.
                        frontierValid = false
                    } else if !blockChainKnown {
                        r.warnings.append(.init(kind: "unverifiable", seq: h.firstSeq, lastSeq: h.lastSeq, file: file, offset: offset,
                                                message: "the chain into this block cannot be checked because of earlier damage"))
                    }
                } catch {
                    let why = (error as? TallyError)?.reason ?? "\(error)"
                    r.problems.append(.init(kind: "damaged-block", seq: h.firstSeq, lastSeq: h.lastSeq, file: file, offset: offset,
                                            message: "block content cannot be decoded: \(why)"))
                    frontierValid = false
                }
                chain = h.endChain
                chainKnown = true
                expected = h.lastSeq + 1
            case .damaged(let offset, let end, let why):
                var nextSeq: UInt64?
                for later in scan.entries[(n + 1)...] { if case .good(_, let h2) = later { nextSeq = h2.firstSeq; break } }
                if let exp = expected, nextSeq == exp {
                    // Unreadable bytes between two blocks, the next one starting at the seq expected: no record is lost
                    // (no `seq`, as at a segment's end), and the chain into the next block is known (it was reported as
                    // a lost record and an unverifiable chain; session 12 probe).
                    r.problems.append(.init(kind: "damaged-block", file: file, offset: offset,
                                            message: "\(why); \(end - offset) bytes unreadable between blocks (no record is lost)"))
                    continue
                }
                let first = expected
                let last = nextSeq.map { $0 > 0 ? $0 - 1 : 0 }
                r.problems.append(.init(kind: "damaged-block", seq: first, lastSeq: last.flatMap { l in first.map { l >= $0 ? l : $0 } }, file: file, offset: offset,
                                        message: "\(why); \(end - offset) bytes unreadable"))
                chainKnown = false
                frontierValid = false
                expected = nextSeq
            case .tail(let offset, let why):
                r.tail = (offset, why)
            }
        }
        if lastTime != Int64.min { r.lastTime = lastTime }
        for b in epochBad {
            r.problems.append(.init(kind: "epoch-mismatch", seq: b.first, lastSeq: b.last, file: file, offset: b.offset,
                                    message: "records are first covered by a checkpoint that was not signed with their epoch's key"))
        }
        if let exp = expected ?? start.map({ $0.size + 1 }) {
            r.end = SegmentEndState(size: exp - 1, chain: chain, frontier: frontier, frontierValid: frontierValid && chainKnown)
            if !chainKnown { r.end = nil }
        }
    }

    /// False when the first checkpoint covering `seq` was not signed with the key of the record's epoch.
    private func epochOK(seq: UInt64, time: Int64, cov: inout Int) -> Bool {
        guard let epochs else { return true }
        while cov < coverage.count && coverage[cov].size < seq { cov += 1 }
        guard cov < coverage.count else { return true }
        guard let e = epochs.epoch(at: time) else { return false }
        return coverage[cov].epochs.contains(e)
    }
}
