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

/// A streamed request body was asked for a second time (a retry); it cannot be replayed.
struct BodyReplayError: Error, CustomStringConvertible {
    var description: String { "the agent's streamed request body cannot be sent twice" }
}
