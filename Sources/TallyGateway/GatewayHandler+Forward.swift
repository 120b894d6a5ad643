import AsyncHTTPClient
import Foundation
import Logging
import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTP1
import Synchronization
import TallyAWS
import TallyCore

extension GatewayHandler {
    /// Request headers not passed to the upstream: the agent's authentication (re-signed), hop-by-hop
    /// headers, and the framing headers the HTTP client sets itself.
    static let droppedRequestHeaders: Set<String> = [
        "host", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "connection",
        "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "expect", "content-length",
    ]
    /// `x-forwarded-*`, `forwarded` and `via`: proxy bookkeeping the agent must not set for the upstream.
    static func isProxyHeader(_ name: String) -> Bool {
        name.hasPrefix("x-forwarded-") || name == "forwarded" || name == "via" || name == "x-real-ip"
    }
    /// Response headers not passed back to the agent (hop-by-hop).
    static let droppedResponseHeaders: [String] = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Whether `name` is one of ``droppedResponseHeaders`` in any ASCII letter case (no lowered copy per header).
    static func isDroppedResponseHeader(_ name: String) -> Bool {
        droppedResponseHeaders.contains { asciiCaseInsensitiveEquals(name, $0) }
    }
    /// Largest upstream answer (by Content-Length) read whole and written in one go rather than streamed.
    static let coalescedResponseLimit = 64 << 10
    /// Query parameters of presigned (query) authentication, removed before re-signing with header auth.
    static let presignParameters = SigV4.presignQueryParameters

    /// The re-signed upstream request (built once `call.requested` is durable).
    struct UpstreamRequest: Sendable {
        var url: String
        /// Scheme, host and port of `url`, and its path and query (for ``UpstreamPool``).
        var origin: UpstreamOrigin
        var target: String
        var method: HTTPMethod
        var headers: HTTPHeaders
        /// The agent's aws-chunked body is decoded (and its chunk signatures checked) on the way.
        var decode: Bool
        /// The length of the body as forwarded.
        var length: HTTPClientRequest.Body.Length
        /// The agent's Content-Length.
        var declaredLength: Int64?
        /// The verified aws-chunked payload is re-framed as STREAMING-UNSIGNED-PAYLOAD-TRAILER (checksum trailer kept).
        var reencode = false
        /// The checksum an aws-chunked upload declares in its trailer.
        var trailerChecksum: AWSChecksumAlgorithm?
    }

