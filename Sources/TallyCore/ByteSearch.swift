internal import CTallyShim

/// Substring search over raw bytes.
public enum ByteSearch {
    /// True when `needle` occurs in `haystack` (glibc's vectorised memmem; an empty needle always occurs).
    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
        guard needle.count > 0 else { return true }
        guard let h = haystack.baseAddress, let n = needle.baseAddress, haystack.count >= needle.count else { return false }
        return tally_memmem(h, haystack.count, n, needle.count) != nil
    }

    /// True when the bytes `needle` occur in `haystack`.
    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        needle.withUnsafeBytes { contains(haystack, $0) }
    }
}
