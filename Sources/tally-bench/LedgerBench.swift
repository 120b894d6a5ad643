import ArgumentParser
import Foundation
import TallyCore
import TallyLedger

/// `tally-bench ledger` — appends N realistic AWS-call events through the CLI's canonicalisation
/// path with durable group commit, verifies them, and prints the raw limits measured in the same
/// run on the same bytes (LZ4_compress_default, single-core SHA-256) and the size of `lz4 -1`.
struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Ledger append/verify throughput and on-disk size.")
    @Option(help: "Number of events.") var events = 1_000_000
    @Option(help: "Lines per append batch (one batch ≈ one JSON-lines read of the CLI).") var batch = 8192
    @Option(help: "Directory for the benchmark home (default: a new temp dir, removed afterwards).") var dir: String?
    @Flag(help: "Keep the benchmark home.") var keep = false
    @Option(help: "Key order of the input lines: canonical (sorted, as Tally's own producers write them) or producer (unsorted; the canonicaliser must sort).")
    var keyOrder = "canonical"

    @Option(help: "Only verify this existing home (for profiling).") var verifyOnly: String?
    @Flag(help: "Only generate the input and append it, then stop (for profiling the append path).") var appendOnly = false
    @Flag(help: "Canonicalise every batch before the clock starts, so append measures the ledger alone (hash, chain, tree, LZ4, write, fdatasync).") var ledgerOnly = false

    func run() async throws {
        if let verifyOnly {
            for single in [true, false] {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let r = try LedgerVerifier(home: verifyOnly).run(singleThreaded: single)
                print("verify \(single ? "1 core" : "all cores"): ok=\(r.ok) \(r.records) records in \(fmt(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) s")
            }
            return
        }
        // The input: JSON lines, ~450 bytes each.
        var gen = BenchEvents()
        var input: [UInt8] = []
        input.reserveCapacity(events * 470)
        var canon = JSONCanonicalizer()
        for i in 0..<events {
            if keyOrder == "producer" {
                input.append(contentsOf: gen.line(i).utf8)
            } else {
                let line = Array(gen.line(i).utf8.dropLast())
                try line.withUnsafeBufferPointer { try canon.canonicalize($0, into: &input) }
                input.append(0x0A)
            }
        }
        let mb = Double(input.count) / 1e6
        print("input: \(events) events, \(fmt(mb)) MB of JSON lines (\(keyOrder) key order), \(input.count / events) bytes/event on average")

        // Raw limits on the same bytes.
        var slower = Double.nan, shaRate = Double.nan
        if !appendOnly {
            let lz4Rate = try measure(bytes: input.count) { try compressAll(input) }
            let ownRate = try measure(bytes: input.count) { try compressAll(input, reference: false) }
            let (lz4Bytes, ownBytes) = (try compressAll(input), try compressAll(input, reference: false))
            shaRate = measure(bytes: input.count) { hashAll(input) }
            print("limit  LZ4_compress_default (1 core, 1 MiB chunks): \(fmt(lz4Rate)) MB/s = \(fmt(lz4Rate * 1e6 / Double(input.count) * Double(events) / 1e6)) M events/s")
            print("limit  SHA-256 (1 core, 1 MiB chunks):             \(fmt(shaRate)) MB/s = \(fmt(shaRate * 1e6 / Double(input.count) * Double(events) / 1e6)) M events/s")
            slower = min(lz4Rate, shaRate)
            let sha2Rate = measure(bytes: input.count) { hashAllTwoAtATime(input) }
            print("stage  SHA-256 two messages at a time (1 core, \(SHA256.interleavesTwoMessages ? "interleaved on the SHA extensions" : "one after the other: no SHA extensions")): \(fmt(sha2Rate)) MB/s = \(fmt(100 * sha2Rate / shaRate))% of the single-stream limit")
            print("stage  Tally's LZ4 block encoder (1 core, same chunks): \(fmt(ownRate)) MB/s = \(fmt(100 * ownRate / lz4Rate))% of LZ4_compress_default's speed; output \(String(format: "%.4f", Double(ownBytes) / Double(lz4Bytes)))x its size")

            // Stage: canonicalisation alone (JSONLinesBatcher, 1 core).
            let chunksForStage = splitLines(input, linesPerChunk: batch)
            var canonical: [EventBatch] = []
            let canonRate = measure(bytes: input.count) {
                canonical.removeAll()
                var batcher = JSONLinesBatcher(parts: ProcessInfo.processInfo.activeProcessorCount)
                input.withUnsafeBytes { b in
                    for c in chunksForStage { canonical.append(batcher.feed(UnsafeRawBufferPointer(rebasing: b[c])).0) }
                }
            }
            // The same on one thread, timed by that thread's CPU clock (insensitive to other load).
            var one = JSONCanonicalizer()
            var sink: [UInt8] = []
            sink.reserveCapacity(1 << 16)
            let cpu0 = threadCPUSeconds()
            try input.withUnsafeBufferPointer { b in
                var start = 0
                for i in 0..<b.count where b[i] == 0x0A {
                    sink.removeAll(keepingCapacity: true)
                    try one.canonicalizeEvent(UnsafeBufferPointer(rebasing: b[start..<i]), into: &sink)
                    start = i + 1
                }
            }
            let canonCPU = Double(input.count) / (threadCPUSeconds() - cpu0) / 1e6
            print("stage  canonicalise (1 thread, per CPU-second): \(fmt(canonCPU)) MB/s")
            print("stage  canonicalise JSON lines (JSONLinesBatcher, \(ProcessInfo.processInfo.activeProcessorCount) cores): \(fmt(canonRate)) MB/s = \(fmt(canonRate * 1e6 / Double(input.count) * Double(events) / 1e6)) M events/s")

        }
        let base = dir ?? (NSTemporaryDirectory() + "tally-bench-\(UUID().uuidString)")
        let home = base + "/home"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: base) } }
        var options = LedgerOptions()
        options.epochCount = 48
        _ = try Ledger.initialize(home: home, options: options)

        // Append: JSON lines → JSONLinesBatcher (as `tally ledger append`) → Ledger, durable group commit.
        let chunks = splitLines(input, linesPerChunk: batch)
        var precanon: [EventBatch] = []
        if ledgerOnly {
            var batcher = JSONLinesBatcher()
            for c in chunks { precanon.append(input.withUnsafeBytes { batcher.feed(UnsafeRawBufferPointer(rebasing: $0[c])).0 }) }
        }
        let pre = precanon
        let cpuStart = processCPUSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        let ledger = try await Ledger.open(home: home, options: options)
        let frozen = input
        // A bounded hand-off (at most 8 canonicalised batches of 8,192 events ahead of the ledger, 6 of them submitted).
        let permits = DispatchSemaphore(value: 8)
        let stream = AsyncStream<EventBatch>(bufferingPolicy: .unbounded) { cont in
            let t = Thread {
                var batcher = JSONLinesBatcher()
                for (ci, c) in chunks.enumerated() {
                    let (b, err) = pre.isEmpty ? frozen.withUnsafeBytes { batcher.feed(UnsafeRawBufferPointer(rebasing: $0[c])) } : (pre[ci], nil)
                    precondition(err == nil, "\(err!)")
                    permits.wait()
                    cont.yield(b)
                }
                cont.finish()
            }
            t.start()
        }
        var last: UInt64 = 0
        try await withThrowingTaskGroup(of: UInt64.self) { group in
            var inFlight = 0
            for await b in stream {
                permits.signal()
                group.addTask { try await ledger.append(b) }
                inFlight += 1
                if inFlight >= 6, let s = try await group.next() { last = max(last, s); inFlight -= 1 }
            }
            for try await s in group { last = max(last, s) }
        }
        try await ledger.close()
        let appendSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(last == UInt64(events), "committed \(last) of \(events)")
        let appendRate = Double(events) / appendSeconds
        let appendCPU = processCPUSeconds() - cpuStart
        let what = ledgerOnly ? "append, ledger alone (batches canonicalised beforehand; hash + chain + tree + LZ4 + fdatasync)"
            : "append (durable group commit, canonicalise + hash + chain + tree + LZ4 + fdatasync)"
        print("tally  \(what): \(fmt(appendRate / 1e6)) M events/s, \(fmt(mb / appendSeconds)) MB/s of input (\(fmt(100 * mb / appendSeconds / slower))% of the slower limit) in \(fmt(appendSeconds)) s; CPU \(fmt(appendCPU * 1e6 / Double(events))) µs/event")

        if appendOnly { return }

        // Verify, 1 core and all cores.
        for single in [true, false] {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let c0 = processCPUSeconds()
            let report = try LedgerVerifier(home: home).run(singleThreaded: single)
            let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let cpu = processCPUSeconds() - c0
            precondition(report.ok && report.records == UInt64(events), "verify failed: \(report.problems.prefix(3).map(\.text))")
            print("tally  verify (\(single ? "1 core " : "\(ProcessInfo.processInfo.activeProcessorCount) cores")): \(fmt(Double(events) / s / 1e6)) M events/s, \(fmt(mb / s)) MB/s of input = \(fmt(100 * mb / s / shaRate))% of single-core SHA-256, in \(fmt(s)) s; CPU \(fmt(cpu * 1e6 / Double(events))) µs/event")
        }

        // On-disk size vs lz4 -1 of the same JSON lines.
        let ledgerBytes = try directorySize(home + "/ledger/segments") + (FileManager.default.attributesOfItem(atPath: home + "/ledger/checkpoints.log")[.size] as? Int ?? 0)
        let linesPath = base + "/events.jsonl"
        try Data(input).write(to: URL(fileURLWithPath: linesPath))
        if let lz4Size = lz4CLISize(linesPath) {
            print("size   ledger segments + checkpoints: \(ledgerBytes) bytes (\(fmt(Double(ledgerBytes) / Double(input.count) * 100))% of input); lz4 -1 of the same JSON lines: \(lz4Size) bytes; ratio ledger/lz4 = \(String(format: "%.4f", Double(ledgerBytes) / Double(lz4Size)))")
            // `tally ledger compact`: sealed segments recompressed with LZ4HC; then everything must still verify.
            let t0 = DispatchTime.now().uptimeNanoseconds
            let c0 = processCPUSeconds()
            let report = try LedgerCompaction.run(home: home)
            let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let compactCPU = processCPUSeconds() - c0
            let verified = try LedgerVerifier(home: home).run()
            precondition(verified.ok && verified.records == UInt64(events), "verify after compaction failed")
            let compacted = try directorySize(home + "/ledger/segments") + (FileManager.default.attributesOfItem(atPath: home + "/ledger/checkpoints.log")[.size] as? Int ?? 0)
            print("size   after `ledger compact` (LZ4HC level \(LZ4.highCompressionDefaultLevel), \(report.compacted.count) sealed segments, \(fmt(s)) s, CPU \(fmt(compactCPU)) s; verified again): \(compacted) bytes; ratio ledger/lz4 = \(String(format: "%.4f", Double(compacted) / Double(lz4Size)))")
        } else {
            print("size   ledger segments + checkpoints: \(ledgerBytes) bytes (\(fmt(Double(ledgerBytes) / Double(input.count) * 100))% of input); lz4 CLI not found, no comparison")
        }
    }
}