    /// Re-signs the request with the upstream credential; ``forward`` sends it.
    func prepareUpstream(_ request: HTTPRequest, head: TallyAWS.HTTPRequestHead, auth: SigV4Auth, verified: VerifiedSigV4,
                         body: [UInt8]?, upstreamCredential: UpstreamCredential, ident: IdentifiedOperation?) -> UpstreamRequest {
        var up = TallyAWS.HTTPRequestHead(method: head.method, path: head.path,
                                 query: auth.isPresigned ? Self.stripPresign(head.query) : head.query, headers: [])
        let upstream = fixedUpstream ?? UpstreamTarget(configuration.upstream.baseURL(service: auth.service, region: auth.region))
        // Built here and set once: each append to `HTTPRequestHead.headers` would lower-case every name again.
        var upHeaders: [(name: String, value: String)] = [(name: "Host", value: upstream.authority)]
        let declaredLength = request.headerFields[.contentLength].flatMap { Int64($0) }
        var decode = false
        var reencode = false
        var dropExtra: Set<String> = []
        // The checksum an aws-chunked upload declares in its trailer (the handler refused an unknown one).
        let trailerChecksum = auth.payloadMode.isChunked
            ? (try? AWSChecksumAlgorithm.declaredTrailer(head.value(of: "x-amz-trailer"))) ?? nil : nil
        var payloadHash: String
        var length: HTTPClientRequest.Body.Length = declaredLength.map { .known($0) } ?? .unknown
        if let body {
            payloadHash = Hex.encode(SHA256.hash(body))
            length = .known(Int64(body.count))
        } else {
            switch auth.payloadMode {
            case .sha256(let h): payloadHash = h
            case .unsigned, .notDeclared: payloadHash = "UNSIGNED-PAYLOAD"
            case .streamingUnsignedTrailer: payloadHash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
            case .streamingSigned, .streamingSignedTrailer:
                // Chunk signatures are checked here and cannot be re-created by the upstream's key without
                // re-encoding: forward the verified payload as UNSIGNED-PAYLOAD with its decoded length.
                payloadHash = "UNSIGNED-PAYLOAD"
                decode = true
                dropExtra = ["x-amz-decoded-content-length", "x-amz-trailer"]
                let decoded = head.value(of: "x-amz-decoded-content-length").flatMap { Int64($0) }
                length = decoded.map { .known($0) } ?? .unknown
                if let checksum = trailerChecksum {
                    // The checksum trailer is kept: the verified payload is re-framed as aws-chunked
                    // STREAMING-UNSIGNED-PAYLOAD-TRAILER (fixed 64 KiB chunks, so the length is known in advance) and the
                    // trailer, checked here first, ends it; the upstream stores and checks the checksum as it would have.
                    payloadHash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
                    reencode = true
                    length = decoded.map { .known(Int64(AWSChunkedEncoder.encodedLength(
                        decodedLength: Int($0), mode: .streamingUnsignedTrailer,
                        trailers: [(checksum.headerName, String(repeating: "=", count: checksum.base64Length))]))) } ?? .unknown
                    dropExtra.insert("content-encoding")
                    upHeaders.append((name: "X-Amz-Trailer", value: checksum.headerName))
                    if let decoded { upHeaders.append((name: "X-Amz-Decoded-Content-Length", value: String(decoded))) }
                    let other = head.values(of: "content-encoding").flatMap { $0.split(separator: ",") }
                        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0.lowercased() != "aws-chunked" }
                    upHeaders.append((name: "Content-Encoding", value: (["aws-chunked"] + other).joined(separator: ",")))
                }
            }
        }
        // Only what the agent signed plus the transport allow-list (TallyAWS `forwardableHeaders`), and never the
        // agent's authentication, hop-by-hop, framing or proxy headers, signed or not (review finding 6).
        let identityEncoding = configuration.maskResponses
            && (!auth.isS3 || ResponseMasking.credentialFields(service: ident?.service, operation: ident?.operation) != nil)
        for h in verified.forwardableHeaders(of: head) {
            let name = h.name.lowercased()
            if Self.droppedRequestHeaders.contains(name) || dropExtra.contains(name) || Self.isProxyHeader(name) { continue }
            // Masking needs to read the response: no compressed answers where it may apply.
            if identityEncoding && name == "accept-encoding" { continue }
            if decode && name == "content-encoding" {
                let rest = h.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { $0.lowercased() != "aws-chunked" && !$0.isEmpty }
                if !rest.isEmpty { upHeaders.append((name: h.name, value: rest.joined(separator: ","))) }
                continue
            }
            upHeaders.append(h)
        }
        if identityEncoding { upHeaders.append((name: "Accept-Encoding", value: "identity")) }
        up.headers = upHeaders
        SigV4.sign(&up, credentials: AWSCredentials(accessKeyId: upstreamCredential.accessKeyId,
                                                    secretAccessKey: upstreamCredential.secretAccessKey,
                                                    sessionToken: upstreamCredential.sessionToken),
                   region: auth.region, service: auth.service, payloadHash: payloadHash, date: Date(), keyCache: keyCache)
        var headers = HTTPHeaders()
        headers.reserveCapacity(up.headers.count)
        for (name, value) in up.headers { headers.add(name: name, value: value) }
        return UpstreamRequest(url: upstream.baseURL + up.target, origin: upstream.origin, target: up.target,
                               method: HTTPMethod(rawValue: up.method),
                               headers: headers, decode: decode, length: length, declaredLength: declaredLength,
                               reencode: reencode, trailerChecksum: trailerChecksum)
    }

    /// Streams the prepared request to the upstream and the response back. Call only once `call.requested`
    /// is durable.
    func forward(request: Request, prepared: UpstreamRequest, head: TallyAWS.HTTPRequestHead, auth: SigV4Auth,
                 verified: VerifiedSigV4, body: [UInt8]?, upstreamCredential: UpstreamCredential, context: CallContext,
                 proto: AWSProtocol, ident: IdentifiedOperation?, start: ContinuousClock.Instant, channel: (any Channel)? = nil,
                 writer: consuming ResponseWriter) async -> CallCompletion {
        let decode = prepared.decode, reencode = prepared.reencode, trailerChecksum = prepared.trailerChecksum
        let tap: BodyTap
        // A streamed body is read by exactly one task, the pump (review finding 1), which holds back the last
        // bytes until the body is verified (finding 2); AsyncHTTPClient reads what the pump releases.
        var pump: (task: Task<BodyPump.End, Never>, pipe: BodyPipe)?
        var outboundBody: HTTPClientRequest.Body?
        var bufferedBody: ByteBuffer?
        if let body {
            tap = BodyTap(declaredSHA256: nil)
            let buffer = ByteBuffer(bytes: body)  // one copy, shared (copy-on-write) by the tap and the request
            tap.feed(buffer)
            if !body.isEmpty || head.method != "GET" { bufferedBody = buffer }
        } else {
            var transform: BodyTransform
            let decodedLength = head.value(of: "x-amz-decoded-content-length").flatMap { Int($0) }
            if decode {
                tap = BodyTap(declaredSHA256: nil)
                transform = BodyTransform(
                    tap: tap, decoder: AWSChunkedDecoder(mode: auth.payloadMode, verified: verified, decodedContentLength: decodedLength),
                    checksum: trailerChecksum.map(ChecksumTap.init),
                    encoder: reencode ? AWSChunkedEncoder(mode: .streamingUnsignedTrailer, context: nil) : nil)
                transform.budget = (bodyBudget, limit: configuration.maxBufferedBody)
            } else if auth.payloadMode == .streamingUnsignedTrailer {
                // Forwarded as the agent framed it (the upstream gets the trailer as sent), decoded on the side: the
                // framing, the decoded length and the trailer's checksum are checked before the last bytes go out.
                tap = BodyTap(declaredSHA256: nil)
                transform = BodyTransform(
                    tap: tap, decoder: AWSChunkedDecoder(mode: .streamingUnsignedTrailer, verified: nil, decodedContentLength: decodedLength),
                    passthrough: true, checksum: trailerChecksum.map(ChecksumTap.init))
            } else {
                if case .sha256(let h) = auth.payloadMode { tap = BodyTap(declaredSHA256: h) } else { tap = BodyTap(declaredSHA256: nil) }
                transform = BodyTransform(tap: tap, decoder: nil, checksum: Self.headerChecksumTap(ident, head: head))
            }
            let store = self.store, accessKeyId = auth.accessKeyId
            transform.keyCheck = {
                guard case .failure(let rejection) = store.lookup(accessKeyId, now: Date()) else { return nil }
                return Self.credentialError(rejection, expired: { .expiredToken(service: "s3", protocol: .restXML) }) {
                    AWSAuthError(code: "InvalidAccessKeyId", message: "The AWS access key Id you provided is no longer valid "
                                 + "(\(rejection)); the body was not completed upstream", httpStatus: 403)
                }
            }
            if decode || (prepared.declaredLength ?? 0) > 0 || request.head.headerFields[.transferEncoding] != nil {
                let pipe = BodyPipe()
                let requestBody = request.body
                pump = (Task { await BodyPump.run(requestBody, transform: transform, pipe: pipe) }, pipe)
                outboundBody = .stream(PipeBody(pipe: pipe), length: prepared.length)
            }
        }

        let upstreamStart = ContinuousClock.now
        let response: UpstreamResponse
        // Without a streamed body (most calls): the gateway's own keep-alive connections of this connection's event
        // loop (``UpstreamPool``), or AsyncHTTPClient's delegate API with the delegate on that loop
        // (TALLY_GATEWAY_UPSTREAM=ahc); either hands the response to an ``UpstreamExchange``. A streamed body goes
        // through AsyncHTTPClient's async API, which reads it from the pump.
        var exchange: (exchange: UpstreamExchange, cancel: @Sendable () -> Void)?
        // Graceful shutdown past its drain limit cuts the call off (``InFlightCalls``).
        let cutOff = CutOff()
        let abortToken = inFlight.add { cutOff.fire() }
        defer { inFlight.remove(abortToken) }
        // ... and so does the agent's connection closing (a reset) while the upstream has not answered.
        if let channel {
            agentConnections.set(channel) { cutOff.fire(byAgent: true) }
            // A reset while the call was read, verified or recorded found no hook: the call is not forwarded.
            if !channel.isActive { cutOff.fire(byAgent: true) }
        }
        defer { if let channel { agentConnections.remove(channel) } }
        do {
            if inFlight.expired { throw UpstreamConnectionError(description: "not forwarded: the gateway is shutting down") }
            if cutOff.byAgent { throw UpstreamConnectionError(description: "not forwarded: the agent's connection closed") }
            if pump == nil, let channel {
                let x = UpstreamExchange(eventLoop: channel.eventLoop, coalesceLimit: Self.coalescedResponseLimit)
                let deadline = NIODeadline.now() + .seconds(900)
                if let upstreamPool {
                    let call = upstreamPool.execute(
                        HTTPRequestHead(version: .http1_1, method: prepared.method, uri: prepared.target, headers: prepared.headers),
                        body: bufferedBody, origin: prepared.origin, on: channel.eventLoop, exchange: x, deadline: deadline)
                    exchange = (x, { call.cancel() })
                } else {
                    let outbound = try HTTPClient.Request(url: prepared.url, method: prepared.method, headers: prepared.headers,
                                                          body: bufferedBody.map { .byteBuffer($0) })
                    let task = x.start(outbound, on: client, deadline: deadline)
                    exchange = (x, { task.cancel() })
                }
                cutOff.set(exchange!.cancel)
                response = try await x.response()
            } else {
                var outbound = HTTPClientRequest(url: prepared.url)
                outbound.method = prepared.method
                outbound.headers = prepared.headers
                if let outboundBody { outbound.body = outboundBody } else if let bufferedBody { outbound.body = .bytes(bufferedBody) }
                // In a child task, so the drain limit can cancel it (AsyncHTTPClient stops the request on cancellation).
                let client = self.client
                let request = Task { try await client.execute(outbound, timeout: .seconds(900)) }
                cutOff.set { request.cancel() }
                response = UpstreamResponse(try await withTaskCancellationHandler {
                    try await request.value
                } onCancel: { request.cancel() })
            }
        } catch {
            if cutOff.byShutdown {
                logger.notice("call cut off by shutdown", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
                try? await writeError(Self.upstreamUnavailable(cutOff: true), proto: proto, ident: ident, requestId: context.callId, writer, close: true)
                if let pump { await BodyPump.settle(pump.task, pipe: pump.pipe, channel: channel) }
                return CallCompletion(outcome: "aborted", status: 503, errorCode: "ServiceUnavailable",
                                      detail: "the gateway shut down before the upstream answered (\(inFlight.reason)): \(error)",
                                      latency: seconds(since: start), bytesIn: tap.byteCount, bytesOut: 0)
            }
            let latency = seconds(since: start)
            if let failure = tap.failure {
                try? await writeError(failure, proto: proto, ident: ident, requestId: context.callId, writer, close: true)
                if let pump { await BodyPump.settle(pump.task, pipe: pump.pipe, channel: channel) }
                return CallCompletion(outcome: "aborted", status: failure.httpStatus, errorCode: failure.code,
                                      detail: "body verification failed; the upstream request was cancelled short of its length: "
                                        + failure.message, latency: latency, bytesIn: tap.byteCount, bytesOut: 0)
            }
            if let pump, pump.pipe.agentBodyBroke {
                // The agent's body broke off (its connection closed mid-upload): the agent's doing, not an upstream
                // failure (it was recorded as one, with an error log line and the upstream-failure metric; session 11
                // probe). Answered as S3 answers a body short of its Content-Length, in case the agent still reads.
                let e = AWSAuthError(code: "IncompleteBody", message: "The request body ended before its declared length "
                                     + "(the connection broke); the upstream request was cancelled", httpStatus: 400)
                try? await writeError(e, proto: proto, ident: ident, requestId: context.callId, writer, close: true)
                await BodyPump.settle(pump.task, pipe: pump.pipe, channel: channel)
                logger.info("agent body broke off", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
                return CallCompletion(outcome: "aborted", status: 400, errorCode: "IncompleteBody",
                                      detail: "the agent's body broke off after \(tap.byteCount) bytes; the upstream request was cancelled",
                                      latency: latency, bytesIn: tap.byteCount, bytesOut: 0)
            }
            if cutOff.byAgent {
                // Nobody to answer: the upstream request is cancelled (or never sent) and the call recorded as the agent
                // left it (after the two cases above, which say more: a body that failed its check, or broke off).
                if let pump { await BodyPump.settle(pump.task, pipe: pump.pipe, channel: channel) }
                return CallCompletion(outcome: "aborted", status: nil, errorCode: nil,
                                      detail: "the agent closed the connection before the upstream answered",
                                      latency: latency, bytesIn: tap.byteCount, bytesOut: 0)
            }
            logger.error("upstream request failed", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
            try? await writeError(Self.upstreamUnavailable(cutOff: false), proto: proto, ident: ident, requestId: context.callId, writer, close: true)
            if let pump { await BodyPump.settle(pump.task, pipe: pump.pipe, channel: channel) }
            return CallCompletion(outcome: "upstream-failure", status: 503, errorCode: "ServiceUnavailable",
                                  detail: String(describing: error), latency: latency, bytesIn: tap.byteCount, bytesOut: 0)
        }
        let upstreamLatency = seconds(since: upstreamStart)
        metrics.recordUpstream(seconds: upstreamLatency)
        let status = Int(response.status.code)
        let fields = Self.answerFields(response.headers)
        var errorPrefix: [UInt8] = []
        var bytesOut = 0
        var outcome = status < 300 ? "ok" : (status < 400 ? "ok" : "aws-error")
        var detail: String?
        var masked: [String] = []
        if let plan = maskPlan(ident: ident, method: head.method, status: status, headers: response.headers) {
            // Credential-minting responses and error bodies: buffered (capped), masked, then written.
            do {
                let w = try await writeMasked(response, plan: plan, status: status, fields: fields,
                                              upstreamCredential: upstreamCredential, callId: context.callId, proto: proto,
                                              ident: ident, writer: writer)
                bytesOut = w.bytesOut
                errorPrefix = w.prefix
                masked = w.masked
                if let why = w.withheld {
                    outcome = "withheld"
                    detail = "the upstream answered \(status) but its response was withheld: \(why)"
                }
            } catch {
                outcome = "aborted"
                detail = "response stream broke: \(error)"
            }
        } else if let length = response.headers.first(name: "content-length").flatMap({ Int($0) }),
                  length <= Self.coalescedResponseLimit {
            // A small answer of known length: read it whole, then head, body and end go out in one write
            // (one packet, as a proxy like nginx sends it) instead of one write per part.
            var whole: ByteBuffer?
            var broken: (any Error)?
            do {
                for try await buffer in response.body {
                    if whole == nil { whole = buffer } else { whole!.writeImmutableBuffer(buffer) }
                }
            } catch { broken = error }
            if let broken {
                // Nothing was sent yet: answer with an error rather than leave the agent waiting.
                outcome = "aborted"
                detail = "response stream broke: \(broken)"
                let e = AWSAuthError(code: "ServiceUnavailable", message: "Tally gateway lost the upstream response", httpStatus: 503)
                try? await writeError(e, proto: proto, ident: ident, requestId: context.callId, writer, close: true)
            } else {
                bytesOut = whole?.readableBytes ?? 0
                if status >= 300, let whole { errorPrefix = Array(whole.readableBytesView.prefix(65536)) }
                do {
                    try await writer.write(response: HTTPResponse(status: .init(code: status), headerFields: fields),
                                           body: whole.map { ResponseBody(byteBuffer: $0) } ?? ResponseBody())
                } catch {
                    outcome = "aborted"
                    detail = "response stream broke: \(error)"
                }
            }
        } else {
            do {
                var bodyWriter = try await writer.writeHead(HTTPResponse(status: .init(code: status), headerFields: fields))
                for try await buffer in response.body {
                    bytesOut += buffer.readableBytes
                    if status >= 300 && errorPrefix.count < 65536 { errorPrefix += buffer.readableBytesView.prefix(65536 - errorPrefix.count) }
                    try await bodyWriter.write(buffer)
                }
                try await bodyWriter.finish(nil)
            } catch {
                outcome = "aborted"
                detail = "response stream broke: \(error)"
            }
        }
        // The agent went away mid-stream (or the body was too large to mask): stop the upstream call.
        if let exchange, !exchange.exchange.isComplete { exchange.cancel() }
        if let pump, await !BodyPump.settle(pump.task, pipe: pump.pipe, channel: channel), detail == nil {
            detail = "the upstream answered before the agent's body ended; the rest of the body was not forwarded"
        }
        var errorCode = status >= 300
            ? AWSErrorCode.extract(headerErrorType: response.headers.first(name: "x-amzn-ErrorType"),
                                   queryError: response.headers.first(name: "x-amzn-query-error"), body: errorPrefix)
            : nil
        if let failure = tap.failure {
            // The upstream answered, but the agent's body failed verification (the upstream never got its end).
            outcome = "aborted"
            errorCode = failure.code
            detail = "body verification failed after the upstream answered \(status): " + failure.message
        }
        let upstreamRequestId = response.headers.first(name: "x-amz-request-id") ?? response.headers.first(name: "x-amzn-RequestId")
        return CallCompletion(outcome: outcome, status: status, errorCode: errorCode, detail: detail,
                              upstreamRequestId: upstreamRequestId, latency: seconds(since: start),
                              upstreamLatency: upstreamLatency, bytesIn: tap.byteCount, bytesOut: bytesOut, masked: masked)
    }

    /// The raw query without the presigned-auth parameters (nil when nothing is left).
    static func stripPresign(_ query: String?) -> String? {
        guard let query else { return nil }
        // Scans UTF-8 bytes (this runs per presigned request); a pair's name is what precedes its first `=`.
        var text = query
        return text.withUTF8 { bytes -> String? in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "&") { end += 1 }
                if end > start {
                    let pair = UnsafeBufferPointer(rebasing: bytes[start..<end])
                    var nameEnd = 0
                    while nameEnd < pair.count && pair[nameEnd] != UInt8(ascii: "=") { nameEnd += 1 }
                    if !isPresignParameter(UnsafeBufferPointer(rebasing: pair[..<nameEnd])) {
                        if !out.isEmpty { out.append(UInt8(ascii: "&")) }
                        out.append(contentsOf: pair)
                    }
                }
                start = end + 1
            }
            return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
        }
    }

    /// Whether a raw query parameter name is one of ``presignParameters`` once percent-decoded and lowercased.
    /// Plain ASCII names (the usual case) are compared byte by byte, ASCII case-insensitively; a name with a
    /// `%` or any non-ASCII byte takes the general path (decode, Unicode lowercasing), so the answer is the same.
    static func isPresignParameter(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        if name.contains(where: { $0 == UInt8(ascii: "%") || $0 >= 0x80 }) {
            return presignParameters.contains(URIEncoding.decode(String(decoding: name, as: UTF8.self)).lowercased())
        }
        guard name.count >= 10, name.count <= 20,
              name[0] | 0x20 == UInt8(ascii: "x"), name[1] == UInt8(ascii: "-") else { return false }
        for candidate in presignParameterBytes where candidate.count == name.count {
            var same = true
            for i in 0..<name.count {
                let c = name[i]
                let lower = c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
                if lower != candidate[i] { same = false; break }
            }
            if same { return true }
        }
        return false
    }

    /// ``presignParameters`` as UTF-8 bytes.
    static let presignParameterBytes: [[UInt8]] = presignParameters.map { Array($0.utf8) }
}

