import NIOCore
import Synchronization

/// A bounded single-producer, single-consumer queue of body buffers between the gateway's body pump (the one
/// task that iterates the agent's request body) and AsyncHTTPClient (which reads the upstream body from it).
///
/// The pump waits while more than ``highWatermark`` bytes are queued, so memory stays bounded. When the
/// consumer is closed (the response is complete, or the upstream request failed) every pending and later
/// ``send(_:)`` returns `false` and every pending and later read throws, so neither side can hang.
final class BodyPipe: Sendable {
    private enum End { case open, finished, failed(any Error) }
    private struct State: ~Copyable {
        /// Buffers not yet read. A ring, so a buffer read is released at once: an array with a read index kept every
        /// buffer read until the queue ran empty, which under steady backpressure (an upstream slower than the agent)
        /// it never did, and a 1 GiB upload held ~1 GB (session 13 probe).
        var buffers = CircularBuffer<ByteBuffer>()
        var queuedBytes = 0
        var end = End.open
        var consumerClosed = false
        var agentBroke = false
        var iterated = false
        var reader: CheckedContinuation<ByteBuffer?, any Error>?
        var writer: CheckedContinuation<Bool, Never>?
    }
    private let state = Mutex(State())
    /// Bytes queued before the pump waits for the consumer.
    let highWatermark: Int

    init(highWatermark: Int = 1 << 20) { self.highWatermark = highWatermark }

    /// Queues `buffer` for the consumer; waits while the queue is full. Returns false when the consumer is gone
    /// (the buffer is dropped).
    func send(_ buffer: ByteBuffer) async -> Bool {
        enum Step { case done(Bool), wait }
        let step: Step = state.withLock { s in
            if s.consumerClosed { return .done(false) }
            if let reader = s.reader {
                s.reader = nil
                reader.resume(returning: buffer)
                return .done(true)
            }
            s.buffers.append(buffer)
            s.queuedBytes += buffer.readableBytes
            return s.queuedBytes > highWatermark ? .wait : .done(true)
        }
        switch step {
        case .done(let ok): return ok
        case .wait:
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                    let resumeNow: Bool? = state.withLock { s in
                        if s.consumerClosed { return false }
                        if s.queuedBytes <= highWatermark { return true }
                        s.writer = c
                        return nil
                    }
                    if let resumeNow { c.resume(returning: resumeNow) }
                }
            } onCancel: {
                self.closeConsumer()
            }
        }
    }

    /// Reading the agent's body failed (its connection broke, or closed before the declared length): ends the stream
    /// with `error` and remembers that the agent, not the upstream, broke the call off.
    func agentBodyFailed(_ error: any Error) {
        state.withLock { $0.agentBroke = true }
        finish(error)
    }

    /// Whether ``agentBodyFailed(_:)`` ended the stream.
    var agentBodyBroke: Bool { state.withLock { $0.agentBroke } }

    /// Ends the stream: after the queued buffers, the consumer reads the end (`error == nil`) or `error`.
    func finish(_ error: (any Error)? = nil) {
        state.withLock { s in
            guard case .open = s.end else { return }
            s.end = error.map { .failed($0) } ?? .finished
            if s.buffers.isEmpty, let reader = s.reader {
                s.reader = nil
                if let error { reader.resume(throwing: error) } else { reader.resume(returning: nil) }
            }
        }
    }

    /// The consumer is gone: drops queued buffers, releases a waiting pump (its `send` returns false) and a
    /// waiting reader (it throws). Returns true when the pump had already ended the stream (cleanly or not).
    @discardableResult
    func closeConsumer() -> Bool {
        state.withLock { s in
            let ended: Bool
            if case .open = s.end { ended = false } else { ended = true }
            s.consumerClosed = true
            s.buffers.removeAll()
            s.queuedBytes = 0
            s.writer?.resume(returning: false)
            s.writer = nil
            s.reader?.resume(throwing: CancellationError())
            s.reader = nil
            return ended
        }
    }

    /// How many buffers the pipe holds (for tests: only the unread ones).
    var heldBuffers: Int { state.withLock { $0.buffers.count } }

    /// True the first time only: AsyncHTTPClient may retry a request on a pooled connection the upstream
    /// closed, and a streamed body cannot be replayed.
    func claimIteration() -> Bool {
        state.withLock { s in
            defer { s.iterated = true }
            return !s.iterated
        }
    }

    /// The next buffer for the consumer, nil at the end; throws the pump's error, or after ``closeConsumer()``.
    func next() async throws -> ByteBuffer? {
        enum Step { case value(ByteBuffer?), failure(any Error), wait }
        let step: Step = state.withLock { s in
            if s.consumerClosed { return .failure(CancellationError()) }
            if !s.buffers.isEmpty { return .value(pop(&s)) }
            switch s.end {
            case .finished: return .value(nil)
            case .failed(let e): return .failure(e)
            case .open: return .wait
            }
        }
        switch step {
        case .value(let v): return v
        case .failure(let e): throw e
        case .wait:
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<ByteBuffer?, any Error>) in
                    enum Now { case value(ByteBuffer?), failure(any Error) }
                    let now: Now? = state.withLock { s in
                        if s.consumerClosed { return .failure(CancellationError()) }
                        if !s.buffers.isEmpty { return .value(pop(&s)) }
                        switch s.end {
                        case .finished: return .value(nil)
                        case .failed(let e): return .failure(e)
                        case .open:
                            s.reader = c
                            return nil
                        }
                    }
                    switch now {
                    case .value(let v): c.resume(returning: v)
                    case .failure(let e): c.resume(throwing: e)
                    case nil: break
                    }
                }
            } onCancel: {
                self.closeConsumer()
            }
        }
    }

    private func pop(_ s: inout State) -> ByteBuffer {
        let b = s.buffers.removeFirst()
        s.queuedBytes -= b.readableBytes
        if s.queuedBytes <= highWatermark, let w = s.writer {
            s.writer = nil
            w.resume(returning: true)
        }
        return b
    }
}

/// The upstream request body: the buffers the body pump queued in a ``BodyPipe``. Iterable once.
struct PipeBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let pipe: BodyPipe

    struct AsyncIterator: AsyncIteratorProtocol {
        let pipe: BodyPipe
        let replay: Bool
        mutating func next() async throws -> ByteBuffer? {
            if replay { throw BodyReplayError() }
            return try await pipe.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: pipe, replay: !pipe.claimIteration()) }
}
