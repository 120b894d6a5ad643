import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import TallyAWS
import TallyCore
import TallyIAM

/// The per-request pipeline: authenticate (SigV4 with a Tally credential) → identify → IAM actions and ARNs
/// → guardrails → durable `call.requested` → re-sign → forward (bodies streamed) → `call.completed`.
final class GatewayHandler: Sendable {
    let configuration: GatewayConfiguration
    let store: CredentialStore
    let identifier: OperationIdentifier
    let mapping: APIMapping
    let recorder: CallRecorder
    let flusher: RegistryEventFlusher
    let background = BackgroundRecords()
    /// Calls in flight upstream, cut off when graceful shutdown passes its drain limit.
    let inFlight = InFlightCalls()
    /// The calls the responder forwards, by agent connection, to cut off when it closes.
    let agentConnections = AgentConnections()
    /// Plain calls' `call.requested` records, grouped per event-loop pass (``PlainCallRecords``).
    let plainRecords: PlainCallRecordQueues
    let bodyBudget = BodyBudget()
    /// Derived SigV4 signing keys (four HMACs each), per secret, day, region and service.
    let keyCache = SigningKeyCache()
    let identity: UpstreamIdentity
    let client: HTTPClient
    /// Upstream connections for calls without a streamed body (nil: AsyncHTTPClient for those too).
    let upstreamPool: UpstreamPool?
    let metrics: GatewayMetrics
    let logger: Logger
    /// A fixed upstream's Host, base URL and pool key, computed once (nil for `aws`: per service and region).
    let fixedUpstream: UpstreamTarget?

    init(configuration: GatewayConfiguration, store: CredentialStore, identifier: OperationIdentifier, mapping: APIMapping,
         recorder: CallRecorder, identity: UpstreamIdentity, client: HTTPClient, upstreamPool: UpstreamPool? = nil,
         metrics: GatewayMetrics, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.identifier = identifier
        self.mapping = mapping
        self.recorder = recorder
        self.flusher = RegistryEventFlusher(paths: GatewayPaths(home: configuration.home), recorder: recorder, store: store)
        self.identity = identity
        self.client = client
        self.upstreamPool = upstreamPool
        self.metrics = metrics
        self.logger = logger
        self.plainRecords = PlainCallRecordQueues(recorder: recorder, background: background, logger: logger)
        if case .fixed(let url) = configuration.upstream { fixedUpstream = UpstreamTarget(url) } else { fixedUpstream = nil }
    }

    /// The `service` label of a call's metrics: the credential scope's service (or the identified one) when the model
    /// knows it, else `other`. The scope is read before the key or signature is checked: 2,000 unauthenticated requests
    /// with made-up service names made 2,000 series (session 13 probe).
    func metricsService(_ service: String?) -> String {
        guard let service else { return "-" }
        return identifier.knowsService(service) ? service : "other"
    }

    /// A refusal decided before forwarding.
    struct Refusal: Error {
        var error: AWSAuthError
        var stage: String
        var reason: String
        /// The denial's `reason` label in the metrics when not `stage`.
        var metricsReason: String? = nil
    }

    /// The refusal for a key the store rejects, in the error the SDK expects.
    func credentialRefusal(_ rejection: CredentialRejection, head: TallyAWS.HTTPRequestHead, parsed: SigV4Auth) -> Refusal {
        let signedFor = { self.identifier.identify(head, signingName: parsed.service, region: parsed.region, body: nil).protocol }
        let e = Self.credentialError(rejection, expired: { .expiredToken(service: parsed.service, protocol: signedFor()) }) {
            .unknownAccessKey(service: parsed.service, protocol: signedFor())
        }
        // A registry that cannot be read refuses every key: its own metrics reason, so that it can be alerted on (it
        // was counted with bad signatures as "authentication"; session 13 probe).
        var refusal = Refusal(error: e, stage: "authentication", reason: rejection.description)
        if case .registryUnreadable = rejection { refusal.metricsReason = "registry" }
        return refusal
    }