extension GatewayHandler {
    /// The 503 an agent gets when its call got no upstream answer: the upstream failed, or graceful shutdown's drain
    /// limit cut the call off (both paths, plain and task, answer the same).
    static func upstreamUnavailable(cutOff: Bool, requestSent: Bool = false) -> AWSAuthError {
        AWSAuthError(code: "ServiceUnavailable", message: cutOff ? "Tally gateway is shutting down; the call was cut off"
                        : requestSent ? "Tally gateway sent the call but got no complete answer from the upstream: the call may have run upstream"
                        : "Tally gateway could not reach the upstream", httpStatus: 503)
    }
}

/// The way to cut off one task-path call at graceful shutdown's drain limit: its upstream request's cancel, once
/// there is one; firing before that makes it cancel as soon as it is set.
final class CutOff: Sendable {
    private enum Cause { case shutdown, agent }
    private let state = Mutex<(cause: Cause?, cancel: (@Sendable () -> Void)?)>((nil, nil))

    func set(_ cancel: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            s.cancel = cancel
            return s.cause != nil
        }
        if now { cancel() }
    }

    /// Cuts the call off: for shutdown (the drain limit, a second signal), or `byAgent` when the agent's connection
    /// closed under it. The first reason is kept.
    func fire(byAgent: Bool = false) {
        let cancel = state.withLock { s -> (@Sendable () -> Void)? in
            if s.cause == nil { s.cause = byAgent ? .agent : .shutdown }
            return s.cancel
        }
        cancel?()
    }

    /// Cut off for shutdown.
    var byShutdown: Bool { state.withLock { $0.cause == .shutdown } }
    /// Cut off because the agent's connection closed.
    var byAgent: Bool { state.withLock { $0.cause == .agent } }
}

/// Cut-offs of the calls the responder (``GatewayHandler/respond``) is forwarding, by the agent's connection: when
/// the connection closes (``PlainCallHandler/channelInactive(context:)``: a reset, not a half-close), its call's
/// upstream request is cancelled at once and the call recorded `aborted`, as a plain call's is (it waited for the
/// upstream's answer, up to 15 minutes, holding the upstream connection).
final class AgentConnections: Sendable {
    private let hooks = Mutex<[ObjectIdentifier: @Sendable () -> Void]>([:])

    func set(_ channel: any Channel, _ hook: @escaping @Sendable () -> Void) {
        hooks.withLock { $0[ObjectIdentifier(channel)] = hook }
    }

    func remove(_ channel: any Channel) { _ = hooks.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }

    /// The agent's connection closed: cuts off the call forwarded for it, if any.
    func closed(_ channel: any Channel) {
        hooks.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }?()
    }
}
