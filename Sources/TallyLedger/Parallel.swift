import Dispatch
import Foundation

/// Fixed slots that parallel workers fill, each index written by exactly one worker.
final class Slots<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    /// The slots asked for (the buffer has at least one, also for none).
    let count: Int
    init(count: Int, initial: T) {
        self.count = count
        buffer = .allocate(capacity: max(count, 1))
        buffer.initialize(repeating: initial)
    }
    deinit { buffer.deinitialize(); buffer.deallocate() }
    subscript(i: Int) -> T {
        get { buffer[i] }
        set { buffer[i] = newValue }
    }
    /// The `count` slots (none for none: the spare slot of an empty buffer made `ledger verify` of a home without
    /// segment files unwrap a nil and crash; session 12 probe).
    var array: [T] { Array(buffer.prefix(count)) }
}

/// Runs `body(i)` for i in 0..<count on all cores (Dispatch), returning when all are done.
/// With `inline` (work too small to pay for handing it to other threads) it runs them in order
/// on the calling thread.
func parallelFor(_ count: Int, inline: Bool = false, _ body: (Int) -> Void) {
    if count == 1 || inline {
        for i in 0..<count { body(i) }
        return
    }
    // Workers write disjoint slots (see `Slots`); the closure is not actually shared unsafely.
    withoutActuallyEscaping(body) { escapable in
        let sendable = unsafeBitCast(escapable, to: (@Sendable (Int) -> Void).self)
        DispatchQueue.concurrentPerform(iterations: count, execute: sendable)
    }
}

/// Below this many bytes a batch is hashed, chained and compressed on the committing thread alone:
/// waking a worker costs more than the work.
let inlineBatchBytes = 64 << 10

/// How many workers to use for CPU-bound work.
let workerCount: Int = max(1, min(8, sysconfNProcs()))

private func sysconfNProcs() -> Int {
    #if canImport(Glibc)
    return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    #else
    return 2
    #endif
}

#if canImport(Glibc)
import Glibc
#endif

/// Byte buffers handed from one parallel job to the next, so each worker thread reuses pages it has
/// already touched instead of faulting in (and the kernel zeroing) a fresh multi-MiB buffer per job.
final class BufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [[UInt8]] = []

    /// A buffer of at least `count` bytes (contents unspecified). New buffers are sized to the next
    /// power of two, so requests of similar sizes keep fitting the buffers already in the pool.
    func take(atLeast count: Int) -> [UInt8] {
        lock.lock()
        var b = free.popLast() ?? []
        lock.unlock()
        if b.count < count {
            let size = count <= 4096 ? 4096 : 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
            b = [UInt8](unsafeUninitializedCapacity: size) { _, n in n = size }
        }
        return b
    }

    func give(_ b: [UInt8]) {
        lock.lock(); free.append(b); lock.unlock()
    }
}
