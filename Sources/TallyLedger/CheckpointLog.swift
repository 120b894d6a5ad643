import TallyCore

/// The append-only file of signed checkpoint notes (ledger/checkpoints.log): notes written one
/// after another, each exactly as `SignedNote.serialized` (3 text lines, a blank line, signature lines).
struct CheckpointLog {
    struct Entry {
        var checkpoint: Checkpoint
        var note: SignedNote
        var epochs: [Int]
        var offset: Int
        var length: Int
    }

    struct Problem {
        var offset: Int
        var reason: String
    }

    var entries: [Entry] = []
    var problems: [Problem] = []
    /// Offset where an incomplete final note starts (a torn append), if any. Only bytes that
    /// could be a prefix of a note Tally writes count as torn; anything else is a problem.
    var tornTailAt: Int?
    var fileSize: Int = 0

    /// Splits the bytes into notes and checks each (syntax, origin, a valid epoch signature).
    /// Never stops at the first problem.
    static func read(_ bytes: [UInt8], epochs: EpochSet?) -> CheckpointLog {
        var log = CheckpointLog()
        log.fileSize = bytes.count
        var lines: [(start: Int, end: Int)] = []  // end excludes "\n"
        var s = 0
        for i in bytes.indices where bytes[i] == 0x0A { lines.append((s, i)); s = i + 1 }
        let trailingPartial = s < bytes.count
        var li = 0
        let dash: [UInt8] = [0xE2, 0x80, 0x94, 0x20]
        func isSig(_ l: (start: Int, end: Int)) -> Bool {
            l.end - l.start >= 4 && Array(bytes[l.start..<(l.start + 4)]) == dash
        }
        while li < lines.count {
            let start = lines[li].start
            // 3 text lines, a blank line, then signature lines.
            if li + 4 >= lines.count { log.markTail(bytes, at: start, origin: epochs?.origin); return log }
            var j = li + 4
            guard lines[li + 3].start == lines[li + 3].end, isSig(lines[j]) else {
                log.problems.append(Problem(offset: start, reason: "malformed checkpoint note (expected 3 lines, a blank line and signatures)"))
                // Resynchronise at the next line that starts a note's shape (3 lines, a blank line, a signature line).
                var k = li + 1
                while k + 4 < lines.count && !(lines[k + 3].start == lines[k + 3].end && isSig(lines[k + 4]) && !isSig(lines[k])) { k += 1 }
                if k + 4 >= lines.count {
                    // No further note: everything from here is damage.
                    return log
                }
                li = k
                continue
            }
            while j + 1 < lines.count && isSig(lines[j + 1]) { j += 1 }
            let end = lines[j].end + 1
            let text = String(decoding: bytes[start..<end], as: UTF8.self)
            do {
                let note = try SignedNote(parsing: text)
                let cp = try Checkpoint(text: note.text)
                var epochsSigned: [Int] = []
                if let epochs {
                    if cp.origin != epochs.origin {
                        log.problems.append(Problem(offset: start, reason: "checkpoint origin '\(cp.origin)' is not the ledger's origin '\(epochs.origin)'"))
                    }
                    epochsSigned = epochs.signingEpochs(of: note)
                    if epochsSigned.isEmpty {
                        log.problems.append(Problem(offset: start, reason: "checkpoint of size \(cp.size) has no valid signature by a certified epoch key"))
                    }
                }
                log.entries.append(Entry(checkpoint: cp, note: note, epochs: epochsSigned, offset: start, length: end - start))
            } catch let e as TallyError {
                log.problems.append(Problem(offset: start, reason: e.reason))
            } catch {
                log.problems.append(Problem(offset: start, reason: "\(error)"))
            }
            li = j + 1
        }
        if trailingPartial { log.markTail(bytes, at: s, origin: epochs?.origin) }
        return log
    }

    /// Records bytes[offset...] as a torn tail when they could be the start of a note Tally
    /// writes (origin, size, root, blank line, one signature line), else as a problem.
    mutating func markTail(_ bytes: [UInt8], at offset: Int, origin: String?) {
        if CheckpointLog.isPlausiblePrefix(Array(bytes[offset...]), origin: origin) {
            tornTailAt = offset
        } else {
            problems.append(Problem(offset: offset, reason: "damaged data at the end of the checkpoint log (not an interrupted append)"))
        }
    }

    static func isPlausiblePrefix(_ tail: [UInt8], origin: String?) -> Bool {
        // Allow a UTF-8 sequence cut at the very end.
        var cut = 0
        // Only an incomplete multi-byte sequence (a lead byte and fewer continuation bytes than it needs) may be cut.
        if let lead = tail.lastIndex(where: { $0 & 0xC0 != 0x80 }), tail[lead] >= 0xC2 && tail[lead] <= 0xF4 {
            let need = tail[lead] >= 0xF0 ? 4 : tail[lead] >= 0xE0 ? 3 : 2
            if tail.count - lead < need { cut = tail.count - lead }
        }
        let text = String(validating: tail[0..<(tail.count - cut)], as: UTF8.self)
        guard let text, !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else { return false }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let b64 = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
        for (i, line) in lines.enumerated() {
            let complete = i < lines.count - 1
            switch i {
            case 0:
                if let origin { guard complete ? line == origin : origin.hasPrefix(line) else { return false } }
            case 1:
                guard line.allSatisfy(\.isASCII) && line.allSatisfy(\.isNumber), !complete || !line.isEmpty else { return false }
            case 2:
                guard line.allSatisfy({ b64.contains($0) }), complete ? line.count == 44 : line.count <= 44 else { return false }
            case 3:
                guard line.isEmpty else { return false }
            case 4:
                guard !complete else { return false }
                let prefix = "\u{2014} " + (origin ?? "")
                if line.count <= prefix.count { guard prefix.hasPrefix(line) else { return false } } else {
                    guard origin != nil, line.hasPrefix(prefix + " ") else { return false }
                    let sig = line.dropFirst(prefix.count + 1)
                    guard sig.count <= 92, sig.allSatisfy({ b64.contains($0) }) else { return false }
                }
            default:
                return false
            }
        }
        return true
    }
}
