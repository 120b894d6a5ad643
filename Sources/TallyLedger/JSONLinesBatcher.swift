public import TallyCore

/// Turns a stream of JSON lines (one event object per line) into event batches, for
/// `tally ledger append`. Blank lines are skipped. A line longer than `maxLineBytes` (default
/// 1 MiB) or one that is not an event is an error naming its 1-based line number; the events of
/// earlier lines are returned first so they can be committed.
public struct JSONLinesBatcher {
    public let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var canonicalizer = JSONCanonicalizer()
    /// The number of lines consumed so far.
    public private(set) var lineNumber = 0

    public init(maxLineBytes: Int = 1 << 20) { self.maxLineBytes = maxLineBytes }

    /// Feeds bytes; returns the events of the complete lines and, if a line was bad, the error
    /// (later bytes are not consumed after an error).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, endOfInput: Bool = false) -> (EventBatch, TallyError?) {
        var batch = EventBatch()
        batch.reserveCapacity(bytes: bytes.count + pending.count + 64, events: (bytes.count + pending.count) / 256)
        pending.append(contentsOf: bytes)
        var error: TallyError?
        let consumed: Int = pending.withUnsafeBufferPointer { buf in
            var start = 0
            while start < buf.count {
                let found = memchr(buf.baseAddress! + start, 0x0A, buf.count - start)
                guard let nl = found.map({ UnsafeRawPointer(buf.baseAddress!).distance(to: UnsafeRawPointer($0)) }) ?? (endOfInput ? buf.count : nil) else { break }
                lineNumber += 1
                var line = UnsafeBufferPointer(rebasing: buf[start..<nl])
                if line.last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
                if line.count > maxLineBytes {
                    error = TallyError(.badInput, "line \(lineNumber): \(line.count) bytes is longer than the limit of \(maxLineBytes) bytes")
                    return start
                }
                if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                    do {
                        try batch.append(jsonText: line, using: &canonicalizer)
                    } catch let e as TallyError {
                        error = TallyError(.badInput, "line \(lineNumber): \(e.reason)")
                        return start
                    } catch {
                        return start
                    }
                }
                start = min(nl + 1, buf.count)
            }
            return start
        }
        pending.removeSubrange(0..<consumed)
        if error == nil, pending.count > maxLineBytes {
            error = TallyError(.badInput, "line \(lineNumber + 1): longer than the limit of \(maxLineBytes) bytes")
        }
        return (batch, error)
    }
}

#if canImport(Glibc)
import Glibc
#endif
