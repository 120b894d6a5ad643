import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// An upstream response as the gateway reads it (from ``UpstreamExchange`` or AsyncHTTPClient's async API).
struct UpstreamResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: UpstreamBody
}

/// One upstream call's response handed to the request's task on the inbound connection's event loop: fed by an
/// ``UpstreamConnection`` of the gateway's ``UpstreamPool`` (on that loop), or by AsyncHTTPClient's delegate API with
/// the delegate on that loop (TALLY_GATEWAY_UPSTREAM=ahc). A small answer of known length (Content-Length ≤
/// `coalesceLimit`) is read whole and handed over with its head, in one resumption; anything else is handed over
/// as it streams, with backpressure (at most `maxBuffered` parts queued before the producer stops reading from the
/// upstream).
final class UpstreamExchange: HTTPClientResponseDelegate {
    typealias Response = Void

    let eventLoop: any EventLoop
    let coalesceLimit: Int
    static let maxBuffered = 4
    private let head: EventLoopPromise<UpstreamResponse>

    private struct State {
        var coalesce = false
        var responseHead: HTTPResponseHead?
        var whole: ByteBuffer?
        var headDelivered = false
        var parts = CircularBuffer<ByteBuffer>()
        var finished = false
        var failure: (any Error)?
        var waiter: CheckedContinuation<ByteBuffer?, any Error>?
        /// Completed when the consumer has taken enough parts (the client reads on meanwhile).
        var demand: EventLoopPromise<Void>?
    }
    private let state = Mutex(State())

    init(eventLoop: any EventLoop, coalesceLimit: Int) {
        self.eventLoop = eventLoop
        self.coalesceLimit = coalesceLimit
        self.head = eventLoop.makePromise(of: UpstreamResponse.self)
    }

    /// Starts `request` on `client` with this exchange as its delegate; returns the client's task (to cancel it).
    func start(_ request: HTTPClient.Request, on client: HTTPClient, deadline: NIODeadline) -> HTTPClient.Task<Void> {
        // `.delegate(on:)`: the pool prefers an idle connection on this loop (and opens new ones here), but may use
        // one on another loop; `.delegateAndChannel(on:)` would open a one-use "overflow" connection whenever
        // every connection on this loop is busy.
        let task = client.execute(request: request, delegate: self, eventLoop: .delegate(on: eventLoop),
                                  deadline: deadline, logger: nil)
        task.futureResult.whenFailure { [self] error in fail(error) }
        return task
    }

    /// The response head (with the whole body when it was small), or the error that ended the call first.
    func response() async throws -> UpstreamResponse { try await head.futureResult.get() }

    /// True once the upstream response has ended (completely or with an error).
    var isComplete: Bool { state.withLock { $0.finished || $0.failure != nil } }

    // MARK: delegate (called on `eventLoop`)

    func didReceiveHead(task: HTTPClient.Task<Void>, _ responseHead: HTTPResponseHead) -> EventLoopFuture<Void> {
        receiveHead(responseHead)
        return eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        receiveBodyPart(buffer) ?? eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) { fail(error) }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws { receiveEnd() }

    // MARK: producer (AsyncHTTPClient's delegate calls above, or an ``UpstreamConnection``; on `eventLoop`)

    /// The response head arrived.
    func receiveHead(_ responseHead: HTTPResponseHead) {
        let length = responseHead.headers.first(name: "content-length").flatMap { Int($0) }
        if let length, length <= coalesceLimit {
            state.withLock {
                $0.coalesce = true
                $0.responseHead = responseHead
            }
        } else {
            state.withLock { $0.headDelivered = true }
            head.succeed(UpstreamResponse(status: responseHead.status, headers: responseHead.headers,
                                          body: UpstreamBody(.exchange(self))))
        }
    }

    /// A part of the response body arrived; returns a future to wait for before reading more (backpressure),
    /// or nil to go on reading.
    func receiveBodyPart(_ buffer: ByteBuffer) -> EventLoopFuture<Void>? {
        enum Action { case proceed, hand(CheckedContinuation<ByteBuffer?, any Error>), wait(EventLoopFuture<Void>) }
        let action = state.withLock { s -> Action in
            if s.coalesce {
                if s.whole == nil { s.whole = buffer } else { s.whole!.writeImmutableBuffer(buffer) }
                return .proceed
            }
            if let waiter = s.waiter {
                s.waiter = nil
                return .hand(waiter)
            }
            s.parts.append(buffer)
            guard s.parts.count >= Self.maxBuffered else { return .proceed }
            let demand = eventLoop.makePromise(of: Void.self)
            s.demand = demand
            return .wait(demand.futureResult)
        }
        switch action {
        case .proceed: return nil
        case .hand(let waiter):
            waiter.resume(returning: buffer)
            return nil
        case .wait(let future): return future
        }
    }

