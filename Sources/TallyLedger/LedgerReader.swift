import Foundation
public import TallyCore

/// Read-only access for cat / sessions / replay / projections. Safe to use while a `Ledger`
/// appends (an incomplete block at the end is not yet committed and is skipped).
public struct LedgerReader: Sendable {
    let paths: LedgerPaths

    public init(home: String) throws {
        paths = LedgerPaths(home: home)
        try paths.checkIsHome()
    }

    /// Records in seq order, from `from` through `to` (inclusive; nil = the end).
    public func records(from: UInt64 = 1, to: UInt64? = nil) throws -> [LedgerRecord] {
        var out: [LedgerRecord] = []
        try forEachRecord(from: from, to: to) { seq, time, event in
            let value = try JSONValue(parsing: UnsafeRawBufferPointer(event).bindMemory(to: UInt8.self))
            out.append(LedgerRecord(seq: seq, time: LedgerTime.string(time), event: value))
            return true
        }
        return out
    }

    /// A record time (milliseconds since the Unix epoch, as ``forEachRecord(from:to:_:)`` gives it) as the RFC 3339
    /// text of ``LedgerRecord/time``.
    public static func timeText(_ ms: Int64) -> String { LedgerTime.string(ms) }

    /// The number of committed records readable now.
    public func count() throws -> UInt64 {
        var last: UInt64 = 0
        let indexes = try paths.segmentIndexes()
        for index in indexes.reversed() {
            let bytes = try FileIO.readFile(paths.segmentPath(index))
            let found: UInt64? = bytes.withUnsafeBytes { b in
                let scan = SegmentScan(b, newest: index == indexes.last)
                for case .good(_, let h) in scan.entries.reversed() { return h.lastSeq }
                if let h = scan.header, h.firstSeq > 1 { return h.firstSeq - 1 }
                return nil
            }
            if let found { last = found; break }
        }
        return last
    }

    /// Calls `body(seq, time ms, canonical event bytes)` for records in [from, to]; stop by returning false.
    /// Throws `TallyError(.integrity)` when a block in range is damaged, unless `skipDamaged` is given: then it is
    /// told where and why (a text naming the file and byte offset) and the records of the intact blocks after it are
    /// read too (`ledger cat` printed nothing past the first damaged block; session 12 probe).
    public func forEachRecord(from: UInt64 = 1, to: UInt64? = nil, skipDamaged: ((String) -> Void)? = nil,
                              _ body: (UInt64, Int64, UnsafeRawBufferPointer) throws -> Bool) throws {
        let indexes = try paths.segmentIndexes()
        // First seq of every segment, from its header.
        var firsts: [UInt64] = []
        for index in indexes {
            let path = paths.segmentPath(index)
            let fd = try FileIO.openFile(path, O_RDONLY)
            var head = [UInt8](repeating: 0, count: 64 + 32 * 64)
            let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
            close(fd)
            let decoded = head[0..<max(n, 0)].withUnsafeBytes { SegmentHeader.decode($0) }
            if case .ok(let h, _) = decoded {
                firsts.append(h.firstSeq)
            } else if case .incomplete = decoded, index == indexes.last, indexes.count > 1 {
                break  // a segment being created right now: it holds no committed record yet
            } else {
                throw TallyError(.integrity, "\(path): damaged segment header; run `tally ledger verify`")
            }
        }
        let upper = to ?? UInt64.max
        for (i, index) in indexes.prefix(firsts.count).enumerated() {
            if i + 1 < firsts.count && firsts[i + 1] <= from { continue }
            if firsts[i] > upper { break }
            let path = paths.segmentPath(index)
            let bytes = try FileIO.readFile(path)
            var keepGoing = true
            try bytes.withUnsafeBytes { buf in
                for entry in SegmentScan(buf, newest: index == indexes.last).entries {
                    switch entry {
                    case .good(let offset, let h):
                        if h.lastSeq < from { continue }
                        if h.firstSeq > upper { keepGoing = false; return }
                        let content: [UInt8]
                        do { content = try SegmentScan.content(buf, offset: offset, header: h) } catch {
                            guard let skipDamaged else { throw error }
                            let why = (error as? TallyError)?.reason ?? "\(error)"
                            skipDamaged("\(path) byte \(offset): records \(h.firstSeq)–\(h.lastSeq) cannot be decoded (\(why))")
                            continue
                        }
                        try content.withUnsafeBytes { c in
                            try BlockContent.forEachRecord(c, header: h) { seq, time, event in
                                guard keepGoing, seq >= from, seq <= upper else { return }
                                keepGoing = try body(seq, time, event)
                            }
                        }
                        if !keepGoing { return }
                    case .damaged(let offset, _, let why):
                        guard let skipDamaged else {
                            throw TallyError(.integrity, "\(path) byte \(offset): \(why); run `tally ledger verify`")
                        }
                        skipDamaged("\(path) byte \(offset): \(why)")
                    case .tail:
                        return  // not committed (or being written right now)
                    }
                }
            }
            if !keepGoing { return }
        }
    }

    /// The exact record bytes of `seq` ({"event":…,"seq":…,"time":…}), or nil if absent.
    public func recordBytes(seq: UInt64) throws -> [UInt8]? {
        var found: [UInt8]?
        try forEachRecord(from: seq, to: seq) { s, time, event in
            found = RecordBuilder.record(event: event, seq: s, time: time)
            return false
        }
        return found
    }

    /// Leaf hashes of records 1...count (for proofs).
    func leafHashes(upTo count: UInt64) throws -> [Digest] {
        var leaves: [Digest] = []
        leaves.reserveCapacity(Int(count))
        var builder = RecordBuilder()
        try forEachRecord(from: 1, to: count) { seq, time, event in
            leaves.append(builder.leaf(event: event, seq: seq, time: time))
            return true
        }
        return leaves
    }
}

#if canImport(Glibc)
import Glibc
#endif
