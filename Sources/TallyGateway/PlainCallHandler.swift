import Foundation
import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import TallyAWS
import TallyCore

/// The event-loop path for plain calls (no `Expect`, no transfer coding, a known body of at most
/// ``GatewayHandler/smallBodyLimit`` bytes, not aws-chunked), one per inbound HTTP/1 connection, in Hummingbird's
/// pipeline after the HTTP-types codec: the request is read, verified and identified on the event loop
/// (``GatewayHandler/authorize``, the same checks as the task path), `call.requested` is queued for the group commit
/// and the call goes on on this event loop once it is durable (``PlainCall``) — forwarded over the loop's own upstream
/// connections — with no task, continuation or async stream per request.
///
/// Anything else is passed on unchanged to Hummingbird's responder (``GatewayHandler/respond``): requests that are
/// not plain, and plain ones this path does not finish itself — refused ones (the task path refuses them again,
/// records `call.denied` and answers), a credential whose issuance is not yet recorded, a role credential not
/// cached, a full body budget. Responses keep the order of requests: while a passed-on request is unanswered,
/// the following ones are passed on too; requests pipelined behind a plain call wait for it.
final class PlainCallHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        case idle
        /// Reading a plain call's body: its bytes read so far are taken from the body budget as they arrive.
        case collecting(HTTPRequest, GatewayHandler.PlainStart, ByteBuffer)
        /// Waiting for the call (its body's reservation already given back: the body is read).
        case calling(PlainCall)
        /// Passing the parts of the current request on.
        case passing
    }

    let gateway: GatewayHandler
    /// Connections with no call in flight for this long are closed.
    let idleTimeout: TimeAmount
    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Requests passed on whose answer's end has not been written yet.
    private var passedOn = 0
    /// Parts that arrived while a plain call was in flight (pipelining).
    private var pending = CircularBuffer<HTTPRequestPart>()
    private var quiescing = false
    /// An answer passed on says `Connection: close` (a refusal): the connection closes once its end is written, and
    /// nothing read after it is handled (a pipelined request behind a refusal ran, though the refusal told the
    /// client to send it again on a new connection; session 11 probe).
    private var closeAfterAnswer = false
    /// The agent half-closed (no more requests) while a plain call or pipelined requests were still to be answered:
    /// the responder hears of it only once those are done (it would otherwise close before the plain call answers).
    private var inputClosedOwed = false
    /// Parts were passed on outside a read (replayed after a plain call): the responder's channel sees them only
    /// with a read-complete.
    private var readCompleteOwed = false
    /// A read asked for while a plain call was in flight and parts were already pending (held back: further requests
    /// pipelined behind a call wait in the socket, not in memory).
    private var readHeld = false
    private var lastActivity = NIODeadline.now()
    /// The connection is gone: nothing more is handled.
    private var inactive = false
    /// This handler closed the connection because it was idle.
    private var closedForIdle = false
    private var idleCheck: Scheduled<Void>?
    /// The agent's IP address, read and formatted once per connection (`ChannelHandlerContext.remoteAddress` asks the
    /// kernel, getpeername(2), every time; the channel's own is cached).
    private(set) lazy var sourceAddress: String? = context?.channel.remoteAddress?.ipAddress

    init(gateway: GatewayHandler, idleTimeout: TimeAmount) {
        self.gateway = gateway
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        scheduleIdleCheck(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        if closeAfterAnswer { return }  // closing: nothing more is handled
        if mustWait {
            pending.append(unwrapInboundIn(data))
            return
        }
        handle(unwrapInboundIn(data), context: context)
    }

    /// A new request must wait: a plain call is in flight, or a request passed on is not answered yet (the responder
    /// answers one at a time anyway; held here, a request behind an answer that closes the connection never runs).
    private var mustWait: Bool {
        switch state {
        case .calling: return true
        case .idle: return passedOn > 0
        case .collecting, .passing: return false
        }
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (state, part) {
        case (.idle, .head(let head)):
            // Only for a signed request of a known, valid key; its body is taken from the budget as it arrives, not as
            // declared (as the task path does): a declared length reserved up front let a connection that then trickled
            // its body hold the budget, with only an access key id (session 13 probe).
            if passedOn == 0, !quiescing, let length = gateway.plainCallLength(head), let start = gateway.plainStart(head) {
                state = .collecting(head, start, context.channel.allocator.buffer(capacity: length))
            } else {
                passOn(part, context: context)
            }
        case (.collecting(let head, let start, var body), .body(let part)):
            guard gateway.bodyBudget.reserve(part.readableBytes, limit: gateway.configuration.maxBufferedBody) else {
                // The budget is full: the task path handles the request from the start (and refuses it, 503 SlowDown).
                passOnFromStart(head, body, then: .body(part), context: context)
                return
            }
            state = .idle  // drop the reference so that the buffer is not copied on write
            body.writeImmutableBuffer(part)
            state = .collecting(head, start, body)
        case (.collecting(let head, let start, let body), .end):
            let call = gateway.plainCall(head, start: start, body: body, handler: self, context: context)
            guard let call else {
                // Not for this path after all: the task path handles it from the start.
                passOnFromStart(head, body, then: .end(nil), context: context)
                return
            }
            // The body is read: its reservation goes back now, as on the task path, not when the upstream answers
            // (a slow upstream held the budget, and other buffered calls got 503 SlowDown).
            gateway.bodyBudget.release(body.readableBytes)
            state = .calling(call)
            call.begin()
        case (.passing, .end):
            state = .idle
            readCompleteOwed = true
            context.fireChannelRead(wrapInboundOut(part))
        case (.passing, _), (.idle, _):
            readCompleteOwed = true
            context.fireChannelRead(wrapInboundOut(part))
        case (.collecting, .head), (.calling, _):
            // A head inside a body cannot come from the HTTP/1 decoder; pending parts are replayed after the call.
            context.fireErrorCaught(ChannelError.inappropriateOperationForState)
        }
    }

    /// Gives a plain call being collected up to the task path: its reservation back, then its head, the body read so
    /// far and `next`.
    private func passOnFromStart(_ head: HTTPRequest, _ body: ByteBuffer, then next: HTTPRequestPart,
                                 context: ChannelHandlerContext) {
        gateway.bodyBudget.release(body.readableBytes)
        state = .idle
        passOn(.head(head), context: context)
        if body.readableBytes > 0 { passOn(.body(body), context: context) }
        passOn(next, context: context)
    }

    private func passOn(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        if case .head = part {
            passedOn += 1
            state = .passing
        } else if case .end = part {
            state = .idle
        }
        readCompleteOwed = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// While a plain call is in flight, reading goes on until a pipelined part arrives: a client that waits for the
    /// answer sends nothing meanwhile, and holding and resuming reads costs two `epoll_ctl` per call. Once a part is
    /// pending, reads are held until the call ends, so what waits in memory is at most what one read cycle brings
    /// (`maxMessagesPerRead` reads of at most the receive buffer: 4 × 64 KiB with NIO's defaults).
    func read(context: ChannelHandlerContext) {
        if mustWait, !pending.isEmpty { readHeld = true } else { context.read() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readCompleteOwed = false
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The responder's answers to requests passed on.
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.status.code >= 200, let connection = head.headerFields[.connection],
               connection.lowercased().split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "close" }) {
                closeAfterAnswer = true
                pending.removeAll()
            }
        case .end:
            passedOn -= 1
            lastActivity = .now()
            if closeAfterAnswer {
                let written = context.eventLoop.makePromise(of: Void.self)
                if let promise { written.futureResult.cascade(to: promise) }
                written.futureResult.whenComplete { _ in context.close(promise: nil) }
                context.write(data, promise: written)
                return
            }
            if passedOn == 0 {
                // The next request waiting behind this answer goes on once the answer is written.
                context.eventLoop.execute { [self] in
                    guard let context = self.context else { return }
                    resumePending(context)
                }
            }
        case .body:
            break
        }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .calling(let call) = state { call.writable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Before the call hears of it: a call that ends now must not start the requests pipelined behind it (they
        // were sent upstream and never completed; session 13 review).
        inactive = true
        pending.removeAll()
        if case .calling(let call) = state { call.agentGone() }
        // A call of the responder's, if forwarding; not when this handler closed the connection for idleness (a body
        // that stopped coming, maybe held back by the upstream: not the agent leaving).
        if passedOn > 0 && !closedForIdle { gateway.agentConnections.closed(context.channel) }
        if case .collecting(_, _, let body) = state {
            gateway.bodyBudget.release(body.readableBytes)
            state = .idle
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, case .inputClosed = e, mustWait || !pending.isEmpty {
            inputClosedOwed = true
            return
        }
        if event is ChannelShouldQuiesceEvent {
            // Graceful shutdown: a plain call in flight is finished first (the responder knows nothing of it).
            quiescing = true
            switch state {
            case .calling, .collecting: return
            case .idle, .passing:
                if passedOn == 0 { context.close(promise: nil); return }
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: for the call (on the event loop)

    func write(_ part: HTTPResponsePart, flush: Bool = false) {
        guard let context else { return }
        if flush {
            context.writeAndFlush(wrapOutboundOut(part), promise: nil)
        } else {
            context.write(wrapOutboundOut(part), promise: nil)
        }
    }

    /// Writes the answer's end and flushes; the future completes once every byte of the answer is handed to the
    /// socket (or fails when the connection broke first). Nil when the connection is gone.
    func writeEnd() -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
        return promise.futureResult
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }
    var isActive: Bool { context?.channel.isActive ?? false }
    var eventLoop: (any EventLoop)? { context?.eventLoop }

    func close() { context?.close(promise: nil) }

    /// The plain call in flight has answered (or failed): the next request goes on.
    func callFinished(_ call: PlainCall) {
        guard case .calling(let current) = state, current === call else { return }
        state = .idle
        lastActivity = .now()
        guard let context, !inactive else { return }
        if quiescing {
            if passedOn == 0 { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
            pending.removeAll()
            return
        }
        resumePending(context)
    }

    /// Handles the requests that waited (``mustWait``) as far as they may go now; passes on a half-close that waited
    /// for them.
    private func resumePending(_ context: ChannelHandlerContext) {
        while !pending.isEmpty, !mustWait, !closeAfterAnswer {
            handle(pending.removeFirst(), context: context)
        }
        if readCompleteOwed { channelReadComplete(context: context) }
        if inputClosedOwed, pending.isEmpty, !mustWait, !closeAfterAnswer {
            inputClosedOwed = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readHeld, !(mustWait && !pending.isEmpty) {
            readHeld = false
            context.read()
        }
    }

    private var isCalling: Bool { if case .calling = state { return true } else { return false } }

    /// Closes the connection once nothing has been read or answered for `idleTimeout` while no call is in flight
    /// (idle between requests), or while a request's body is being read (a plain call's, or one passed on).
    private func scheduleIdleCheck(_ context: ChannelHandlerContext) {
        // At least a second ahead: while a call is in flight the last activity may be older than the timeout.
        let deadline = max(lastActivity + idleTimeout, NIODeadline.now() + .seconds(1))
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let context = self.context else { return }
            let waiting: Bool
            switch self.state {
            case .idle, .collecting: waiting = self.passedOn == 0 && self.pending.isEmpty
            // A passed-on request whose body stopped coming (Hummingbird's own idle handling is off on this path).
            case .passing: waiting = true
            case .calling: waiting = false
            }
            if waiting && NIODeadline.now() - self.lastActivity >= self.idleTimeout {
                self.closedForIdle = true
                context.close(promise: nil)
            } else {
                self.scheduleIdleCheck(context)
            }
        }
    }
}

extension GatewayHandler {
    /// The body length of a request the event-loop path can take (``PlainCallHandler``), or nil.
    func plainCallLength(_ head: HTTPRequest) -> Int? {
        Self.plainCallLength(head, maxBufferedBody: configuration.maxBufferedBody)
    }

    /// The body length of a plain call: not the gateway's own endpoints, no `Expect` (100-continue is answered by
    /// the task path), no `Connection: close`, no transfer coding, a Content-Length (or none: no body) of at most ``smallBodyLimit`` and
    /// `maxBufferedBody`, and not an aws-chunked payload (`x-amz-content-sha256: STREAMING-...`); else nil.
    /// Every such request is one the task path buffers whole as well.
    static func plainCallLength(_ head: HTTPRequest, maxBufferedBody: Int) -> Int? {
        if head.path?.hasPrefix("/_tally/") == true { return nil }
        guard head.headerFields[.expect] == nil, head.headerFields[.transferEncoding] == nil else { return nil }
        // `Connection: close` is honoured by the task path (Hummingbird closes after the answer).
        if let connection = head.headerFields[.connection], connection.lowercased().containsBytes("close") { return nil }
        var length = 0
        if let text = head.headerFields[.contentLength] {
            guard let n = Int(text), n >= 0 else { return nil }
            length = n
        }
        guard length <= smallBodyLimit, length <= maxBufferedBody else { return nil }
        if let mode = head.headerFields[contentSHA256], mode.hasPrefix("STREAMING-") { return nil }
        return length
    }

    static let contentSHA256 = HTTPField.Name("x-amz-content-sha256")!

    /// What a plain call's head established before its body is read: a parsed signature of a known, valid key whose
    /// issuance is recorded, and the upstream credential at hand.
    struct PlainStart {
        var start: ContinuousClock.Instant
        var now: Date
        var head: TallyAWS.HTTPRequestHead
        var parsed: SigV4Auth
        var credential: IssuedCredential
        var secret: String
        var upstreamCredential: UpstreamCredential
    }

    /// Steps 1–2 of ``respond`` for a plain call's head, or nil when they do not simply succeed (the task path then
    /// handles the request, and refuses it if it must).
    func plainStart(_ request: HTTPRequest) -> PlainStart? {
        let start = ContinuousClock.now
        let head = Self.makeHead(request)
        guard let parsed = try? SigV4.parse(head) else { return nil }
        let now = Date()
        guard case .success(let found) = store.lookup(parsed.accessKeyId, now: now), found.credential.issuanceRecorded != false,
              let upstreamCredential = identity.cachedCredential(for: found.credential) else { return nil }
        return PlainStart(start: start, now: now, head: head, parsed: parsed, credential: found.credential, secret: found.secret,
                          upstreamCredential: upstreamCredential)
    }

    /// Steps 3–6 of ``respond`` for a plain call read whole, on the event loop: a call ready to be recorded and
    /// forwarded, or nil when anything is not as the plain path needs it (the task path then handles the request).
    func plainCall(_ request: HTTPRequest, start plain: PlainStart, body collected: ByteBuffer, handler: PlainCallHandler,
                   context channelContext: ChannelHandlerContext) -> PlainCall? {
        let start = plain.start, head = plain.head, parsed = plain.parsed, now = plain.now
        // The key must still be valid now that the body is in (a revocation or expiry since the head is in force; the
        // task path refuses the call and records it).
        guard case .success = store.lookup(parsed.accessKeyId, now: Date()) else { return nil }
        let upstreamCredential = plain.upstreamCredential
        let found = (credential: plain.credential, secret: plain.secret)
        var context = CallContext(callId: Self.newCallId(), method: head.method, path: head.path)
        context.sourceAddress = handler.sourceAddress
        var proto = Self.guessProtocol(head)
        var ident: IdentifiedOperation?
        context.accessKeyId = parsed.accessKeyId
        context.region = parsed.region
        context.service = parsed.service
        context.credential = found.credential
        // As the task path: an S3 request without a small plain body has no buffered body (it would stream).
        var body: [UInt8]?
        if parsed.isS3 && !Self.isSmallPlainBody(request, mode: parsed.payloadMode) {
            guard collected.readableBytes == 0 else { return nil }
        } else {
            body = Array(collected.readableBytesView)
        }
        guard let verified = try? authorize(head, parsed: parsed, secret: found.secret, body: body, now: now, context: &context,
                                            ident: &ident, proto: &proto) else { return nil }
        context.upstreamIdentity = upstreamCredential.identityARN ?? found.credential.role ?? identity.baseARN ?? upstreamCredential.accessKeyId
        context.payloadMode = parsed.payloadMode.literal ?? "sha256(body)"
        return PlainCall(gateway: self, handler: handler, eventLoop: channelContext.eventLoop, request: request, head: head,
                         auth: parsed, verified: verified, body: body, upstreamCredential: upstreamCredential,
                         context: context, proto: proto, ident: ident, start: start,
                         records: plainRecords.queue(for: channelContext.eventLoop))
    }

    /// The upstream's response headers as passed to the agent (hop-by-hop ones dropped).
    static func answerFields(_ headers: HTTPHeaders) -> HTTPFields {
        var fields = HTTPFields()
        for h in headers where !isDroppedResponseHeader(h.name) {
            if let name = HTTPField.Name(h.name) { fields.append(HTTPField(name: name, value: h.value)) }
        }
        return fields
    }
}
