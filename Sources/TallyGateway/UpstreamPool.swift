import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Scheme, host and port of an upstream: the key of pooled connections.
struct UpstreamOrigin: Hashable, Sendable, CustomStringConvertible {
    var tls: Bool
    var host: String
    var port: Int

    init(_ url: URL) {
        tls = url.scheme?.lowercased() == "https"
        host = url.host ?? "localhost"
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        port = url.port ?? (tls ? 443 : 80)
    }

    var description: String { "\(tls ? "https" : "http")://\(host):\(port)" }

    /// The TLS server name (SNI and certificate check): nil for an IP address.
    var serverName: String? {
        if host.contains(":") { return nil }
        if host.allSatisfy({ $0 == "." || $0.isASCII && $0.isNumber }) { return nil }
        return host
    }
}

/// Where an ``UpstreamConnection`` hands the response (on the connection's event loop): ``UpstreamExchange`` (for a
/// task), or a plain call driven on the event loop.
protocol UpstreamResponseSink: AnyObject, Sendable {
    func receiveHead(_ head: HTTPResponseHead)
    /// Returns a future to wait for before reading more (backpressure), or nil to go on reading.
    func receiveBodyPart(_ buffer: ByteBuffer) -> EventLoopFuture<Void>?
    func receiveEnd()
    func fail(_ error: any Error)
}

extension UpstreamExchange: UpstreamResponseSink {}

/// Why an upstream exchange over a pooled connection failed without an answer.
struct UpstreamConnectionError: Error, CustomStringConvertible {
    var description: String
    /// The whole request had been written to the upstream before the failure: it may have run there.
    var requestSent = false

    /// True for an error of the gateway's upstream connections after the request was written whole.
    static func sent(_ error: any Error) -> Bool { (error as? UpstreamConnectionError)?.requestSent ?? false }
}

/// Keep-alive HTTP/1.1 connections to the upstream for calls without a streamed request body, one pool per
/// event loop: a call goes out on a connection of the event loop it arrived on (its inbound connection's), so
/// the request, the response and the answer to the agent never change threads. Requests are written with NIO's
/// HTTP/1 client codec (and NIOSSL for an https upstream); the response is handed to an ``UpstreamExchange``
/// (small answers whole, larger ones streamed with backpressure: the connection stops reading while the
/// exchange's consumer is behind). Streamed request bodies and the gateway's own STS calls keep AsyncHTTPClient.
final class UpstreamPool: Sendable {
    private let tlsConfiguration: TLSConfiguration
    private let sslContext = Mutex<NIOSSLContext?>(nil)
    private let loops = Mutex<[ObjectIdentifier: LoopPool]>([:])
    /// Idle connections kept per origin and event loop.
    static let maxIdle = 256
    /// A connection idle for longer is closed instead of reused (servers close idle keep-alive connections).
    static let maxIdleAge: TimeAmount = .seconds(50)
    static let connectTimeout: TimeAmount = .seconds(10)

    init(tlsConfiguration: TLSConfiguration) {
        self.tlsConfiguration = tlsConfiguration
    }

    /// Sends `head` (and `body`) to `origin` on a connection of `eventLoop` and hands the response to `exchange`.
    /// Returns a handle that cancels the call (closing its connection) if it has not finished.
    func execute(_ head: HTTPRequestHead, body: ByteBuffer?, origin: UpstreamOrigin, on eventLoop: any EventLoop,
                 exchange: any UpstreamResponseSink, deadline: NIODeadline) -> UpstreamCall {
        let call = UpstreamCall(eventLoop: eventLoop)
        let pool = loopPool(eventLoop)
        if eventLoop.inEventLoop {
            pool.start(head, body: body, origin: origin, exchange: exchange, deadline: deadline, call: call, retried: false)
        } else {
            eventLoop.execute {
                pool.start(head, body: body, origin: origin, exchange: exchange, deadline: deadline, call: call, retried: false)
            }
        }
        return call
    }

    /// Closes every idle connection (at shutdown; calls in flight have been drained).
    func shutdown() {
        let pools = loops.withLock { Array($0.values) }
        for pool in pools { pool.eventLoop.execute { pool.closeIdle() } }
    }

    private func loopPool(_ eventLoop: any EventLoop) -> LoopPool {
        let key = ObjectIdentifier(eventLoop)
        return loops.withLock { pools in
            if let pool = pools[key] { return pool }
            let pool = LoopPool(eventLoop: eventLoop, owner: self)
            pools[key] = pool
            return pool
        }
    }