    /// The AWS error for a key the store rejects: `expired` for an expired one, a 503 while the registry cannot be read
    /// (fail closed, but as a transient server-side fault the SDK retries), else `unknownKey` (an unknown or revoked key).
    static func credentialError(_ rejection: CredentialRejection, expired: () -> AWSAuthError,
                                unknownKey: () -> AWSAuthError) -> AWSAuthError {
        switch rejection {
        case .expired: return expired()
        case .registryUnreadable:
            return AWSAuthError(code: "ServiceUnavailable", message: "Tally gateway cannot read its credential registry", httpStatus: 503)
        default: return unknownKey()
        }
    }

    /// Handles one request end to end, writing the response.
    func respond(_ request: Request, _ writer: consuming ResponseWriter, channel: any Channel) async throws {
        if request.head.path?.hasPrefix("/_tally/") == true, Self.isInternalRequest(request.head) {
            try await serveInternal(request, writer)
            return
        }
        let start = ContinuousClock.now
        metrics.inFlight(1)
        defer { metrics.inFlight(-1) }
        let head = Self.makeHead(request.head)
        var context = CallContext(callId: Self.newCallId(), method: head.method, path: head.path)
        if let remote = channel.remoteAddress?.ipAddress { context.sourceAddress = remote }
        var proto = Self.guessProtocol(head)
        var ident: IdentifiedOperation?
        var body: [UInt8]? = nil
        var auth: SigV4Auth?
        var verified: VerifiedSigV4?

        do {
            // 1. parse the signature
            let parsed: SigV4Auth
            do throws(AWSAuthError) { parsed = try SigV4.parse(head) } catch {
                // Refused before the signature could be read whole (an unsigned or repeated x-amz-* header, a malformed
                // scope): still linked to the key it names, as a wrong signature is, so `replay` and `sessions list`
                // show the attempt under that principal; and answered in the format of the service its scope names
                // (a Lambda caller got S3's XML; session 11 probe).
                let claimed = SigV4.claimedScope(head)
                if let claimed {
                    context.accessKeyId = claimed.accessKeyId
                    context.credential = store.credential(claimed.accessKeyId)
                    if let service = claimed.service {
                        context.service = service
                        context.region = claimed.region
                        let guessed = identifier.identify(head, signingName: service, region: claimed.region ?? "us-east-1", body: nil)
                        ident = guessed
                        proto = guessed.protocol
                    }
                }
                if error.code == "MissingAuthenticationToken", claimed == nil, Self.looksLikeS3(head, guessed: proto) {
                    let e = AWSAuthError.accessDenied("Anonymous requests are not accepted by the Tally gateway: sign with a "
                                                      + "credential it issued (tally credentials issue)")
                    throw Refusal(error: e, stage: "authentication", reason: error.message)
                }
                throw Refusal(error: error, stage: "authentication", reason: error.message)
            }
            auth = parsed
            context.accessKeyId = parsed.accessKeyId
            context.region = parsed.region
            context.service = parsed.service
            // A transfer coding other than chunked (`gzip, chunked`) is refused, as RFC 9112 §6.1 has a server do with
            // one it does not implement: the HTTP layer removes only the chunked framing, so the body would be
            // verified and forwarded as its still-coded bytes.
            if let coding = request.head.headerFields[.transferEncoding], coding.lowercased().trimmingCharacters(in: .whitespaces) != "chunked" {
                throw Refusal(error: AWSAuthError(code: "NotImplemented", message: "Transfer-Encoding '\(coding)' is not supported by the Tally gateway: only chunked", httpStatus: 501),
                              stage: "request", reason: "Transfer-Encoding \(coding)")
            }
            // 2. the credential
            let now = Date()
            let found: (credential: IssuedCredential, secret: String)
            switch store.lookup(parsed.accessKeyId, now: now) {
            case .success(let f): found = f
            case .failure(let rejection):
                context.credential = store.credential(parsed.accessKeyId)
                throw credentialRefusal(rejection, head: head, parsed: parsed)
            }
            context.credential = found.credential
            if found.credential.issuanceRecorded == false {
                // Issued while this gateway held the ledger: record the issuance before the first use.
                do { try await flusher.flush(force: true) } catch {
                    throw Refusal(error: AWSAuthError(code: "ServiceUnavailable",
                                                      message: "Tally gateway could not record the credential's issuance", httpStatus: 503),
                                  stage: "ledger", reason: "credential.issued not recorded: \(error)")
                }
            }
            // 3. the body (buffered unless S3) and the signature
            // S3 bodies stream, except small ones with a known length (buffered: hashed here, and replayable
            // if the HTTP client retries on a closed pooled connection). Other services' bodies are buffered.
            let streaming = parsed.isS3 && !Self.isSmallPlainBody(request.head, mode: parsed.payloadMode)
            if !streaming {
                try checkBufferedLength(request.head)  // 413 before 100-continue and before reading (finding 8)
                if request.head.headerFields[.expect]?.lowercased() == "100-continue" {
                    // As S3 does, a request whose signature does not need the body is refused before the agent is
                    // asked for the body (it was sent 100 Continue, uploaded its body, and only then was refused).
                    try verifyBeforeBody(head, parsed: parsed, secret: found.secret, now: now)
                    try await writer.writeInformationalHead(HTTPResponse(status: .continue))
                }
                body = try await collectBufferedBody(request, budget: bodyBudget)  // gateway-wide: 503 SlowDown when full
                // The body may have taken long to arrive (a byte at a time, within the idle timeout): the key must
                // still be valid now, when the call is decided, not only when its head came (a revocation or expiry
                // in between is in force).
                if case .failure(let rejection) = store.lookup(parsed.accessKeyId, now: Date()) {
                    throw credentialRefusal(rejection, head: head, parsed: parsed)
                }
            }
            verified = try authorize(head, parsed: parsed, secret: found.secret, body: body, now: now, context: &context,
                                     ident: &ident, proto: &proto)
        } catch let refusal as Refusal {
            if ident == nil, let auth {
                // The error format of the service the request was signed for (identified only when refusing).
                let guessed = identifier.identify(head, signingName: auth.service, region: auth.region, body: body)
                ident = guessed
                proto = guessed.protocol
            }
            try await deny(refusal, context: context, proto: proto, ident: ident, start: start, writer)
            return
        }
        guard let auth, let verified, let credential = context.credential else { return }

        // 6. the upstream identity, then the durable record of the request (fail closed)
        let upstreamCredential: UpstreamCredential
        do {
            upstreamCredential = try await identity.credential(for: credential, region: auth.region)
        } catch {
            let e = AWSAuthError(code: "ServiceUnavailable", message: "Tally gateway could not obtain the upstream credential", httpStatus: 503)
            logger.error("upstream credential unavailable", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
            try await deny(Refusal(error: e, stage: "upstream-credential", reason: "\(error)"), context: context, proto: proto,
                           ident: ident, start: start, writer)
            return
        }
        context.upstreamIdentity = upstreamCredential.identityARN ?? credential.role ?? identity.baseARN ?? upstreamCredential.accessKeyId
        context.payloadMode = auth.payloadMode.literal ?? "sha256(body)"
        do {
            try await recorder.record(context.requestedEvent())
        } catch {
            logger.error("ledger commit failed: failing closed", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
            metrics.recordDenial(reason: "ledger")
            metrics.recordCall(service: metricsService(context.service), outcome: "denied", seconds: seconds(since: start))
            let e = AWSAuthError(code: "ServiceUnavailable",
                                 message: "Tally gateway could not durably record the call; it was not forwarded", httpStatus: 503)
            try await writeError(e, proto: proto, ident: ident, requestId: context.callId, writer)
            return
        }

        // 7. forward (a streamed body is asked for now; a buffered one was asked for, once, before it was read: S3's
        // small bodies got a second 100 Continue here, session 11 probe)
        if request.head.headerFields[.expect]?.lowercased() == "100-continue" && body == nil {
            try await writer.writeInformationalHead(HTTPResponse(status: .continue))
        }
        let prepared = prepareUpstream(request.head, head: head, auth: auth, verified: verified, body: body,
                                       upstreamCredential: upstreamCredential, ident: ident)
        let completion = await forward(request: request, prepared: prepared, head: head, auth: auth, verified: verified, body: body,
                                       upstreamCredential: upstreamCredential, context: context, proto: proto,
                                       ident: ident, start: start, channel: channel, writer: writer)
        // Recorded after the response, committed with the next group commit (write-ahead needs only
        // call.requested durable before forwarding); graceful shutdown waits until it is durable.
        let logger = self.logger, callId = context.callId
        do {
            recorder.recordDeferred(try context.completedEvent(completion), background: background) { error in
                logger.error("ledger commit of call.completed failed", metadata: ["callId": "\(callId)", "error": "\(error)"])
            }
        } catch {
            logger.error("call.completed could not be built", metadata: ["callId": "\(callId)", "error": "\(error)"])
        }
        metrics.recordCall(service: metricsService(context.service), outcome: completion.outcome, seconds: completion.latency,
                           bytesIn: UInt64(completion.bytesIn), bytesOut: UInt64(completion.bytesOut))
        logger.info("call", metadata: [
            "callId": "\(context.callId)", "principal": "\(credential.principal)", "session": "\(credential.sessionId)",
            "service": "\(context.service ?? "-")", "operation": "\(context.operation ?? "-")",
            "status": "\(completion.status.map(String.init) ?? "-")", "errorCode": "\(completion.errorCode ?? "-")",
            "outcome": "\(completion.outcome)", "latencyMs": "\(String(format: "%.3f", completion.latency * 1000))",
        ])
    }

    /// Checks the signature of a request whose payload hash is known without its body (S3: a declared
    /// `x-amz-content-sha256`, a payload-mode literal, a presigned URL); other requests are checked once their body is
    /// in (``authorize`` checks every request again, with the body). Throws a ``Refusal``.
    func verifyBeforeBody(_ head: TallyAWS.HTTPRequestHead, parsed: SigV4Auth, secret: String, now: Date) throws {
        guard let payloadHash = parsed.payloadHashForVerification(bodySHA256Hex: nil) else { return }
        _ = try verifySignature(head, parsed: parsed, secret: secret, payloadHash: payloadHash, now: now)
    }

    /// ``SigV4/verify`` with the gateway's key cache; a failure is an authentication ``Refusal``.
    func verifySignature(_ head: TallyAWS.HTTPRequestHead, parsed: SigV4Auth, secret: String, payloadHash: String,
                         now: Date) throws -> VerifiedSigV4 {
        let verified: VerifiedSigV4
        do throws(AWSAuthError) {
            verified = try SigV4.verify(head, auth: parsed, secretAccessKey: secret, payloadHash: payloadHash, now: now, keyCache: keyCache)
        } catch {
            throw Refusal(error: error, stage: "authentication", reason: error.message)
        }
        // Tally's credentials have no session token. One sent along (signed) belongs to another credential — typically
        // an AWS_SESSION_TOKEN left in the agent's environment — and AWS refuses a token that is not the key's; it was
        // ignored (session 13 probe).
        if parsed.securityToken != nil {
            throw Refusal(error: .invalidToken(service: parsed.service, hint: "Tally credentials have no session token: "
                                               + "unset AWS_SESSION_TOKEN (or aws_session_token) where the agent runs."),
                          stage: "authentication", reason: "a session token was sent with a Tally credential, which has none")
        }
        return verified
    }

    /// Steps 3–6 of a call once its credential is known and its body (if buffered) read: the payload hash and the
    /// signature, the declared trailer, identification and IAM permissions, the buffered body's checksum header,
    /// fail-closed identification and the guardrails. Fills `context`, `ident` and `proto` as it goes (a refusal
    /// after identification is answered in the identified protocol). Throws a ``Refusal``; does not record.
    func authorize(_ head: TallyAWS.HTTPRequestHead, parsed: SigV4Auth, secret: String, body: [UInt8]?, now: Date,
                   context: inout CallContext, ident: inout IdentifiedOperation?, proto: inout AWSProtocol) throws -> VerifiedSigV4 {
        let verified: VerifiedSigV4
        let bodyHash = body.map { Hex.encode(SHA256.hash($0)) }
        guard let payloadHash = parsed.payloadHashForVerification(bodySHA256Hex: bodyHash) else {
            throw Refusal(error: .invalidRequest("x-amz-content-sha256 is required for \(parsed.service) requests"),
                          stage: "authentication", reason: "no payload hash")
        }
        if case .sha256(let declared) = parsed.payloadMode, let bodyHash, bodyHash != declared {
            throw Refusal(error: .contentSHA256Mismatch(provided: declared, computed: bodyHash), stage: "authentication",
                          reason: "x-amz-content-sha256 does not match the body")
        }
        verified = try verifySignature(head, parsed: parsed, secret: secret, payloadHash: payloadHash, now: now)
        // Outside S3 the signature covers the path's normal form (dot segments and empty segments removed) while the
        // call would be identified and forwarded as sent: `/2015-03-31/functions/victim/aliases/..`, signed as
        // DeleteFunction, was recorded and checked as DeleteAlias (session 13 probe). SDKs send normal paths.
        if !parsed.isS3, !SigV4.isNormalPath(head.path) {
            let why = "the path \(head.path) has dot segments or empty segments; send its normal form (an endpoint URL "
                + "ending in '/' makes some SDKs send '//')"
            throw Refusal(error: .invalidRequest("Tally gateway refuses a path that is not in normal form: \(why)"),
                          stage: "identification", reason: why)
        }
        if parsed.payloadMode.isChunked {
            // The checksum an aws-chunked upload's trailer will carry: one S3 defines, or the request is refused.
            do throws(AWSAuthError) { _ = try AWSChecksumAlgorithm.declaredTrailer(head.value(of: "x-amz-trailer")) } catch {
                throw Refusal(error: error, stage: "request", reason: error.message)
            }
        }
        // 4. identification and IAM permissions
        let identified = identifier.identify(head, signingName: parsed.service, region: parsed.region, body: body)
        ident = identified
        proto = identified.protocol
        context.service = identified.service
        context.operation = identified.operation
        if let operation = identified.operation {
            // A JSON body goes along for the operations whose permissions depend on what is inside it (DynamoDB's
            // TransactWriteItems: PutItem, UpdateItem, ... per element, on each element's table; a role passed deep in
            // the body: iam:PassRole). The mapping parses it only for those.
            let result = mapping.permissions(for: APIRequestContext(
                service: identified.service, operation: operation, parameters: identified.parameters,
                region: identified.region, account: configuration.account,
                jsonBody: identified.protocol == .json || identified.protocol == .restJSON ? body : nil,
                api: identified.modelName))
            context.permissions = result.permissions
            context.mapped = result.mapped
            context.provenance = result.provenance
            // Which actions this call needs depends on a member of its JSON body: a body Tally cannot read (compressed,
            // not a JSON object, a duplicate key or lone surrogate its parser refuses) had no members, so the test saw
            // nothing and the action was missed, while the upstream may read it (session 10 re-probe: a duplicate
            // "Statement" got a PartiQL INSERT past a PartiQLInsert deny; a repeated "family" an ECS task role past an
            // iam:PassRole deny).
            // A query-compatible service (SQS, CloudWatch) also takes the query protocol from older SDKs: then the
            // members are the form's parameters, always read (a form CreateQueue or GetQueueUrl was refused as an
            // unreadable JSON body; session 15 probe). Any other body of such an operation (JSON, CBOR, a form to a
            // JSON-only service) must still read as one JSON object.
            if result.readsBody, !(identified.protocol == .query && identified.queryCompatible),
               let why = Self.unreadableJSONBody(head: head, body: body) {
                throw Refusal(error: .accessDenied("Tally gateway refuses a request it cannot identify exactly: \(why), and its IAM actions depend on it"),
                              stage: "identification", reason: why)
            }
        }
        // An object upload's x-amz-checksum-* header is checked against a buffered body here (a streamed one as it streams).
        do throws(AWSAuthError) { try Self.checkHeaderChecksum(identified, head: head, body: body) } catch {
            throw Refusal(error: error, stage: "request", reason: error.message)
        }
        // 5. fail closed where the upstream could read the request differently than Tally did: an operation
        // the model knows but the request names inexactly (e.g. Action=createUser), a service guessed from the
        // Host, a virtual-hosted bucket Host the upstream would not see; and, under deny rules, any request
        // whose operation (hence IAM actions) is unknown.
        if case .aws = configuration.upstream, identified.modelName == nil || !UpstreamEndpoint.isAWSRegion(parsed.region) {
            // With --upstream aws the scope names the host ({service}.{region}.amazonaws.com): only a service of the model
            // and a region shaped like AWS's go out (`s3` as a region made `attackerbucket.s3.amazonaws.com`, an S3
            // bucket anyone can own, the host: session 9 re-probe).
            let why = identified.modelName == nil ? "the credential scope's service \(parsed.service) is not one Tally knows"
                : "the credential scope's region \(parsed.region) is not an AWS region name"
            throw Refusal(error: .accessDenied("Tally gateway refuses to forward this call to AWS: \(why)"),
                          stage: "identification", reason: why)
        }
        if identified.isUnidentifiedKnownOperation || identified.serviceFromHost || identified.ignoredVirtualHostedBucket
            || (identified.operation == nil && !configuration.guardrails.denyRules.isEmpty) {
            let why = identified.unidentifiedReason
                ?? (identified.ignoredVirtualHostedBucket ? "a virtual-hosted bucket Host is not supported (address S3 path-style: "
                    + "AWS CLI s3.addressing_style = path, SDK forcePathStyle / use_path_style)"
                    : identified.serviceFromHost ? "the service is not named by the credential scope"
                    : "the operation could not be identified")
            throw Refusal(error: .accessDenied("Tally gateway refuses a request it cannot identify exactly: \(why)"),
                          stage: "identification", reason: why)
        }
        // The built-in guardrails read the request of services they know; a service Tally does not know (or a
        // signing name in another case, `IAM`) would pass them all unread (session 9 probe).
        if identified.modelName == nil, !configuration.guardrails.builtinRules.isEmpty {
            let why = "the credential scope's service \(parsed.service) is not one Tally knows, so its built-in guardrails cannot apply"
            throw Refusal(error: .accessDenied("Tally gateway refuses a request it cannot identify exactly: \(why)"),
                          stage: "identification", reason: why)
        }
        // 6. guardrails. An operation the IAM mapping does not cover is matched as `service:Operation` (most IAM action
        // names are the operation's), so a rule such as `dynamodb:*` still denies it (session 9 probe).
        // The IAM prefix can differ from the signing name (CloudWatch signs as monitoring): both are tried, and the
        // model's name (cloudwatch).
        let denyActions = context.permissions.isEmpty
            ? identified.operation.map { op in
                Array(Set([identified.service, identified.modelName ?? identified.service].map { "\($0):\(op)" })).sorted()
            } ?? []
            : context.permissions.map { (p: RequiredPermission) in p.action }
        if let (rule, action) = configuration.guardrails.denial(for: denyActions)
            ?? builtinRequestDenial(identified, permissions: context.permissions, head: head, body: body) {
            throw Refusal(error: .accessDenied("Tally guardrail denies \(action) (rule \(rule.actionPattern)\(rule.reason.map { ": \($0)" } ?? ""))"),
                          stage: "guardrail", reason: "deny rule \(rule.actionPattern) matched \(action)\(rule.reason.map { ": \($0)" } ?? "")")
        }
        return verified
    }

    /// Records `call.denied` and answers with the AWS-style error in the protocol's format.
    private func deny(_ refusal: Refusal, context: CallContext, proto: AWSProtocol, ident: IdentifiedOperation?,
                      start: ContinuousClock.Instant, _ writer: consuming ResponseWriter) async throws {
        metrics.recordDenial(reason: refusal.metricsReason ?? refusal.stage)
        metrics.recordCall(service: metricsService(context.service), outcome: "denied", seconds: seconds(since: start))
        do {
            try await recorder.record(context.deniedEvent(stage: refusal.stage, code: refusal.error.code,
                                                          status: refusal.error.httpStatus, reason: refusal.reason))
        } catch {
            logger.error("ledger commit of call.denied failed", metadata: ["callId": "\(context.callId)", "error": "\(error)"])
        }
        logger.notice("denied", metadata: [
            "callId": "\(context.callId)", "stage": "\(refusal.stage)", "code": "\(refusal.error.code)",
            "accessKeyId": "\(context.accessKeyId ?? "-")", "reason": "\(refusal.reason)",
        ])
        try await writeError(refusal.error, proto: proto, ident: ident, requestId: context.callId, writer, close: true)
    }

    func writeError(_ error: AWSAuthError, proto: AWSProtocol, ident: IdentifiedOperation?, requestId: String,
                    _ writer: consuming ResponseWriter, close: Bool = false) async throws {
        let (response, body) = Self.errorResponse(error, proto: proto, ident: ident, requestId: requestId, close: close)
        try await writer.write(response: response, body: ResponseBody(byteBuffer: body))
    }

    /// The AWS-style error answer in the protocol's format (with `Connection: close` when `close`).
    static func errorResponse(_ error: AWSAuthError, proto: AWSProtocol, ident: IdentifiedOperation?, requestId: String,
                              close: Bool = false) -> (HTTPResponse, ByteBuffer) {
        let rendered = AWSErrorRenderer.render(error, protocol: proto, requestId: requestId,
                                               queryCompatible: ident?.queryCompatible ?? false, jsonVersion: ident?.jsonVersion)
        var fields = HTTPFields()
        for (name, value) in rendered.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        fields[.contentLength] = String(rendered.body.count)
        // AWS sends Date on every answer; SDKs that correct their clock after RequestTimeTooSkewed (Java v2, Go v2,
        // JavaScript v3) read it from the refusal, so a drifted agent recovers instead of failing every call.
        fields[.date] = AmzDate.formatHTTPDate(Date())
        if close { fields[.connection] = "close" }
        return (HTTPResponse(status: .init(code: rendered.status), headerFields: fields), ByteBuffer(bytes: rendered.body))
    }

    /// Health and metrics.
    private func serveInternal(_ request: Request, _ writer: consuming ResponseWriter) async throws {
        let text: String
        var fields = HTTPFields()
        switch request.head.path?.split(separator: "?").first {
        case "/_tally/health":
            // Ready only while keys can be checked: with the registry unreadable every call is refused 503, and the
            // health check said "ok" (session 13 probe). It stays open, so it names no file and no error.
            fields[.contentType] = "application/json"
            if !store.registryUsable {
                text = "{\"status\":\"unavailable\",\"reason\":\"the credential registry cannot be read or trusted: every call is refused\"}\n"
                fields[.contentLength] = String(text.utf8.count)
                try await writer.write(response: HTTPResponse(status: .serviceUnavailable, headerFields: fields),
                                       body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
                return
            }
            text = "{\"status\":\"ok\"}\n"
        case "/_tally/metrics":
            guard metricsAuthorized(request.head) else { try await refuseMetrics(writer); return }  // review finding 13
            text = metrics.render()
            fields[.contentType] = "text/plain; version=0.0.4"
        default:
            text = "not found\n"
            fields[.contentLength] = String(text.utf8.count)
            try await writer.write(response: HTTPResponse(status: .notFound, headerFields: fields),
                                   body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            return
        }
        fields[.contentLength] = String(text.utf8.count)
        try await writer.write(response: HTTPResponse(status: .ok, headerFields: fields), body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The request as it arrived: method, raw target, headers in order (Host restored from the authority).
    static func makeHead(_ request: HTTPRequest) -> TallyAWS.HTTPRequestHead {
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(request.headerFields.count + 1)
        if let authority = request.authority { headers.append((name: "host", value: authority)) }
        for field in request.headerFields { headers.append((name: field.name.rawName, value: field.value)) }
        return TallyAWS.HTTPRequestHead(method: request.method.rawValue, target: request.path ?? "/", headers: headers)
    }

    /// Largest S3 body buffered instead of streamed.
    static let smallBodyLimit = 1 << 20

    /// True for an S3 body that is small, of known length and not aws-chunked.
    static func isSmallPlainBody(_ head: HTTPRequest, mode: SigV4PayloadMode) -> Bool {
        guard !mode.isChunked, head.headerFields[.transferEncoding] == nil,
              let length = head.headerFields[.contentLength].flatMap({ Int($0) }) else { return false }
        return length <= smallBodyLimit
    }

    /// The error format to use before the request is identified.
    static func guessProtocol(_ head: TallyAWS.HTTPRequestHead) -> AWSProtocol {
        if head.value(of: "x-amz-target") != nil { return .json }
        if let type = head.value(of: "content-type")?.lowercased() {
            if type.containsBytes("x-www-form-urlencoded") { return .query }
            if type.containsBytes("json") { return .restJSON }
        }
        // A query API called with GET (`/?Action=ListUsers&...`): its SDK reads an <ErrorResponse>.
        if let query = head.query, query.hasPrefix("Action=") || query.containsBytes("&Action=") { return .query }
        return .restXML
    }

    /// Whether an unsigned request looks like an S3 one (REST-XML without a dated API version as its first path
    /// segment, which Route 53 and CloudFront paths have): S3 refuses anonymous requests as `AccessDenied`, having no
    /// `MissingAuthenticationToken` code.
    static func looksLikeS3(_ head: TallyAWS.HTTPRequestHead, guessed: AWSProtocol) -> Bool {
        guard guessed == .restXML else { return false }
        let first = head.path.utf8.dropFirst().prefix { $0 != UInt8(ascii: "/") }
        let dated = first.count == 10 && first.enumerated().allSatisfy { i, b in
            i == 4 || i == 7 ? b == UInt8(ascii: "-") : (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
        }
        return !dated
    }

    /// A request id: 32 hex characters (16 random bytes from libcrypto's generator: no system call per call).
    static func newCallId() -> String {
        if let bytes = try? secureRandomBytes(16) { return Hex.encode(bytes) }
        var g = SystemRandomNumberGenerator()
        var words = (g.next() as UInt64, g.next() as UInt64)
        return withUnsafeBytes(of: &words) { Hex.encode($0) }
    }
}

extension GatewayHandler {
    /// The request's content codings, lower-cased, without `identity` (a body under any of them is not read as is).
    static func contentEncodings(_ head: TallyAWS.HTTPRequestHead) -> [String] {
        head.values(of: "content-encoding").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty && $0 != "identity" }
    }

    /// Why a JSON / REST-JSON request's body cannot be read as its member document (nil when it can, or is empty).
    static func unreadableJSONBody(head: TallyAWS.HTTPRequestHead, body: [UInt8]?) -> String? {
        guard let body else {
            let declared = head.value(of: "content-length").flatMap { Int($0) } ?? 0
            return declared > 0 || head.value(of: "transfer-encoding") != nil ? "the JSON body was not buffered" : nil
        }
        guard body.contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return nil }
        if let encoding = contentEncodings(head).first { return "the JSON body is \(encoding)-encoded" }
        guard case .object? = try? JSONValue(parsing: body) else {
            return "the JSON body could not be read as one object (a duplicate key, a lone surrogate, nesting over 512?)"
        }
        return nil
    }
}
