/// One LZ4 block for `prefix ‖ body` without first copying the two together (the ledger's block
/// content is a few bytes of time runs followed by megabytes of events already in memory).
///
/// `body` is compressed alone, then `prefix` is spliced into the literal run of its first sequence
/// (LZ4 block format: a sequence is a token, the literal length's extension bytes, the literals, then
/// a match; a literal run may have any length). Every match offset is relative to its own position,
/// so moving all of `body` `prefix.count` bytes further keeps each match on the same bytes, and the
/// end-of-block rules (the last five bytes are literals, the last match starts at least twelve bytes
/// before the end) concern only the end, which does not move. Any LZ4 block decoder reads the result
/// as `prefix ‖ body`.
extension LZ4 {
    /// The longest `prefix` that `compress(prefix:body:into:)` takes.
    public static let maxPrefixBytes = 64

    /// The room `compress(prefix:body:into:)` needs in its destination.
    public static func prefixedBound(prefix: Int, body: Int) -> Int { prefix + 4 + compressBound(body) }

    /// Compresses `prefix ‖ body` into one LZ4 block inside `destination` (at least
    /// `prefixedBound(prefix:body:)` bytes); returns the block's range in `destination`. The range
    /// starts within the first `prefix.count + 4` bytes.
    public static func compress(prefix: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                                into destination: UnsafeMutableRawBufferPointer) throws -> Range<Int> {
        precondition(prefix.count <= maxPrefixBytes, "an LZ4 prefix of \(prefix.count) bytes is longer than \(maxPrefixBytes)")
        precondition(destination.count >= prefixedBound(prefix: prefix.count, body: body.count), "LZ4 destination too small")
        let room = prefix.count + 4
        let n = try compress(body, into: UnsafeMutableRawBufferPointer(rebasing: destination[room...]))
        guard prefix.count > 0 else { return room..<(room + n) }
        let d = destination.baseAddress!.assumingMemoryBound(to: UInt8.self)
        // The first sequence's token and literal length; `literals` ends at its first literal.
        let token = d[room]
        var literals = room + 1
        var length = Int(token >> 4)
        if length == 15 {
            while true {
                let b = d[literals]
                literals += 1
                length += Int(b)
                if b != 255 { break }
            }
        }
        // The new head (token and extension bytes) and the prefix end where the old literals start.
        let newLength = length + prefix.count
        let extensions = newLength >= 15 ? (newLength - 15) / 255 + 1 : 0
        let start = literals - prefix.count - 1 - extensions
        d[start] = UInt8(min(newLength, 15)) << 4 | (token & 0x0F)
        if newLength >= 15 {
            var rest = newLength - 15, q = start + 1
            while rest >= 255 { d[q] = 255; q += 1; rest -= 255 }
            d[q] = UInt8(rest)
        }
        UnsafeMutableRawBufferPointer(rebasing: destination[(literals - prefix.count)..<literals]).copyMemory(from: prefix)
        return start..<(room + n)
    }
}