    /// The client TLS context, made on first use (an https upstream).
    func context() throws -> NIOSSLContext {
        try sslContext.withLock { context in
            if let context { return context }
            let made = try NIOSSLContext(configuration: tlsConfiguration)
            context = made
            return made
        }
    }
}

/// A started upstream call: `cancel()` stops it (its connection is closed) unless it has finished.
final class UpstreamCall: Sendable {
    let eventLoop: any EventLoop
    private let state = Mutex<(cancelled: Bool, connection: UpstreamConnection?, attempts: Int)>((false, nil, 1))

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// How many times the request was sent upstream: 2 when a reused connection closed before answering and the
    /// request went out again on a new one (recorded in `call.completed` as `upstreamAttempts`).
    var attempts: Int { state.withLock { $0.attempts } }

    /// The request goes out once more (see ``LoopPool/start``).
    func noteRetry() { state.withLock { $0.attempts += 1 } }

    /// The connection now carrying the call (nil when it finished); a cancelled call's connection is closed.
    func attach(_ connection: UpstreamConnection?) -> Bool {
        state.withLock { s in
            if s.cancelled { return false }
            s.connection = connection
            return true
        }
    }

    func cancel() {
        let connection = state.withLock { s -> UpstreamConnection? in
            s.cancelled = true
            defer { s.connection = nil }
            return s.connection
        }
        guard let connection else { return }
        if eventLoop.inEventLoop { connection.abort() } else { eventLoop.execute { connection.abort() } }
    }
}