func fmt(_ v: Double) -> String { String(format: v >= 100 ? "%.0f" : "%.2f", v) }

/// Bytes per second (in MB/s) of `body` over `bytes`, best of 3.
func measure(bytes: Int, _ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return Double(bytes) / best / 1e6
}

/// Compresses `input` in 1 MiB chunks into one reused buffer, with liblz4's LZ4_compress_default
/// (`reference`, the printed limit) or with Tally's own block encoder; returns the compressed bytes.
@discardableResult
func compressAll(_ input: [UInt8], reference: Bool = true) throws -> Int {
    var out = [UInt8](repeating: 0, count: LZ4.compressBound(1 << 20))
    var total = 0
    try input.withUnsafeBytes { b in
        try out.withUnsafeMutableBytes { o in
            var off = 0
            while off < b.count {
                let n = min(1 << 20, b.count - off)
                let chunk = UnsafeRawBufferPointer(rebasing: b[off..<(off + n)])
                total += reference ? try LZ4.compressReference(chunk, into: o) : try LZ4.compress(chunk, into: o)
                off += n
            }
        }
    }
    return total
}

func hashAll(_ input: [UInt8]) {
    var out = [UInt8](repeating: 0, count: 32)
    input.withUnsafeBytes { b in
        out.withUnsafeMutableBytes { o in
            var off = 0
            while off < b.count {
                let n = min(1 << 20, b.count - off)
                SHA256.hash(UnsafeRawBufferPointer(rebasing: b[off..<(off + n)]), into: o.baseAddress!)
                off += n
            }
        }
    }
}

