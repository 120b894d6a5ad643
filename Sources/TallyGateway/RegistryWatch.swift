import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tells ``CredentialStore`` whether the registry's folder may have changed since it last asked, so a lookup can skip
/// the registry's `stat(2)` (a path walk, ~1.2 µs here) when nothing happened: a non-blocking inotify watch on the
/// folder, read with one `read(2)` per question (~0.3 µs when empty).
///
/// The kernel queues an event inside the system call that changes the folder (write, rename, delete, attribute
/// change of any file in it), before that call returns, so a question asked after a change was made always sees it —
/// the same guarantee as a `stat` per lookup. Every event counts (the registry, its lock file, temporary files):
/// the answer only says "stat it now". When the watch cannot say (no inotify instance, the folder is missing, or
/// the folder itself was moved or deleted, or the event queue overflowed and the watch may be incomplete),
/// ``changed()`` answers true from then on, i.e. the store stats on every lookup as it did before.
///
/// Not thread-safe: the store asks under its own lock.
final class RegistryWatch {
    private var fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 4096)

    /// Watches `folder` (nil when inotify or the folder is unavailable: the caller stats every time).
    init?(folder: String) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO
                          | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
        guard inotify_add_watch(fd, folder, mask) >= 0 else {
            close(fd)
            return nil
        }
        self.fd = fd
    }

    /// False once the watch has ended (``changed()`` then always answers true).
    var isWatching: Bool { fd >= 0 }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// True when the folder may have changed since the last call (events were queued), or when the watch no longer
    /// works (then always true). Drains the queued events.
    func changed() -> Bool {
        guard fd >= 0 else { return true }
        var any = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return any }
                stop()
                return true
            }
            if n == 0 { return any }
            any = true
            if Self.endsTheWatch(buffer, count: n) {
                stop()
                return true
            }
        }
    }

    /// True when one of the events says the watch is over or incomplete: the folder itself moved, deleted or
    /// unmounted, the watch removed, or the queue overflowed.
    static func endsTheWatch(_ bytes: [UInt8], count: Int) -> Bool {
        let ending = UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED | IN_Q_OVERFLOW)
        var offset = 0
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= count {
            let (mask, length) = bytes.withUnsafeBytes { raw in
                (raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                 raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            }
            if mask & ending != 0 { return true }
            offset += header + Int(length)
        }
        return false
    }

    private func stop() {
        close(fd)
        fd = -1
    }
}
