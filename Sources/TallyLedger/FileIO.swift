#if canImport(Glibc)
import Glibc
#endif
import TallyCore

/// Thin POSIX file helpers that turn errno into `TallyError(.io)` naming the file.
enum FileIO {
    static func errorText() -> String { String(cString: strerror(errno)) }

    static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw TallyError(.io, "cannot open \(path): \(errorText())") }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw TallyError(.io, "cannot write \(path): \(errorText())")
            }
            off += n
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        try bytes.withUnsafeBytes { try pwriteAll(fd, $0, at: offset, path: path) }
    }

    static func pwriteAll(_ fd: Int32, _ b: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var off = 0
        while off < b.count {
            let n = pwrite(fd, b.baseAddress! + off, b.count - off, off_t(offset + off))
            if n < 0 {
                if errno == EINTR { continue }
                throw TallyError(.io, "cannot write \(path): \(errorText())")
            }
            off += n
        }
    }

    static func syncData(_ fd: Int32, path: String) throws {
        guard fdatasync(fd) == 0 else { throw TallyError(.io, "fdatasync \(path) failed: \(errorText())") }
    }

    static func syncFile(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else { throw TallyError(.io, "fsync \(path) failed: \(errorText())") }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = try openFile(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try syncFile(fd, path: path)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try openFile(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TallyError(.io, "cannot stat \(path): \(errorText())") }
        let size = Int(st.st_size)
        // Read straight into uninitialised storage: zero-filling first would touch every page twice.
        return try [UInt8](unsafeUninitializedCapacity: max(size, 1)) { b, count in
            var off = 0
            while off < size {
                let n = pread(fd, b.baseAddress! + off, size - off, off_t(off))
                if n < 0 {
                    if errno == EINTR { continue }
                    count = 0
                    throw TallyError(.io, "cannot read \(path): \(errorText())")
                }
                if n == 0 { break }
                off += n
            }
            count = off
        }
    }

    /// Runs `body` over the file's bytes mapped read-only (no copy). Only for files nobody
    /// truncates while they are read (sealed segments): a truncation under a mapping is SIGBUS.
    /// Falls back to reading the file when it is empty or cannot be mapped.
    static func withMappedFile<R>(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let fd = try openFile(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TallyError(.io, "cannot stat \(path): \(errorText())") }
        let size = Int(st.st_size)
        guard size > 0, let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            return try readFile(path).withUnsafeBytes(body)
        }
        defer { munmap(base, size) }
        _ = madvise(base, size, MADV_SEQUENTIAL)
        return try body(UnsafeRawBufferPointer(start: base, count: size))
    }

    static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Writes a file atomically: temp file, fsync, rename over `path`, fsync the directory.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, tempSuffix: String = ".tmp") throws {
        let tmp = path + tempSuffix
        let fd = try openFile(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        do {
            try writeAll(fd, bytes, path: tmp)
            try syncFile(fd, path: tmp)
        } catch { close(fd); unlink(tmp); throw error }
        close(fd)
        guard rename(tmp, path) == 0 else { throw TallyError(.io, "cannot rename \(tmp) to \(path): \(errorText())") }
        try syncDirectory(parent(of: path))
    }

    static func parent(of path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        return i == path.startIndex ? "/" : String(path[..<i])
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw TallyError(.io, "cannot create directory \(path): \(errorText())")
        }
    }

    static func truncate(_ fd: Int32, to size: Int, path: String) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw TallyError(.io, "cannot truncate \(path): \(errorText())") }
    }
}
