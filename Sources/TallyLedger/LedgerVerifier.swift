import Foundation
import TallyCore

/// Verifies everything in a ledger (docs/LEDGER-FORMAT.md, "Verification"), reporting every
/// damaged range rather than stopping at the first. Segments are verified in parallel, each from
/// the chain state recorded in its header; a sequential pass then checks how they link.
public struct LedgerVerifier: Sendable {
    let paths: LedgerPaths
    let publicKeyPath: String?
    let witnesses: [String]

    /// `publicKeyPath`: the auditor's copy of ledger.pub (default H/ledger.pub).
    /// `witnesses`: files each holding one or more checkpoint notes kept elsewhere.
    public init(home: String, publicKeyPath: String? = nil, witnesses: [String] = []) throws {
        paths = LedgerPaths(home: home)
        try paths.checkIsHome()
        self.publicKeyPath = publicKeyPath
        self.witnesses = witnesses
    }

    func rel(_ path: String) -> String {
        path.hasPrefix(paths.home + "/") ? String(path.dropFirst(paths.home.count + 1)) : path
    }

    /// Runs the verification. `progress` receives the fraction of segment bytes done.
    /// `singleThreaded` verifies segments one after another on the calling thread (for measurements).
    public func run(singleThreaded: Bool = false, progress: (@Sendable (Double) -> Void)? = nil) throws -> VerifyReport {
        var report = VerifyReport()
        // A file that exists but cannot be read (permissions, I/O) says nothing about the ledger: verify cannot run,
        // and reporting it as damage (a missing segment, then every checkpoint "truncated") would be false.
        let files = [paths.epochsNote, paths.epochsPub, paths.checkpoints] + (try paths.segmentIndexes()).map(paths.segmentPath)
        for file in files {
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { close(fd); continue }
            if errno == ENOENT { continue }
            throw TallyError(.io, "cannot read \(file): \(FileIO.errorText()) (verify reads every file of the ledger)")
        }
        // Keys.
        if let k = publicKeyPath {
            do { _ = try NoteVerifierKey(parsing: String(decoding: try FileIO.readFile(k), as: UTF8.self)) } catch let e as TallyError {
                throw TallyError(.badInput, "--public-key \(k): \(e.reason)")
            }
        }
        var epochs: EpochSet?
        do { epochs = try LedgerWriter.loadEpochs(paths, publicKeyPath: publicKeyPath) } catch let e as TallyError {
            report.problems.append(.init(kind: "epoch-keys", file: rel(paths.epochsNote), message: e.reason + " (no checkpoint signature can be trusted)"))
        }

        // Checkpoints.
        let ckptBytes = (try? FileIO.readFile(paths.checkpoints)) ?? []
        if !FileIO.exists(paths.checkpoints) {
            report.problems.append(.init(kind: "checkpoint-invalid", file: rel(paths.checkpoints), message: "checkpoints.log is missing"))
        }
        let log = CheckpointLog.read(ckptBytes, epochs: epochs)
        for p in log.problems {
            report.problems.append(.init(kind: "checkpoint-invalid", file: rel(paths.checkpoints), offset: p.offset, message: p.reason))
        }
        if let t = log.tornTailAt {
            report.warnings.append(.init(kind: "torn-tail", file: rel(paths.checkpoints), offset: t, message: "incomplete checkpoint note at the end (repaired on next open)"))
        }
        // Trusted checkpoints: valid signature by a certified epoch key, right origin.
        let trusted = log.entries.filter { !$0.epochs.isEmpty && $0.checkpoint.origin == epochs?.origin }
        report.checkpoints = trusted.count
        var prev: CheckpointLog.Entry?
        for e in trusted {
            if let p = prev {
                if e.checkpoint.size < p.checkpoint.size {
                    report.problems.append(.init(kind: "checkpoint-order", seq: e.checkpoint.size, file: rel(paths.checkpoints), offset: e.offset,
                                                 message: "checkpoint size \(e.checkpoint.size) is smaller than the previous \(p.checkpoint.size)"))
                }
                if (e.epochs.max() ?? 0) < (p.epochs.min() ?? 0) {
                    report.problems.append(.init(kind: "checkpoint-order", seq: e.checkpoint.size, file: rel(paths.checkpoints), offset: e.offset,
                                                 message: "checkpoint signed in epoch \(e.epochs) after one signed in epoch \(p.epochs)"))
                }
            }
            prev = e
        }

        // Witnesses.
        var witnessEntries: [(file: String, entry: CheckpointLog.Entry)] = []
        for w in witnesses {
            let bytes: [UInt8]
            do { bytes = try FileIO.readFile(w) } catch let e as TallyError { throw TallyError(.badInput, "--witness: \(e.reason)") }
            let wl = CheckpointLog.read(bytes, epochs: epochs)
            for p in wl.problems { report.problems.append(.init(kind: "witness-invalid", file: w, offset: p.offset, message: p.reason)) }
            if wl.entries.isEmpty && wl.problems.isEmpty {
                report.problems.append(.init(kind: "witness-invalid", file: w, message: "no checkpoint note in the witness file"))
            }
            for e in wl.entries where !e.epochs.isEmpty && e.checkpoint.origin == epochs?.origin { witnessEntries.append((w, e)) }
        }
        report.witnesses = witnessEntries.count

        // Segments, in parallel.
        let indexes = try paths.segmentIndexes()
        report.segments = indexes.count
        if let last = indexes.last {
            var expected: UInt32 = 1
            for i in indexes {
                while expected < i {
                    report.problems.append(.init(kind: "missing-segment", file: rel(paths.segmentPath(expected)), message: "segment file \(expected) is missing"))
                    expected += 1
                }
                expected = i + 1
            }
            _ = last
        } else {
            report.problems.append(.init(kind: "missing-segment", file: rel(paths.segmentsDir), message: "no segment files"))
        }
        var targets = Set(trusted.map(\.checkpoint.size))
        for w in witnessEntries { targets.insert(w.entry.checkpoint.size) }
        let coverage = trusted.map { (size: $0.checkpoint.size, epochs: Set($0.epochs)) }
        let job = SegmentVerifyJob(epochs: epochs, targets: targets, coverage: coverage)
        let results = Slots<SegmentVerifyResult?>(count: indexes.count, initial: nil)
        let sizes = indexes.map { FileIO.fileSize(paths.segmentPath($0)) ?? 0 }
        let totalBytes = max(1, sizes.reduce(0, +))
        let doneBytes = Slots(count: 1, initial: 0)
        let lock = NSLock()
        let body: (Int) -> Void = { i in
            let path = paths.segmentPath(indexes[i])
            results[i] = job.verify(path: path, relPath: rel(path), index: indexes[i], start: nil, sealed: i < indexes.count - 1)
            if let progress {
                lock.lock(); doneBytes[0] += sizes[i]; let f = Double(doneBytes[0]) / Double(totalBytes); lock.unlock()
                progress(f)
            }
        }
        if singleThreaded { for i in indexes.indices { body(i) } } else { parallelFor(indexes.count, body) }

        // Link pass (sequential): headers against the previous segment's end state.
        var all = results.array.map { $0! }
        var roots: [UInt64: Digest] = [:]
        var lastGoodSeq: UInt64 = 0
        for i in all.indices {
            if all[i].header == nil, i > 0, let prevEnd = all[i - 1].end, all[i].firstBlockSeq == prevEnd.size + 1 {
                // Damaged header: verify the segment again from the previous segment's end state.
                let path = paths.segmentPath(indexes[i])
                all[i] = job.verify(path: path, relPath: rel(path), index: indexes[i], start: prevEnd, sealed: i < indexes.count - 1)
            }
            let r = all[i]
            report.problems.append(contentsOf: r.problems)
            report.warnings.append(contentsOf: r.warnings)
            if i == 0, let h = r.header, h.firstSeq != 1 {
                report.problems.append(.init(kind: "seq-gap", seq: 1, lastSeq: h.firstSeq - 1, file: r.file, offset: 0, message: "the first segment starts at seq \(h.firstSeq): records 1–\(h.firstSeq - 1) are missing"))
            }
            if i > 0, let h = r.header, let prevEnd = all[i - 1].end {
                if all[i - 1].tail != nil && h.firstSeq > prevEnd.size + 1 {
                    // The records missing here were in the previous segment's unreadable end: reported there.
                } else if h.firstSeq != prevEnd.size + 1 {
                    report.problems.append(.init(kind: "seq-gap", seq: prevEnd.size + 1, lastSeq: h.firstSeq > prevEnd.size + 1 ? h.firstSeq - 1 : nil, file: r.file, offset: 0,
                                                 message: "segment starts at seq \(h.firstSeq) but the previous one ends at \(prevEnd.size)"))
                } else if h.startChain != prevEnd.chain || (prevEnd.frontierValid && h.startFrontier != prevEnd.frontier) {
                    report.problems.append(.init(kind: "segment-link", seq: h.firstSeq, file: r.file, offset: 0,
                                                 message: "the chain state recorded in the segment header does not match the end of the previous segment"))
                }
            }
            if i > 0, let first = r.firstRecord, let before = all[i - 1].lastTime, first.time < before {
                report.problems.append(.init(kind: "time-order", seq: first.seq, file: r.file, offset: first.offset,
                                             message: "record time goes backwards (from the end of the previous segment)"))
            }
            for (k, v) in r.roots { roots[k] = v }
            if let end = r.end { lastGoodSeq = max(lastGoodSeq, end.size) }
            if let tail = r.tail, i == all.count - 1 {
                let covered = (trusted.map(\.checkpoint.size).max() ?? 0) > lastGoodSeq
                let p = VerifyProblem(kind: covered ? "damaged-block" : "torn-tail", seq: covered ? lastGoodSeq + 1 : nil, file: r.file, offset: tail.offset,
                                      message: covered ? "\(tail.reason): bytes to the end of the file are unreadable but checkpoints cover records in them"
                                                       : "\(tail.reason): an incomplete append no checkpoint covers (cut off on the next open)")
                if covered { report.problems.append(p) } else { report.warnings.append(p) }
            } else if let tail = r.tail {
                // The records lost in a sealed segment's unreadable end are those before the next segment's first.
                let first = (r.end?.size ?? lastGoodSeq) + 1
                let whereText = "\(tail.reason) (to the end of a segment that is not the last)"
                if let next = all[i + 1].header?.firstSeq, next > first {
                    report.problems.append(.init(kind: "damaged-block", seq: first, lastSeq: next - 1, file: r.file, offset: tail.offset,
                                                 message: "\(whereText): records \(first)–\(next - 1) are unreadable"))
                } else if all[i + 1].header != nil {
                    report.problems.append(.init(kind: "damaged-block", file: r.file, offset: tail.offset,
                                                 message: "\(whereText); the next segment starts where this one's readable records end, so no record is lost"))
                } else {
                    report.problems.append(.init(kind: "damaged-block", seq: first, file: r.file, offset: tail.offset, message: whereText))
                }
            }
        }
        report.records = lastGoodSeq

        // Checkpoints and witnesses against the recomputed tree.
        for e in trusted {
            let cp = e.checkpoint
            if cp.size > lastGoodSeq {
                report.problems.append(.init(kind: "truncated", seq: lastGoodSeq + 1, lastSeq: cp.size, file: rel(paths.checkpoints), offset: e.offset,
                                             message: "a signed checkpoint covers \(cp.size) records but the ledger holds \(lastGoodSeq)"))
            } else if let r = cp.size == 0 ? LedgerHash.emptyRoot : roots[cp.size] {
                if r != cp.root {
                    report.problems.append(.init(kind: "checkpoint-mismatch", seq: cp.size, file: rel(paths.checkpoints), offset: e.offset,
                                                 message: "the Merkle root of the first \(cp.size) records does not match the signed checkpoint"))
                }
            } else {
                report.warnings.append(.init(kind: "unverifiable", seq: cp.size, file: rel(paths.checkpoints), offset: e.offset,
                                             message: "the root at size \(cp.size) could not be recomputed because of earlier damage"))
            }
        }
        for (file, e) in witnessEntries {
            let cp = e.checkpoint
            if cp.size > lastGoodSeq {
                report.problems.append(.init(kind: "witness-truncation", seq: lastGoodSeq + 1, lastSeq: cp.size, file: file, offset: e.offset,
                                             message: "the witness checkpoint covers \(cp.size) records but the ledger holds \(lastGoodSeq)"))
            } else if let r = cp.size == 0 ? LedgerHash.emptyRoot : roots[cp.size], r != cp.root {
                report.problems.append(.init(kind: "witness-fork", seq: cp.size, file: file, offset: e.offset,
                                             message: "the ledger's first \(cp.size) records do not match the witness checkpoint: the ledger forked or was rewritten"))
            } else if roots[cp.size] == nil && cp.size != 0 {
                report.warnings.append(.init(kind: "unverifiable", seq: cp.size, file: file, offset: e.offset, message: "witness root could not be recomputed because of earlier damage"))
            }
        }
        if let maxCp = trusted.map(\.checkpoint.size).max(), maxCp < lastGoodSeq {
            report.warnings.append(.init(kind: "uncheckpointed", seq: maxCp + 1, lastSeq: lastGoodSeq,
                                         message: "\(lastGoodSeq - maxCp) records are not covered by a checkpoint yet (checkpointed on next open)"))
        } else if trusted.isEmpty && lastGoodSeq > 0 {
            report.warnings.append(.init(kind: "uncheckpointed", seq: 1, lastSeq: lastGoodSeq, message: "no record is covered by a checkpoint"))
        }
        // One entry per damaged place: a note can fail more than one check at the same offset.
        var seen = Set<String>()
        report.problems = report.problems.filter {
            seen.insert("\($0.kind)|\($0.file ?? "")|\($0.offset ?? -1)|\($0.seq ?? 0)|\($0.lastSeq ?? 0)").inserted
        }
        return report
    }
}

#if canImport(Glibc)
import Glibc
#endif