    /// The response ended.
    func receiveEnd() {
        let (deliver, waiter) = state.withLock { s -> ((HTTPResponseHead, ByteBuffer?)?, CheckedContinuation<ByteBuffer?, any Error>?) in
            guard !s.finished, s.failure == nil else { return (nil, nil) }
            s.finished = true
            var deliver: (HTTPResponseHead, ByteBuffer?)?
            if !s.headDelivered, let h = s.responseHead {
                s.headDelivered = true
                deliver = (h, s.whole)
                s.whole = nil
            }
            defer { s.waiter = nil }
            return (deliver, s.waiter)
        }
        if let (h, whole) = deliver {
            head.succeed(UpstreamResponse(status: h.status, headers: h.headers, body: UpstreamBody(.whole(whole))))
        } else if !isHeadSettled {
            head.fail(HTTPClientError.remoteConnectionClosed)  // ended without a head (not expected from the client)
        }
        waiter?.resume(returning: nil)
    }

    private var isHeadSettled: Bool { state.withLock { $0.headDelivered } }

    /// The call failed (before or during the response).
    func fail(_ error: any Error) {
        let (failHead, waiter, demand) = state.withLock { s -> (Bool, CheckedContinuation<ByteBuffer?, any Error>?, EventLoopPromise<Void>?) in
            guard !s.finished, s.failure == nil else { return (false, nil, nil) }
            s.failure = error
            let failHead = !s.headDelivered
            s.headDelivered = true
            defer { s.waiter = nil; s.demand = nil }
            return (failHead, s.waiter, s.demand)
        }
        if failHead { head.fail(error) }
        waiter?.resume(throwing: error)
        demand?.fail(error)
    }

    // MARK: consumer (the request's task)

    private enum Now {
        case part(ByteBuffer, EventLoopPromise<Void>?)
        case end
        case failed(any Error)
        case wait
    }

    /// Takes the next queued part (releasing the client's backpressure once few are left), or says why there is none.
    private static func take(_ s: inout State) -> Now {
        if !s.parts.isEmpty {
            let part = s.parts.removeFirst()
            var demand: EventLoopPromise<Void>?
            if s.parts.count < maxBuffered { demand = s.demand; s.demand = nil }
            return .part(part, demand)
        }
        if let failure = s.failure { return .failed(failure) }
        if s.finished { return .end }
        return .wait
    }

    /// The next part of a streamed body; nil at its end.
    func nextPart() async throws -> ByteBuffer? {
        switch state.withLock({ Self.take(&$0) }) {
        case .part(let part, let demand):
            demand?.succeed()
            return part
        case .end: return nil
        case .failed(let error): throw error
        case .wait: break
        }
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<ByteBuffer?, any Error>) in
            let now = state.withLock { s -> Now in
                let now = Self.take(&s)
                if case .wait = now { s.waiter = c }
                return now
            }
            switch now {
            case .part(let part, let demand):
                demand?.succeed()
                c.resume(returning: part)
            case .end: c.resume(returning: nil)
            case .failed(let error): c.resume(throwing: error)
            case .wait: break
            }
        }
    }
}

/// An upstream response body: read whole with the head, streamed from an ``UpstreamExchange``, or
/// AsyncHTTPClient's async response body.
struct UpstreamBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    enum Source: Sendable {
        case whole(ByteBuffer?)
        case exchange(UpstreamExchange)
        case client(HTTPClientResponse.Body)
    }
    let source: Source

    init(_ source: Source) { self.source = source }

    struct AsyncIterator: AsyncIteratorProtocol {
        var whole: ByteBuffer?
        var exchange: UpstreamExchange?
        var client: HTTPClientResponse.Body.AsyncIterator?

        mutating func next() async throws -> ByteBuffer? {
            if let exchange { return try await exchange.nextPart() }
            if client != nil { return try await client!.next() }
            defer { whole = nil }
            return whole
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .whole(let buffer): return AsyncIterator(whole: buffer.flatMap { $0.readableBytes > 0 ? $0 : nil })
        case .exchange(let exchange): return AsyncIterator(exchange: exchange)
        case .client(let body): return AsyncIterator(client: body.makeAsyncIterator())
        }
    }

    /// The body as one buffer; throws when it exceeds `max` bytes.
    func collect(upTo max: Int) async throws -> ByteBuffer {
        if case .client(let body) = source { return try await body.collect(upTo: max) }
        var out = ByteBuffer()
        for try await part in self {
            guard out.readableBytes + part.readableBytes <= max else { throw NIOTooManyBytesError(maxBytes: max) }
            if out.readableBytes == 0 { out = part } else { out.writeImmutableBuffer(part) }
        }
        return out
    }
}

extension UpstreamResponse {
    /// AsyncHTTPClient's async response (the path for streamed request bodies).
    init(_ response: HTTPClientResponse) {
        self.init(status: response.status, headers: response.headers, body: UpstreamBody(.client(response.body)))
    }
}
