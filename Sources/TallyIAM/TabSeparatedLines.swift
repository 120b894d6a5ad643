/// The line and field scanner of Tally's tab-separated resources (the IAM catalog and the API
/// mapping): lines end with 0x0A, fields are separated by 0x09.
enum TabSeparatedLines {
    /// Calls `body` with the 1-based line number and the byte ranges of the fields of every
    /// non-empty line of `buffer` (the ranges index `buffer`).
    static func forEach(in buffer: UnsafeBufferPointer<UInt8>,
                        _ body: (_ lineNumber: Int, _ fields: [Range<Int>]) throws -> Void) rethrows {
        guard let base = buffer.baseAddress else { return }
        var fields: [Range<Int>] = []
        fields.reserveCapacity(8)
        var lineNumber = 0
        var start = 0
        while start < buffer.count {
            let end = find(0x0A, base, from: start, to: buffer.count)
            lineNumber += 1
            fields.removeAll(keepingCapacity: true)
            var fieldStart = start
            while true {
                let tab = find(0x09, base, from: fieldStart, to: end)
                fields.append(fieldStart..<tab)
                if tab == end { break }
                fieldStart = tab + 1
            }
            let empty = end == start
            start = end + 1
            if !empty { try body(lineNumber, fields) }
        }
    }

    /// The index of the first `byte` in base[from..<to], or `to`.
    private static func find(_ byte: UInt8, _ base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int {
        guard from < to, let hit = memchr(base + from, Int32(byte), to - from) else { return to }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }
}

#if canImport(Glibc)
import Glibc
#endif
