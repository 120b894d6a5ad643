public import TallyCore

/// Turns a stream of JSON lines (one event object per line) into event batches, for
/// `tally ledger append`. Blank lines are skipped. A line longer than `maxLineBytes` (default
/// 1 MiB) or one that is not an event is an error naming its 1-based line number; the events of
/// earlier lines are returned first so they can be committed. Large inputs can be canonicalised on
/// several cores (in order; `parts`).
public struct JSONLinesBatcher {
    public let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var canonicalizers: [JSONCanonicalizer] = []
    /// The number of lines consumed so far.
    public private(set) var lineNumber = 0

    /// `parts`: how many cores canonicalise a large input (≥ 256 KiB) at once. The default, 1, suits
    /// a caller that hands the batches to a `Ledger`: its commit pipeline keeps the other core busy
    /// (hashing, compressing), and splitting would only add a merge copy (`tally-bench ledger`, idle
    /// 2-core VM: 1.21 M events/s split in two, 1.22–1.24 unsplit, with less CPU per event).
    public init(maxLineBytes: Int = 1 << 20, parts: Int = 1) {
        self.maxLineBytes = maxLineBytes
        canonicalizers = Array(repeating: JSONCanonicalizer(), count: max(1, min(parts, workerCount)))
    }

    private struct Part {
        var batch = EventBatch()
        var lines = 0
        var consumed = 0
        var error: TallyError?
    }

    /// Canonicalises the complete lines of `buf` (the last line counts as complete at end of input).
    private static func process(_ buf: UnsafeBufferPointer<UInt8>, endOfInput: Bool, maxLineBytes: Int,
                                firstLine: Int, reserve: Int, canonicalizer: inout JSONCanonicalizer) -> Part {
        var part = Part()
        part.batch.reserveCapacity(bytes: max(reserve, buf.count) + 64, events: max(reserve, buf.count) / 256)
        var start = 0
        let base = UnsafeRawPointer(buf.baseAddress!)
        while start < buf.count {
            let found = memchr(base + start, 0x0A, buf.count - start)
            guard let nl = found.map({ base.distance(to: UnsafeRawPointer($0)) }) ?? (endOfInput ? buf.count : nil) else { break }
            part.lines += 1
            var line = UnsafeBufferPointer(rebasing: buf[start..<nl])
            if line.last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
            let number = firstLine + part.lines
            if line.count > maxLineBytes {
                part.error = TallyError(.badInput, "line \(number): \(line.count) bytes is longer than the limit of \(maxLineBytes) bytes")
                break
            }
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                do {
                    try part.batch.append(jsonText: line, using: &canonicalizer)
                } catch let e as TallyError {
                    part.error = TallyError(.badInput, "line \(number): \(e.reason)")
                    break
                } catch {
                    part.error = TallyError(.badInput, "line \(number): \(error)")
                    break
                }
            }
            start = min(nl + 1, buf.count)
        }
        part.consumed = start
        return part
    }

    /// Feeds bytes; returns the events of the complete lines and, if a line was bad, the error
    /// (later bytes are not consumed after an error).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, endOfInput: Bool = false) -> (EventBatch, TallyError?) {
        // With nothing left over from the previous call, work straight on the caller's bytes and keep
        // only the incomplete last line (no copy of the whole input).
        if pending.isEmpty {
            let (batch, error, consumed) = bytes.withMemoryRebound(to: UInt8.self) { feed(buffer: $0, endOfInput: endOfInput) }
            pending.append(contentsOf: bytes[consumed...])
            return finish(batch, error)
        }
        var input: [UInt8] = []
        swap(&input, &pending)
        input.append(contentsOf: bytes)
        let (batch, error, consumed) = input.withUnsafeBufferPointer { feed(buffer: $0, endOfInput: endOfInput) }
        pending.append(contentsOf: input[consumed...])
        return finish(batch, error)
    }

    /// The line-length check on what stays pending.
    private func finish(_ batch: EventBatch, _ error: TallyError?) -> (EventBatch, TallyError?) {
        if error == nil, pending.count > maxLineBytes {
            return (batch, TallyError(.badInput, "line \(lineNumber + 1): longer than the limit of \(maxLineBytes) bytes"))
        }
        return (batch, error)
    }

    /// Canonicalises the complete lines of `buf` on all cores; returns the batch, the first error
    /// and how many bytes of `buf` were consumed.
    private mutating func feed(buffer buf: UnsafeBufferPointer<UInt8>, endOfInput: Bool) -> (EventBatch, TallyError?, Int) {
        let maxLine = maxLineBytes
        let firstLine = lineNumber
        // Split the complete lines into one part per core (at newlines) when there is enough input.
        var cuts: [Int] = [0]
        let completeEnd = endOfInput ? buf.count : ((buf.lastIndex(of: 0x0A)).map { $0 + 1 } ?? 0)
        let parts = completeEnd >= (256 << 10) ? canonicalizers.count : 1
        for k in 1..<max(parts, 1) {
            var c = completeEnd * k / parts
            while c < completeEnd && buf[c - 1] != 0x0A { c += 1 }
            cuts.append(max(c, cuts.last!))
        }
        cuts.append(completeEnd)
        let results = Slots<Part?>(count: parts, initial: nil)
        let engines = Slots<JSONCanonicalizer>(count: parts, initial: JSONCanonicalizer())
        for i in 0..<parts { engines[i] = canonicalizers[i] }
        do {
            let cutsCopy = cuts
            parallelFor(parts) { i in
                let range = cutsCopy[i]..<cutsCopy[i + 1]
                let last = i == parts - 1
                var engine = engines[i]
                results[i] = Self.process(UnsafeBufferPointer(rebasing: buf[range.lowerBound..<(last ? buf.count : range.upperBound)]),
                                          endOfInput: last ? endOfInput : true, maxLineBytes: maxLine, firstLine: 0,
                                          reserve: i == 0 ? completeEnd : 0, canonicalizer: &engine)
                engines[i] = engine
            }
        }
        for i in 0..<parts { canonicalizers[i] = engines[i] }
        // Merge in order, stopping at the first error.
        var batch = EventBatch()
        var error: TallyError?
        var consumed = 0
        var lines = firstLine
        for i in 0..<parts {
            guard let p = results[i] else { break }
            if i == 0 { batch = p.batch } else { batch.append(contentsOf: p.batch) }  // the first part is taken, not copied
            consumed = cuts[i] + p.consumed
            if let e = p.error {
                // Renumber: the part counted from 0.
                let local = p.lines
                error = TallyError(.badInput, e.reason.replacingFirstLineNumber(with: lines + local))
                lines += local
                break
            }
            lines += p.lines
        }
        lineNumber = lines
        return (batch, error, consumed)
    }
}

extension String {
    /// "line N: …" with N replaced.
    fileprivate func replacingFirstLineNumber(with n: Int) -> String {
        guard hasPrefix("line "), let colon = firstIndex(of: ":") else { return self }
        return "line \(n)" + self[colon...]
    }
}

#if canImport(Glibc)
import Glibc
#endif
