internal import CTallyShim

/// Substring search over raw bytes.
public enum ByteSearch {
    /// True when `needle` occurs in `haystack` (glibc's vectorised memmem; an empty needle always occurs).
    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
        offset(of: needle, in: haystack) != nil
    }

    /// True when the bytes `needle` occur in `haystack`.
    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        needle.withUnsafeBytes { contains(haystack, $0) }
    }
}

extension ByteSearch {
    /// The offset of the first occurrence of `needle` in `haystack` (0 for an empty needle).
    public static func offset(of needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer) -> Int? {
        guard needle.count > 0 else { return 0 }
        guard let h = haystack.baseAddress, let n = needle.baseAddress, haystack.count >= needle.count,
              let p = tally_memmem(h, haystack.count, n, needle.count) else { return nil }
        return UnsafeRawPointer(p) - h
    }
}

extension StringProtocol {
    /// The range of the first occurrence of `needle`, compared byte for byte in UTF-8 (memmem). Unlike Foundation's
    /// `range(of:)`/`contains(_:)`, which the gateway's per-request code picked up by importing Foundation, it does
    /// not bridge both strings to `NSString` and compare UTF-16 code units (a few percent of a call's CPU when it ran
    /// over a presigned query); and it applies no Unicode equivalence, which protocol tokens do not need.
    @inlinable public func rangeOfBytes(_ needle: String) -> Range<Index>? {
        // Native strings' bytes are contiguous; a bridged one is searched in a copy.
        func find(_ h: UnsafeRawBufferPointer) -> Int? {
            needle.utf8.withContiguousStorageIfAvailable { ByteSearch.offset(of: UnsafeRawBufferPointer($0), in: h) }
                ?? Array(needle.utf8).withUnsafeBytes { ByteSearch.offset(of: $0, in: h) }
        }
        guard let offset = utf8.withContiguousStorageIfAvailable({ find(UnsafeRawBufferPointer($0)) })
                ?? Array(utf8).withUnsafeBytes(find) else { return nil }
        let lower = utf8.index(startIndex, offsetBy: offset)
        return lower..<utf8.index(lower, offsetBy: needle.utf8.count)
    }

    /// Whether `needle` occurs, byte for byte in UTF-8 (see ``rangeOfBytes(_:)``).
    @inlinable public func containsBytes(_ needle: String) -> Bool { rangeOfBytes(needle) != nil }
}