/// One event loop's connections (touched only on that loop).
final class LoopPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    private unowned let owner: UpstreamPool
    private var idle: [UpstreamOrigin: [UpstreamConnection]] = [:]

    init(eventLoop: any EventLoop, owner: UpstreamPool) {
        self.eventLoop = eventLoop
        self.owner = owner
    }

    func start(_ head: HTTPRequestHead, body: ByteBuffer?, origin: UpstreamOrigin, exchange: any UpstreamResponseSink,
               deadline: NIODeadline, call: UpstreamCall, retried: Bool) {
        eventLoop.preconditionInEventLoop()
        if let connection = takeIdle(origin) {
            // A reused connection may have been closed by the upstream just now: if it fails before any byte of
            // the answer arrived, and the request was not written whole (or is a GET or HEAD, which read only), it is
            // sent once more on a new connection. A written PUT or DELETE is not: AWS's are not all repeatable
            // (versioned objects, conditional writes, published versions).
            let idempotent = head.method == .GET || head.method == .HEAD
            let retry: UpstreamConnection.Retry? = retried ? nil : { [self] written in
                guard !written || idempotent else { return false }
                call.noteRetry()
                start(head, body: body, origin: origin, exchange: exchange, deadline: deadline, call: call, retried: true)
                return true
            }
            guard call.attach(connection) else { release(connection); return }
            connection.send(head, body: body, exchange: exchange, deadline: deadline, call: call, retry: retry)
            return
        }
        connect(origin).whenComplete { [self] result in
            switch result {
            case .success(let connection):
                guard call.attach(connection) else { release(connection); return }
                connection.send(head, body: body, exchange: exchange, deadline: deadline, call: call, retry: nil)
            case .failure(let error):
                exchange.fail(error)
            }
        }
    }

    private func takeIdle(_ origin: UpstreamOrigin) -> UpstreamConnection? {
        let now = NIODeadline.now()
        while let connection = idle[origin]?.popLast() {
            if connection.isUsable && now - connection.idleSince < UpstreamPool.maxIdleAge { return connection }
            connection.abort()
        }
        return nil
    }

    /// A connection whose exchange ended with the connection still good: kept for the next call.
    func release(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        guard connection.isUsable, (idle[connection.origin]?.count ?? 0) < UpstreamPool.maxIdle else {
            connection.abort()
            return
        }
        connection.idleSince = .now()
        idle[connection.origin, default: []].append(connection)
    }

    /// A connection closed: forgotten if it was idle.
    func remove(_ connection: UpstreamConnection) {
        guard var list = idle[connection.origin], let i = list.firstIndex(where: { $0 === connection }) else { return }
        list.remove(at: i)
        idle[connection.origin] = list
    }

    func closeIdle() {
        let all = idle.values.flatMap { $0 }
        idle.removeAll()
        for c in all { c.abort() }
    }

    private func connect(_ origin: UpstreamOrigin) -> EventLoopFuture<UpstreamConnection> {
        let connection = UpstreamConnection(origin: origin, pool: self)
        let ssl: NIOSSLContext?
        do { ssl = origin.tls ? try owner.context() : nil } catch { return eventLoop.makeFailedFuture(error) }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(UpstreamPool.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let ssl {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: ssl, serverHostname: origin.serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .dropBytes, enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
            .connect(host: origin.host, port: origin.port)
            .map { _ in connection }
    }
}

/// One keep-alive connection to the upstream: at most one exchange at a time (no pipelining). Reads are held
/// back while the exchange's consumer is behind; an exchange that ends with the connection reusable returns it
/// to its ``LoopPool``.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart
    /// Asked when the connection fails before any byte of the answer (`written`: the request went out whole);
    /// true when the call was started again elsewhere.
    typealias Retry = (_ written: Bool) -> Bool

    let origin: UpstreamOrigin
    private unowned let pool: LoopPool
    private var context: ChannelHandlerContext?
    private var exchange: (any UpstreamResponseSink)?
    private var call: UpstreamCall?
    private var retry: Retry?
    private var written = false
    private var answered = false
    private var keepAlive = true
    private var closed = false
    private var paused = false
    private var pendingRead = false
    private var timeout: Scheduled<Void>?
    var idleSince = NIODeadline.now()

    init(origin: UpstreamOrigin, pool: LoopPool) {
        self.origin = origin
        self.pool = pool
    }

    var isUsable: Bool { !closed && exchange == nil && (context?.channel.isActive ?? false) }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func send(_ head: HTTPRequestHead, body: ByteBuffer?, exchange: any UpstreamResponseSink, deadline: NIODeadline,
              call: UpstreamCall, retry: Retry?) {
        guard let context, !closed else {
            exchange.fail(UpstreamConnectionError(description: "the upstream connection to \(origin) closed"))
            return
        }
        self.exchange = exchange
        self.call = call
        self.retry = retry
        written = false
        answered = false
        keepAlive = true
        var head = head
        if let body { head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body, body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        done.futureResult.whenSuccess { [self] in if self.exchange === exchange { written = true } }
        timeout = context.eventLoop.scheduleTask(deadline: deadline) { [self] in
            guard self.exchange === exchange else { return }
            self.retry = nil
            fail(UpstreamConnectionError(description: "the upstream did not answer in time"))
            abort()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // Informational answers (100 Continue; the gateway sends no Expect) are skipped.
            if head.status.code >= 100 && head.status.code < 200 && head.status != .switchingProtocols { return }
            answered = true
            keepAlive = head.isKeepAlive
            exchange?.receiveHead(head)
        case .body(let buffer):
            answered = true
            guard let wait = exchange?.receiveBodyPart(buffer) else { return }
            paused = true
            wait.whenComplete { [self] _ in
                paused = false
                if pendingRead, let context = self.context {
                    pendingRead = false
                    context.read()
                }
            }
        case .end:
            guard let exchange else { return }
            finish()
            exchange.receiveEnd()
            if keepAlive && context.channel.isActive { pool.release(self) } else { abort() }
        }
    }

    func read(context: ChannelHandlerContext) {
        if paused { pendingRead = true } else { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        pool.remove(self)
        fail(UpstreamConnectionError(description: "the upstream closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        abort()
    }

    /// Closes the connection (a cancelled or broken exchange, or an idle connection no longer wanted).
    func abort() {
        if exchange != nil {
            retry = nil
            fail(UpstreamConnectionError(description: "the upstream call was cancelled"))
        }
        guard !closed else { return }
        closed = true
        pool.remove(self)
        context?.close(promise: nil)
    }

    private func finish() {
        exchange = nil
        retry = nil
        timeout?.cancel()
        timeout = nil
        _ = call?.attach(nil)
        call = nil
    }

    /// Ends the current exchange with `error`, or starts it again elsewhere (see ``Retry``).
    private func fail(_ error: any Error) {
        guard let exchange else { return }
        let retry = answered ? nil : self.retry
        let written = self.written
        finish()
        if let retry, retry(written) { return }
        if written && !answered {
            // The agent is told, and the ledger records, that the request reached the upstream: it may have run (it
            // was answered "could not reach the upstream"; session 13 probe). Any failure: a reset or TLS error too.
            exchange.fail(UpstreamConnectionError(description: "\(error) after the request was sent to it (it may have run there)",
                                                  requestSent: true))
            return
        }
        exchange.fail(error)
    }
}
