import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// `tally-bench passthrough-proxy` — the floor for the gateway benchmark: an HTTP/1.1 reverse proxy on the same
/// SwiftNIO stack as `tally gateway` (same event loops, HTTP/1 codecs, one kept-alive upstream connection per
/// client connection) that does none of Tally's work: no signature check, no ledger, no re-signing, headers
/// passed through. `Tools/bench-gateway.sh` measures it in the same run as the gateway and nginx, so the gateway's
/// figures can be read against what the network stack and NIO alone cost on the same machine.
///
/// Not a product: it forwards anything to anything, without limits or TLS. Runs until killed.
struct PassthroughProxyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passthrough-proxy",
        abstract: "A bare SwiftNIO pass-through proxy (no Tally work): the gateway benchmark's floor.")
    @Option(help: "Address to listen on, HOST:PORT.") var listen: String
    @Option(help: "Upstream to forward to, HOST:PORT (plain HTTP).") var upstream: String
    @Option(help: "Event-loop threads.") var threads = 1
    @Flag(help: "Relay raw bytes both ways (a TCP proxy: no HTTP parsing at all) instead of HTTP/1.1 messages.")
    var raw = false

    func run() throws {
        let (host, port) = try Self.endpoint(listen, option: "--listen")
        let up = try Self.endpoint(upstream, option: "--upstream")
        guard threads >= 1 else { throw Self.badInput("--threads \(threads): must be at least 1") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let raw = self.raw
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if raw {
                        try channel.pipeline.syncOperations.addHandler(RawRelayHandler(upstreamHost: up.0, upstreamPort: up.1))
                    } else {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(PassthroughHandler(upstreamHost: up.0, upstreamPort: up.1))
                    }
                }
            }
            .bind(host: host, port: port).wait()
        print("passthrough-proxy listening on \(listen), forwarding \(raw ? "raw bytes" : "HTTP/1.1") to \(upstream)")
        try server.closeFuture.wait()
    }

}

extension ParsableCommand {
    /// `HOST:PORT` given to `option`, or bad input.
    static func endpoint(_ text: String, option: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port), colon > text.startIndex else {
            throw badInput("\(option) '\(text)': expected HOST:PORT with a port from 1 to 65535")
        }
        return (String(text[..<colon]), port)
    }

    /// Bad input to this tally-bench command: the message on stderr (named by the command), exit code 2.
    static func badInput(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("tally-bench \(configuration.commandName ?? "?"): \(message)\n".utf8))
        return ExitCode(2)
    }
}

/// The upstream connection of one client connection: opened on first use, on the client's event loop, with the
/// pipeline `configure` sets up; what is sent before it is up waits, in order. A failed connect closes the client.
private final class UpstreamLink<Part: Sendable> {
    private let host: String
    private let port: Int
    private let configure: @Sendable (any Channel, ChannelHandlerContext) throws -> Void
    private(set) var channel: (any Channel)?
    private var waiting: [Part] = []
    private var connecting = false

    init(host: String, port: Int, configure: @escaping @Sendable (any Channel, ChannelHandlerContext) throws -> Void) {
        self.host = host
        self.port = port
        self.configure = configure
    }

    func send(_ part: Part, flush: Bool, from context: ChannelHandlerContext) {
        if let channel {
            if flush { channel.writeAndFlush(part, promise: nil) } else { channel.write(part, promise: nil) }
            return
        }
        waiting.append(part)
        guard !connecting else { return }
        connecting = true
        let client = NIOLoopBound(context, eventLoop: context.eventLoop)
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        let configure = self.configure
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try configure(channel, client.value) }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                let link = me.value
                switch result {
                case .success(let channel):
                    link.channel = channel
                    for p in link.waiting { channel.write(p, promise: nil) }
                    link.waiting.removeAll()
                    channel.flush()
                case .failure:
                    client.value.close(promise: nil)
                }
            }
    }

    func close() {
        channel?.close(promise: nil)
        channel = nil
    }
}

/// The client side of one connection pair: closes its upstream connection when the client's closes.
private class ClientSide<Part: Sendable> {
    let upstream: UpstreamLink<Part>
    init(_ upstream: UpstreamLink<Part>) { self.upstream = upstream }

    func channelInactive(context: ChannelHandlerContext) {
        upstream.close()
        context.fireChannelInactive()
    }
}

/// The upstream side of one connection pair: closes the client's connection when the upstream's closes.
private class UpstreamSide {
    let client: ChannelHandlerContext
    init(client: ChannelHandlerContext) { self.client = client }

    func channelInactive(context: ChannelHandlerContext) {
        client.close(promise: nil)
        context.fireChannelInactive()
    }
}

/// One client connection: forwards each request to its own upstream connection and the upstream's response back.
/// Requests are taken one at a time, as the clients of the benchmark send them (no pipelining).
private final class PassthroughHandler: ClientSide<HTTPClientRequestPart>, ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hostHeader: String

    init(upstreamHost: String, upstreamPort: Int) {
        self.hostHeader = "\(upstreamHost):\(upstreamPort)"
        super.init(UpstreamLink(host: upstreamHost, port: upstreamPort) { channel, client in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(PassthroughUpstreamHandler(client: client))
        })
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            head.headers.replaceOrAdd(name: "host", value: hostHeader)
            upstream.send(.head(head), flush: false, from: context)
        case .body(let body): upstream.send(.body(.byteBuffer(body)), flush: false, from: context)
        case .end(let trailers): upstream.send(.end(trailers), flush: true, from: context)
        }
    }
}

/// The upstream side of one client connection: relays response parts to the client.
private final class PassthroughUpstreamHandler: UpstreamSide, ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            head.headers.remove(name: "connection")
            head.headers.remove(name: "keep-alive")
            client.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        case .body(let body):
            client.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        case .end(let trailers):
            client.writeAndFlush(NIOAny(HTTPServerResponsePart.end(trailers)), promise: nil)
        }
    }
}

/// `--raw`: one client connection relayed byte for byte to its own upstream connection and back (no HTTP parsing;
/// the client's Host header reaches the upstream unchanged).
private final class RawRelayHandler: ClientSide<ByteBuffer>, ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    init(upstreamHost: String, upstreamPort: Int) {
        super.init(UpstreamLink(host: upstreamHost, port: upstreamPort) { channel, client in
            try channel.pipeline.syncOperations.addHandler(RawRelayUpstreamHandler(client: client))
        })
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        upstream.send(unwrapInboundIn(data), flush: false, from: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream.channel?.flush()
        context.fireChannelReadComplete()
    }
}

/// The upstream side of `--raw`: relays the upstream's bytes to the client.
private final class RawRelayUpstreamHandler: UpstreamSide, ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client.flush()
        context.fireChannelReadComplete()
    }
}