/// SHA-256 of the input's 1 MiB chunks two at a time (`SHA256.digest2`: interleaved on the SHA
/// extensions where the CPU has them), the way the ledger hashes its records.
func hashAllTwoAtATime(_ input: [UInt8]) {
    var out = [UInt8](repeating: 0, count: 64)
    input.withUnsafeBytes { b in
        out.withUnsafeMutableBytes { o in
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            var off = 0
            while off < b.count {
                let n0 = min(1 << 20, b.count - off), n1 = min(1 << 20, b.count - off - n0)
                SHA256.digest2(empty, UnsafeRawBufferPointer(rebasing: b[off..<(off + n0)]), empty, into: o.baseAddress!,
                               empty, UnsafeRawBufferPointer(rebasing: b[(off + n0)..<(off + n0 + n1)]), empty, into: o.baseAddress! + 32)
                off += n0 + n1
            }
        }
    }
}

/// Byte ranges of `linesPerChunk` complete lines each.
func splitLines(_ input: [UInt8], linesPerChunk: Int) -> [Range<Int>] {
    var out: [Range<Int>] = []
    var start = 0, lines = 0
    for i in input.indices where input[i] == 0x0A {
        lines += 1
        if lines == linesPerChunk { out.append(start..<(i + 1)); start = i + 1; lines = 0 }
    }
    if start < input.count { out.append(start..<input.count) }
    return out
}

func directorySize(_ path: String) throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: path).reduce(0) { sum, name in
        sum + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? Int) ?? 0)
    }
}

/// The size of `lz4 -1` output for the file, or nil when the CLI is not installed.
func lz4CLISize(_ path: String) -> Int? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["lz4", "-1", "-f", "-q", path, path + ".lz4"]
    do { try p.run() } catch { return nil }
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return (try? FileManager.default.attributesOfItem(atPath: path + ".lz4")[.size] as? Int) ?? nil
}

/// CPU seconds consumed by the calling thread.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CPU seconds (user + system) consumed by the process.
func processCPUSeconds() -> Double {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
}
