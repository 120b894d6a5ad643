import HummingbirdCore
import NIOCore
import TallyAWS
import TallyCore

/// Turns the agent's raw body buffers into the upstream body, verifying as it goes: plain bodies pass through a
/// ``BodyTap`` (count, and sha256 against a declared `x-amz-content-sha256`); aws-chunked bodies are decoded
/// (every chunk signature, the final chunk and the trailer signature verified), and the checksum their trailer
/// declares is computed over the decoded payload and checked at the end (`checksum`); for a plain body, `checksum`
/// is the one an `x-amz-checksum-*` header declares, checked the same way.
///
/// What goes upstream: the decoded payload; or, with `encoder`, the payload re-framed as aws-chunked
/// (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) whose final chunk and checksum trailer ``finish()`` returns only once the
/// body verified; or, with `passthrough`, the agent's own aws-chunked bytes unchanged (decoded on the side only).
struct BodyTransform: Sendable {
    let tap: BodyTap
    var decoder: AWSChunkedDecoder?
    /// The agent's aws-chunked bytes go upstream as they are; the decoder only verifies them.
    var passthrough = false
    var checksum: ChecksumTap?
    var encoder: AWSChunkedEncoder?
    /// Asked when the agent's body has ended, before its last bytes go upstream: an error when the key was revoked or
    /// expired while the body streamed (the buffered paths check again once their body is in; review, session 9).
    var keyCheck: (@Sendable () -> AWSAuthError?)?
    /// The gateway-wide budget the decoder's held signed chunks count against (with the buffered bodies): signed
    /// chunks of up to 8 MiB each, stalled before their last bytes, held ~9 MB per connection with no limit across
    /// connections (session 13 probe). ``releaseBudget()`` gives back what is counted.
    var budget: (BodyBudget, limit: Int)?
    private(set) var budgeted = 0

    init(tap: BodyTap, decoder: AWSChunkedDecoder?, passthrough: Bool = false, checksum: ChecksumTap? = nil,
         encoder: AWSChunkedEncoder? = nil) {
        self.tap = tap
        self.decoder = decoder
        self.passthrough = passthrough
        self.checksum = checksum
        self.encoder = encoder
    }

    /// Upstream bytes for `buffer` (nil when none are ready yet).
    mutating func feed(_ buffer: ByteBuffer) throws(AWSAuthError) -> ByteBuffer? {
        guard decoder != nil else {
            tap.feed(buffer)
            checksum?.update(buffer)  // an x-amz-checksum-* header's, over the plain body
            return buffer
        }
        let out: [UInt8]
        do { out = try decoder!.feed(buffer.readableBytesView) } catch {
            releaseBudget()  // nothing more is fed: what the decoder holds is dropped
            tap.fail(error)
            throw error
        }
        if let (budget, limit) = self.budget {
            let held = decoder!.heldBytes
            if held > budgeted {
                guard budget.reserve(held - budgeted, limit: limit) else {
                    // Given back at once, not when the refused body has been drained: the other uploads' last bytes
                    // need it (a held upload's final 200 bytes got 503 too; session 13 CI run).
                    releaseBudget()
                    let error = BodyBudget.exhausted("holding too many unverified request bytes")
                    tap.fail(error)
                    throw error
                }
            } else if held < budgeted {
                budget.release(budgeted - held)
            }
            budgeted = held
        }
        if !out.isEmpty { checksum?.update(out) }
        if passthrough {
            tap.feed(buffer)
            return buffer
        }
        guard !out.isEmpty else { return nil }
        let b = ByteBuffer(bytes: out)
        tap.feed(b)
        guard encoder != nil else { return b }
        let encoded = encoder!.feed(out)
        return encoded.isEmpty ? nil : ByteBuffer(bytes: encoded)
    }

    /// Gives back what the budget counts for this body.
    mutating func releaseBudget() {
        if let (budget, _) = self.budget, budgeted > 0 { budget.release(budgeted) }
        budgeted = 0
    }

