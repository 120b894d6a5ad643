import NIOCore
import Synchronization
import TallyAWS
import TallyCore

/// Counts (and for a declared hex `x-amz-content-sha256`, hashes) an agent's body as it streams to the
/// upstream. When the stream ends with a digest mismatch the sequence throws, which aborts the upstream
/// request before it is complete.
final class BodyTap: Sendable {
    private struct State: ~Copyable {
        var bytes = 0
        var hasher: SHA256?
        var failure: AWSAuthError?
        var iterated = false
    }
    private let state: Mutex<State>
    let declaredSHA256: String?

    init(declaredSHA256: String?) {
        self.declaredSHA256 = declaredSHA256?.lowercased()
        state = Mutex(State(hasher: declaredSHA256 == nil ? nil : SHA256()))
    }

    var byteCount: Int { state.withLock { $0.bytes } }
    var failure: AWSAuthError? { state.withLock { $0.failure } }

    func feed(_ buffer: ByteBuffer) {
        state.withLock { s in
            s.bytes += buffer.readableBytes
            guard s.hasher != nil else { return }
            buffer.withUnsafeReadableBytes { raw in s.hasher!.update(raw) }
        }
    }

    func fail(_ error: AWSAuthError) { state.withLock { $0.failure = error } }

    /// True the first time only: an agent's body stream can be read once. (AsyncHTTPClient may retry a
    /// request on a pooled connection the upstream closed; a streamed body cannot be replayed.)
    func claimIteration() -> Bool {
        state.withLock { s in
            defer { s.iterated = true }
            return !s.iterated
        }
    }

    /// Checks the digest at the end of the body.
    func finish() throws(AWSAuthError) {
        let result: AWSAuthError? = state.withLock { s in
            guard let declared = declaredSHA256, let h = s.hasher.take() else { return nil }
            let digest = Hex.encode(h.finalize())
            if digest != declared {
                let e = AWSAuthError.contentSHA256Mismatch(provided: declared, computed: digest)
                s.failure = e
                return e
            }
            return nil
        }
        if let result { throw result }
    }
}

/// The agent's request body as an async sequence for AsyncHTTPClient, passing every buffer through a ``BodyTap``.
struct TappedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let tap: BodyTap

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator?
        let tap: BodyTap
        mutating func next() async throws -> ByteBuffer? {
            guard base != nil else { throw BodyReplayError() }
            if let buffer = try await base!.next() {
                tap.feed(buffer)
                return buffer
            }
            try tap.finish()
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: tap.claimIteration() ? base.makeAsyncIterator() : nil, tap: tap)
    }
}

/// A streamed request body was asked for a second time (a retry); it cannot be replayed.
struct BodyReplayError: Error, CustomStringConvertible {
    var description: String { "the agent's streamed request body cannot be sent twice" }
}
