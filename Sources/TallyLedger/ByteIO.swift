/// Little-endian integer and LEB128 varint encoding for the segment format.
extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        append(UInt8(v))
    }
}

/// A bounds-checked little-endian reader over a byte buffer.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var pos: Int

    init(_ bytes: UnsafeRawBufferPointer, at pos: Int = 0) { self.bytes = bytes; self.pos = pos }

    var remaining: Int { bytes.count - pos }

    mutating func readLE<T: FixedWidthInteger>(_: T.Type) -> T? {
        let n = MemoryLayout<T>.size
        guard pos + n <= bytes.count else { return nil }
        var v: T = 0
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[pos..<pos + n])) }
        pos += n
        return T(littleEndian: v)
    }

    mutating func readBytes(_ n: Int) -> [UInt8]? {
        guard n >= 0, pos + n <= bytes.count else { return nil }
        defer { pos += n }
        return Array(bytes[pos..<pos + n])
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    mutating func readVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while pos < bytes.count, shift < 64 {
            let b = bytes[pos]
            pos += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        return nil
    }
}