    /// The end of the agent's body: throws when it fails verification; returns the last upstream bytes, if any
    /// (the re-encoder's final chunk and trailer).
    mutating func finish() throws(AWSAuthError) -> ByteBuffer? {
        if let error = keyCheck?() { tap.fail(error); throw error }
        guard decoder != nil else {
            try tap.finish()
            if let checksum {
                do { try checksum.verifyDeclared() } catch { tap.fail(error); throw error }
            }
            return nil
        }
        var value: String?
        do throws(AWSAuthError) {
            let trailers = try decoder!.finish()
            if let checksum {
                value = try checksum.verify(trailers)
            } else if let (name, _) = trailers.first(where: { $0.0.lowercased().hasPrefix(AWSChecksumAlgorithm.headerPrefix) }) {
                // A checksum trailer no x-amz-trailer declared went to the upstream unchecked (and, passed through as
                // framed, on to S3); S3 refuses an undeclared trailer (session 13 probe).
                throw AWSAuthError.invalidRequest("the aws-chunked trailer \(name) was not declared in x-amz-trailer")
            }
        } catch {
            tap.fail(error)
            throw error
        }
        guard encoder != nil else { return nil }
        let trailers = checksum.flatMap { c in value.map { [(c.algorithm.headerName, $0)] } } ?? []
        return ByteBuffer(bytes: encoder!.finish(trailers: trailers))
    }
}

/// The one iteration of an agent's streamed request body (review findings 1 and 2).
///
/// Only the pump task ever iterates the Hummingbird request body: AsyncHTTPClient reads a ``BodyPipe`` the pump
/// fills, so no second iterator can exist when the handler returns (NIO traps on two concurrent iterators). The
/// last upstream buffer is held back until the end of the agent's body has been verified, so an upstream never
/// receives a complete request whose body failed verification: on failure the pipe ends with the error, and
/// AsyncHTTPClient cancels the upstream request short of its length.
enum BodyPump {
    enum End: Sendable, Equatable {
        /// The agent's body was read to its end.
        case complete
        /// Reading stopped before the end (drain limit, cancellation, a broken connection): the caller closes
        /// the connection, since the rest of the body cannot be skipped.
        case abandoned
    }

    /// At most this many bytes of an agent's body are read and discarded after the upstream stopped reading it.
    static let drainByteLimit = 16 << 20
    /// At most this long is spent draining the rest of an agent's body after the response.
    static let drainTime: Duration = .seconds(10)

    static func run(_ body: RequestBody, transform: BodyTransform, pipe: BodyPipe) async -> End {
        var transform = transform
        defer { transform.releaseBudget() }
        var held: ByteBuffer?
        var forwarding = true
        var discarded = 0
        do {
            for try await buffer in body {
                guard forwarding else {
                    discarded += buffer.readableBytes
                    if discarded > drainByteLimit { return .abandoned }
                    continue
                }
                let out: ByteBuffer?
                do { out = try transform.feed(buffer) } catch {
                    pipe.finish(error)
                    forwarding = false
                    continue
                }
                guard let out else { continue }
                if let previous = held, !(await pipe.send(previous)) {
                    forwarding = false
                    held = nil
                    continue
                }
                held = out
            }
        } catch {
            // Cancellation is settle's drain limit, after the response; anything else is the agent's connection.
            if Task.isCancelled { pipe.finish(error) } else { pipe.agentBodyFailed(error) }
            return .abandoned
        }
        guard forwarding else { return .complete }
        let tail: ByteBuffer?
        do throws(AWSAuthError) {
            tail = try transform.finish()
        } catch {
            pipe.finish(error)
            return .complete
        }
        if let held, !(await pipe.send(held)) {
            pipe.finish()
            return .complete
        }
        if let tail { _ = await pipe.send(tail) }
        pipe.finish()
        return .complete
    }

    /// After the response: stops feeding the upstream and waits for the pump to reach the end of the agent's body,
    /// at most ``drainTime`` (then cancels it). Returns when no iteration of the body is left running; closes the
    /// connection when the body was not read to its end. Returns true when the pump had ended the upstream body
    /// (verified, or failed) before this call, false when the upstream finished without the body's end.
    @discardableResult
    static func settle(_ task: Task<End, Never>, pipe: BodyPipe, channel: (any Channel)?) async -> Bool {
        let ended = pipe.closeConsumer()
        let timer = Task {
            try? await Task.sleep(for: drainTime)
            if !Task.isCancelled { task.cancel() }
        }
        let end = await task.value
        timer.cancel()
        if end == .abandoned { channel?.close(promise: nil) }
        return ended
    }
}
