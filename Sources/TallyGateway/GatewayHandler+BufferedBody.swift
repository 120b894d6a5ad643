import HTTPTypes
import HummingbirdCore
import NIOCore
import Synchronization
import TallyAWS

/// Bytes of request bodies being buffered before signature verification, across all connections (review
/// finding 8). The total is the gateway's `maxBufferedBody` (default 64 MiB): a request that would go over it is
/// refused with 503 SlowDown instead of being read.
final class BodyBudget: Sendable {
    private let used = Mutex(0)

    init() {}

    /// Takes `bytes` from the budget of `limit` bytes; false (nothing taken) when they do not fit.
    func reserve(_ bytes: Int, limit: Int) -> Bool {
        used.withLock { u in
            guard bytes <= limit - u else { return false }
            u += bytes
            return true
        }
    }

    func release(_ bytes: Int) { used.withLock { $0 -= bytes } }

    /// The answer to a request the full budget refuses: `503 SlowDown`, which SDKs retry later.
    static func exhausted(_ holding: String) -> AWSAuthError {
        AWSAuthError(code: "SlowDown", message: "Please reduce your request rate: the gateway is \(holding)", httpStatus: 503)
    }

}

extension GatewayHandler {
    /// Refuses (413, before any of it is read and before `100 Continue`) a body to be buffered whose declared
    /// Content-Length exceeds the gateway's per-request limit.
    func checkBufferedLength(_ head: HTTPRequest) throws {
        guard let length = head.headerFields[.contentLength].flatMap({ Int($0) }), length > configuration.maxBufferedBody else { return }
        throw Refusal(error: Self.tooLarge(configuration.maxBufferedBody), stage: "request",
                      reason: "body too large: Content-Length \(length) exceeds \(configuration.maxBufferedBody)")
    }

    /// Reads a body that is buffered before verification, into one array. Its bytes are counted against `budget`
    /// (the handler's, shared by all connections) as they arrive, until the call is verified: 503 SlowDown when the
    /// budget is exhausted, 413 over the per-request limit. (A known Content-Length was reserved up front: one request
    /// declaring 64 MiB and trickling its body, signed with any secret for a known access key id, held the whole
    /// budget, and every other buffered call got 503; session 13 probe.)
    func collectBufferedBody(_ request: Request, budget: BodyBudget) async throws -> [UInt8] {
        let limit = configuration.maxBufferedBody
        let declared = request.head.headerFields[.contentLength].flatMap { Int($0) }
        var reserved = 0
        defer { budget.release(reserved) }
        func take(_ n: Int) throws {
            guard budget.reserve(n, limit: limit) else {
                throw Refusal(error: BodyBudget.exhausted("buffering too many request bodies"),
                              stage: "request", reason: "buffered-body budget of \(limit) bytes exhausted")
            }
            reserved += n
        }
        var bytes: [UInt8] = []
        // Grown as bytes arrive beyond 1 MiB: a declared 64 MiB was address space reserved for anyone who knows a key id.
        if let declared { bytes.reserveCapacity(min(declared, 1 << 20)) }
        for try await buffer in request.body {
            let n = buffer.readableBytes
            guard bytes.count + n <= limit else {
                throw Refusal(error: Self.tooLarge(limit), stage: "request", reason: "body too large")
            }
            if bytes.count + n > reserved { try take(bytes.count + n - reserved) }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    static func tooLarge(_ limit: Int) -> AWSAuthError {
        AWSAuthError(code: "RequestEntityTooLarge", message: "The request body exceeds the gateway's limit of \(limit) bytes",
                     httpStatus: 413)
    }
}
