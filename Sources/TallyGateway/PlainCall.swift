import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import TallyAWS
import TallyCore

/// One plain call on its inbound connection's event loop (see ``PlainCallHandler``), after it was authorized:
/// `call.requested` is queued for the group commit, and only once the ledger reports it durable is the request
/// re-signed and sent upstream over the loop's ``UpstreamPool`` connections; the response is relayed as the task path
/// relays it (small answers in one write, masked answers masked, others streamed with backpressure), then
/// `call.completed` is queued. Touched only on `eventLoop`.
final class PlainCall: UpstreamResponseSink, @unchecked Sendable {
    private let gateway: GatewayHandler
    private let handler: PlainCallHandler
    let eventLoop: any EventLoop
    private let request: HTTPRequest
    private let head: TallyAWS.HTTPRequestHead
    private let auth: SigV4Auth
    private let verified: VerifiedSigV4
    private let body: [UInt8]?
    private let upstreamCredential: UpstreamCredential
    private let context: CallContext
    private let proto: AWSProtocol
    private let ident: IdentifiedOperation?
    private let start: ContinuousClock.Instant
    private let records: PlainCallRecords

    private enum Mode {
        case recording, waiting, whole, masking(GatewayHandler.MaskPlan), streaming, done
    }
    private var mode = Mode.recording
    private var prepared: (GatewayHandler.UpstreamRequest, ByteBuffer?)?
    private var upstream: UpstreamCall?
    private var upstreamStart = ContinuousClock.now
    private var upstreamLatency: Double?
    private var upstreamEnded = false
    private var status = 0
    private var responseHeaders = HTTPHeaders()
    private var fields = HTTPFields()
    private var buffered: ByteBuffer?
    private var errorPrefix: [UInt8] = []
    private var bytesOut = 0
    private var outcome = "ok"
    private var detail: String?
    private var errorCode: String?
    private var masked: [String] = []
    private var agentLeft = false
    private var writability: EventLoopPromise<Void>?
    /// Registered with ``GatewayHandler/inFlight`` while the call waits for or relays the upstream's answer.
    private var abortToken: Int?
    /// Graceful shutdown passed its drain limit and cut the call off.
    private var shutdownAborted = false
    /// `fail` is answering the agent with an error (and closing its connection).
    private var failing = false

    init(gateway: GatewayHandler, handler: PlainCallHandler, eventLoop: any EventLoop, request: HTTPRequest,
         head: TallyAWS.HTTPRequestHead, auth: SigV4Auth, verified: VerifiedSigV4, body: [UInt8]?,
         upstreamCredential: UpstreamCredential, context: CallContext, proto: AWSProtocol, ident: IdentifiedOperation?,
         start: ContinuousClock.Instant, records: PlainCallRecords) {
        self.gateway = gateway
        self.records = records
        self.handler = handler
        self.eventLoop = eventLoop
        self.request = request
        self.head = head
        self.auth = auth
        self.verified = verified
        self.body = body
        self.upstreamCredential = upstreamCredential
        self.context = context
        self.proto = proto
        self.ident = ident
        self.start = start
    }

    /// Queues `call.requested`; the call goes on when the ledger reports it durable (fails closed otherwise).
    func begin() {
        // Graceful shutdown waits for the call (and its call.completed), even when its agent has gone.
        gateway.background.enter()
        gateway.metrics.inFlight(1)
        records.addRequested(context, for: self)
    }

    /// `call.requested` is durable (or could not be committed).
    func recorded(_ result: Result<UInt64, any Error>) {
        guard case .recording = mode else { return }
        if case .failure(let error) = result {
            gateway.logger.error("ledger commit failed: failing closed", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
            gateway.metrics.recordDenial(reason: "ledger")
            gateway.metrics.recordCall(service: gateway.metricsService(context.service), outcome: "denied", seconds: seconds(since: start))
            let e = AWSAuthError(code: "ServiceUnavailable",
                                 message: "Tally gateway could not durably record the call; it was not forwarded", httpStatus: 503)
            writeError(e)
            mode = .done
            gateway.metrics.inFlight(-1)
            gateway.background.leave()
            handler.callFinished(self)
            return
        }
        // Durable: forward (re-signed while the commit ran, see `prepare`).
        guard let pool = gateway.upstreamPool else { return }
        mode = .waiting
        if agentLeft {
            // Nobody will read the answer: not forwarded, as a reverse proxy drops a request whose client left first.
            outcome = "aborted"
            detail = "the agent closed the connection before the call was forwarded; it was not forwarded"
            complete(extractCode: false)
            return
        }
        if gateway.inFlight.expired {
            // Shutting down past the drain limit: recorded, but never sent.
            shutdownAborted = true
            fail(UpstreamConnectionError(description: "not forwarded: the gateway is shutting down"))
            return
        }
        prepare()
        guard let (prepared, outboundBody) = self.prepared else { return }
        self.prepared = nil
        upstreamStart = .now
        upstream = pool.execute(
            HTTPRequestHead(version: .http1_1, method: prepared.method, uri: prepared.target, headers: prepared.headers),
            body: outboundBody, origin: prepared.origin, on: eventLoop, exchange: self, deadline: .now() + .seconds(900))
        let loop = eventLoop
        abortToken = gateway.inFlight.add { [weak self] in
            loop.execute { self?.abortForShutdown() }
        }
    }

    /// Graceful shutdown's drain limit passed with this call still waiting for (or relaying) the upstream's answer:
    /// the upstream call is cut off and the call recorded `aborted` (answered 503 when nothing was sent yet).
    private func abortForShutdown() {
        switch mode {
        case .waiting, .whole, .masking, .streaming:
            shutdownAborted = true
            upstream?.cancel()
            fail(UpstreamConnectionError(description: "the gateway shut down before the upstream answered (\(gateway.inFlight.reason))"))
        case .recording, .done:
            break
        }
    }

    /// Re-signs the upstream request (once; nothing is sent). Runs right after `call.requested` was queued, while
    /// the ledger commits it, or at the latest when it is durable.
    func prepare() {
        guard prepared == nil else { return }
        let upstreamRequest = gateway.prepareUpstream(request, head: head, auth: auth, verified: verified, body: body,
                                                      upstreamCredential: upstreamCredential, ident: ident)
        var outboundBody: ByteBuffer?
        if let body, !body.isEmpty || head.method != "GET" { outboundBody = ByteBuffer(bytes: body) }
        prepared = (upstreamRequest, outboundBody)
    }

    // MARK: the upstream's answer (UpstreamResponseSink, on the event loop)

    func receiveHead(_ responseHead: HTTPResponseHead) {
        guard case .waiting = mode else { return }
        status = Int(responseHead.status.code)
        responseHeaders = responseHead.headers
        fields = GatewayHandler.answerFields(responseHead.headers)
        outcome = status < 400 ? "ok" : "aws-error"
        if let plan = gateway.maskPlan(ident: ident, method: head.method, status: status, headers: responseHead.headers) {
            mode = .masking(plan)
        } else if let length = responseHead.headers.first(name: "content-length").flatMap({ Int($0) }),
                  length <= GatewayHandler.coalescedResponseLimit {
            mode = .whole
        } else {
            mode = .streaming
            upstreamLatency = seconds(since: upstreamStart)
            gateway.metrics.recordUpstream(seconds: upstreamLatency!)
            handler.write(.head(HTTPResponse(status: .init(code: status), headerFields: fields)), flush: true)
        }
    }

    func receiveBodyPart(_ part: ByteBuffer) -> EventLoopFuture<Void>? {
        switch mode {
        case .whole:
            if buffered == nil { buffered = part } else { buffered!.writeImmutableBuffer(part) }
        case .masking:
            if (buffered?.readableBytes ?? 0) + part.readableBytes > ResponseMasking.maxBody {
                // As the task path: too large to mask, withheld (the upstream call is stopped).
                finishMasked(tooLarge: true)
                return nil
            }
            if buffered == nil { buffered = part } else { buffered!.writeImmutableBuffer(part) }
        case .streaming:
            bytesOut += part.readableBytes
            if status >= 300 && errorPrefix.count < 65536 { errorPrefix += part.readableBytesView.prefix(65536 - errorPrefix.count) }
            handler.write(.body(part), flush: true)
            if !agentLeft && !handler.isWritable {
                let promise = eventLoop.makePromise(of: Void.self)
                writability = promise
                return promise.futureResult
            }
        case .recording, .waiting, .done:
            break
        }
        return nil
    }

    func receiveEnd() {
        upstreamEnded = true
        switch mode {
        case .whole:
            upstreamLatency = seconds(since: upstreamStart)
            gateway.metrics.recordUpstream(seconds: upstreamLatency!)
            bytesOut = buffered?.readableBytes ?? 0
            if status >= 300, let buffered { errorPrefix = Array(buffered.readableBytesView.prefix(65536)) }
            handler.write(.head(HTTPResponse(status: .init(code: status), headerFields: fields)))
            if let buffered, buffered.readableBytes > 0 { handler.write(.body(buffered)) }
            completeAfterEnd()
        case .masking:
            finishMasked(tooLarge: false)
        case .streaming:
            completeAfterEnd()
        case .recording, .waiting, .done:
            break
        }
    }

    func fail(_ error: any Error) {
        upstreamEnded = true
        switch mode {
        case .waiting, .whole, .masking:
            failing = true  // the refusal closes the connection: that is no agent leaving (see `agentGone`)
            // Nothing sent to the agent yet: a 503 it retries.
            if shutdownAborted {
                gateway.logger.notice("call cut off by shutdown", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
            } else {
                gateway.logger.error("upstream request failed", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
            }
            writeError(GatewayHandler.upstreamUnavailable(cutOff: shutdownAborted, requestSent: UpstreamConnectionError.sent(error)), close: true)
            outcome = shutdownAborted ? "aborted" : "upstream-failure"
            status = 503
            errorCode = "ServiceUnavailable"
            detail = String(describing: error)
            upstreamLatency = nil
            complete(extractCode: false)
        case .streaming:
            failing = true  // closing the connection below is no agent leaving (see `agentGone`)
            outcome = "aborted"
            detail = "response stream broke: the upstream's answer broke off: \(error)"
            handler.close()
            complete()
        case .recording, .done:
            break
        }
    }

    // MARK: from the connection

    /// The inbound connection can take more of a streamed answer.
    func writable() {
        writability?.succeed()
        writability = nil
    }

    /// The agent's connection is gone (reset, or found closed: a half-close is not this, an HTTP client may still read
    /// its answer after one). A call not yet forwarded is not forwarded (see `recorded`); one waiting for the upstream,
    /// or whose answer is being read or relayed, ends now: the upstream request is cancelled (as nginx does) and the call
    /// recorded `aborted`. It used to wait for the upstream's answer, up to 15 minutes, holding the upstream connection
    /// (session 13 probe).
    func agentGone() {
        if failing { return }
        agentLeft = true
        writable()
        switch mode {
        case .streaming:
            outcome = "aborted"
            detail = "response stream broke: the agent closed the connection"
            complete()
        case .waiting, .whole, .masking:
            outcome = "aborted"
            detail = status == 0
                ? "the agent closed the connection before the upstream answered; the request was forwarded (it may have run) and cancelled"
                : "the agent closed the connection before the upstream's answer (\(status)) was delivered"
            complete(extractCode: false)
        case .recording, .done:
            break
        }
    }

    // MARK: helpers

    private func finishMasked(tooLarge: Bool) {
        guard case .masking(let plan) = mode else { return }
        upstreamLatency = seconds(since: upstreamStart)
        gateway.metrics.recordUpstream(seconds: upstreamLatency!)
        let original = buffered.map { Array($0.readableBytesView) } ?? []
        let (withheld, result) = gateway.mask(original, tooLarge: tooLarge, plan: plan, headers: responseHeaders,
                                              upstreamCredential: upstreamCredential, ident: ident)
        errorPrefix = Array(original.prefix(65536))
        if let withheld {
            let e = AWSAuthError(code: "AccessDenied", message: "Tally gateway withheld the upstream response: \(withheld)",
                                 httpStatus: 403)
            writeError(e)
            outcome = "withheld"
            detail = "the upstream answered \(status) but its response was withheld: \(withheld)"
        } else {
            let out = GatewayHandler.maskedFields(fields, original: original, masked: result.body)
            handler.write(.head(HTTPResponse(status: .init(code: status), headerFields: out)))
            if !result.body.isEmpty { handler.write(.body(ByteBuffer(bytes: result.body))) }
            bytesOut = result.body.count
            masked = result.masked
            completeAfterEnd()
            return
        }
        complete()
    }

    /// Ends the answer, and completes the call once all of it is handed to the agent's socket: a connection that
    /// breaks before then makes the call `aborted`, and a graceful shutdown closes the connection (``callFinished``)
    /// only after the last byte is out (it closed with a streamed answer's tail still queued, cutting off a slow
    /// reader's download that the ledger recorded as complete; session 11 probe). Usually the write completes at
    /// once, inside the flush.
    private func completeAfterEnd() {
        guard let written = handler.writeEnd() else {
            agentLeft = true
            complete()
            return
        }
        written.whenComplete { [self] result in
            if case .failure = result { agentLeft = true }
            complete()
        }
    }

    private func writeError(_ error: AWSAuthError, close: Bool = false) {
        let (response, body) = GatewayHandler.errorResponse(error, proto: proto, ident: ident, requestId: context.callId, close: close)
        handler.write(.head(response))
        handler.write(.body(body))
        handler.write(.end(nil), flush: true)
        if close { handler.close() }
    }

    /// Records `call.completed` (deferred group commit), metrics and the log line; the connection goes on.
    private func complete(extractCode: Bool = true) {
        if case .done = mode { return }
        mode = .done
        if let abortToken { gateway.inFlight.remove(abortToken) }
        if !upstreamEnded { upstream?.cancel() }
        if agentLeft && outcome != "upstream-failure" && outcome != "aborted" {
            outcome = "aborted"
            // Past the drain limit the gateway closes connections itself (a slow reader's download was recorded as
            // the agent's doing; session 13 probe).
            detail = gateway.inFlight.expired ? "response stream broke: the gateway shut down (\(gateway.inFlight.reason)) before the answer was delivered"
                : "response stream broke: the agent closed the connection"
        }
        if extractCode && status >= 300 {
            errorCode = AWSErrorCode.extract(headerErrorType: responseHeaders.first(name: "x-amzn-ErrorType"),
                                             queryError: responseHeaders.first(name: "x-amzn-query-error"), body: errorPrefix)
        }
        let upstreamRequestId = responseHeaders.first(name: "x-amz-request-id") ?? responseHeaders.first(name: "x-amzn-RequestId")
        let completion = CallCompletion(outcome: outcome, status: status == 0 ? nil : status, errorCode: errorCode, detail: detail,
                                        upstreamRequestId: upstreamRequestId, latency: seconds(since: start),
                                        upstreamLatency: upstreamLatency, bytesIn: body?.count ?? 0, bytesOut: bytesOut,
                                        masked: masked, upstreamAttempts: upstream.map(\.attempts).flatMap { $0 > 1 ? $0 : nil })
        records.addCompleted(context, completion)
        let logger = gateway.logger
        gateway.metrics.recordCall(service: gateway.metricsService(context.service), outcome: completion.outcome, seconds: completion.latency,
                                   bytesIn: UInt64(completion.bytesIn), bytesOut: UInt64(completion.bytesOut))
        gateway.metrics.inFlight(-1)
        logger.info("call", metadata: [
            "callId": "\(context.callId)", "principal": "\(context.credential?.principal ?? "-")",
            "session": "\(context.credential?.sessionId ?? "-")",
            "service": "\(context.service ?? "-")", "operation": "\(context.operation ?? "-")",
            "status": "\(status)", "errorCode": "\(completion.errorCode ?? "-")",
            "outcome": "\(completion.outcome)", "latencyMs": "\(String(format: "%.3f", completion.latency * 1000))",
        ])
        gateway.background.leave()
        handler.callFinished(self)
    }
}
