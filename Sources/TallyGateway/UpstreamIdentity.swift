import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TallyAWS
import TallyCore

/// Chooses the upstream credential for a call: the gateway's own (credential chain), or for a credential
/// issued with `--role`, temporary credentials from STS AssumeRole, cached per (role, principal) until
/// five minutes before they expire.
final class UpstreamIdentity: Sendable {
    let base: UpstreamCredential
    private let upstream: UpstreamEndpoint
    private let client: HTTPClient
    private let cache = Mutex<[String: UpstreamCredential]>([:])
    private let baseARNBox = Mutex<String?>(nil)

    /// The ARN of the gateway's own credential (from STS GetCallerIdentity at startup), if known.
    var baseARN: String? { baseARNBox.withLock { $0 } }

    /// Asks the upstream STS who the gateway's own credential is, for the `upstreamIdentity` of events.
    /// At startup `timeout` is short: an unreachable upstream must not hold the listener back (the
    /// gateway then records the access key id instead).
    func resolveBaseARN(region: String = "us-east-1", timeout: TimeAmount = .seconds(30)) async throws -> String {
        let body = Array("Action=GetCallerIdentity&Version=2011-06-15".utf8)
        let text = try await stsCall(body: body, credential: base, region: region, timeout: timeout)
        guard let arn = xmlTag("Arn", in: text) else { throw TallyError(.io, "STS GetCallerIdentity answered without an Arn") }
        baseARNBox.withLock { $0 = arn }
        return arn
    }

    /// When the identity was last asked for in the background (``relearnIfUnknown()``).
    private let lastRelearn = Mutex<ContinuousClock.Instant?>(nil)

    /// While the identity is unknown (the startup GetCallerIdentity failed), asks STS again in the background (in
    /// `region`, the refused call's), at most once every 10 s; the own-identity guardrail refuses IAM changes until then.
    func relearnIfUnknown(region: String = "us-east-1") {
        guard baseARN == nil else { return }
        let now = ContinuousClock.now
        let due = lastRelearn.withLock { last -> Bool in
            if let l = last, now - l < .seconds(10) { return false }
            last = now
            return true
        }
        guard due else { return }
        // In the call's region: the startup call asks us-east-1, which a GovCloud or China credential cannot reach.
        Task { _ = try? await self.resolveBaseARN(region: region, timeout: .seconds(3)) }
    }

    /// What the gateway's own permissions hang on besides its user or role (see ``learnAttachments(region:timeout:)``);
    /// nil while unknown.
    struct Attachments: Sendable {
        /// The groups its user is in (lowercased: IAM names are unique case-insensitively); none for a role.
        var groups: Set<String>
        /// The managed policies attached to its user or role, or to one of those groups (ARNs).
        var policies: Set<String>
        var learnedAt: ContinuousClock.Instant
    }
    private let attachmentsBox = Mutex<(Attachments, region: String)?>(nil)
    private let lastAttachmentsTry = Mutex<(at: ContinuousClock.Instant, failed: Bool)?>(nil)
    /// Refreshed in the background once they are a minute old (``refreshAttachmentsIfStale(region:)``, also run every
    /// second by the gateway's maintenance loop); older than this they count as unknown (a refresh keeps failing).
    static let attachmentsMaxAge: Duration = .seconds(180)
    var attachments: Attachments? {
        attachmentsBox.withLock { box in box.flatMap { ContinuousClock.now - $0.0.learnedAt <= Self.attachmentsMaxAge ? $0.0 : nil } }
    }

    /// Asks IAM (with the gateway's own credential; read-only Get/List calls, not recorded, like the startup
    /// GetCallerIdentity) which groups the gateway's user is in and which managed policies are attached to it, to
    /// its groups, or to its role, or are its permissions boundary: an agent that changes one of those changes what the
    /// gateway, hence itself, may do.
    func learnAttachments(region: String = "us-east-1", timeout: TimeAmount = .seconds(5)) async throws -> Attachments {
        guard let arn = baseARN, let own = GatewayHandler.iamIdentity(arn) else {
            throw TallyError(.io, "the gateway's own identity is not a known IAM user or role")
        }
        var groups: [String] = []
        var policies: [String] = []
        // The permissions boundary (GetUser / GetRole), a managed policy too.
        let get = own.kind == "user" ? ("GetUser", "UserName") : ("GetRole", "RoleName")
        policies = try await iamList(get.0, [get.1: own.name], tag: "PermissionsBoundaryArn", region: region, timeout: timeout)
        if own.kind == "user" {
            groups = try await iamList("ListGroupsForUser", ["UserName": own.name], tag: "GroupName", region: region, timeout: timeout)
            policies += try await iamList("ListAttachedUserPolicies", ["UserName": own.name], tag: "PolicyArn", region: region, timeout: timeout)
            for group in groups {
                policies += try await iamList("ListAttachedGroupPolicies", ["GroupName": group], tag: "PolicyArn", region: region,
                                              timeout: timeout)
            }
        } else {
            policies += try await iamList("ListAttachedRolePolicies", ["RoleName": own.name], tag: "PolicyArn", region: region,
                                          timeout: timeout)
        }
        let learned = Attachments(groups: Set(groups.map { $0.lowercased() }), policies: Set(policies), learnedAt: .now)
        attachmentsBox.withLock { $0 = (learned, region) }
        return learned
    }

    /// Learns the attachments again in the background (in `region`, else where they were last learned) when they are
    /// unknown or older than a minute: they change only outside the gateway (the agent's own changes to them are
    /// refused). At most once every 10 s; after a failed attempt, at most once every `retryAfterFailure` (the
    /// maintenance loop's ticks wait 5 minutes, so a credential that may not read IAM does not fill CloudTrail with
    /// denials, while a refused call asks again after 10 s).
    func refreshAttachmentsIfStale(region: String? = nil, retryAfterFailure: Duration = .seconds(10)) {
        guard let arn = baseARN, GatewayHandler.iamIdentity(arn) != nil else { return }
        let now = ContinuousClock.now
        let last = attachmentsBox.withLock { $0 }
        if let last, now - last.0.learnedAt < .seconds(60) { return }
        let region = region ?? last?.region ?? "us-east-1"
        let due = lastAttachmentsTry.withLock { tried -> Bool in
            if let t = tried, now - t.at < (t.failed ? max(retryAfterFailure, .seconds(10)) : .seconds(10)) { return false }
            tried = (now, false)
            return true
        }
        guard due else { return }
        Task {
            do { _ = try await self.learnAttachments(region: region, timeout: .seconds(3)) } catch {
                self.lastAttachmentsTry.withLock { $0?.failed = true }
            }
        }
    }

    /// Every value of `tag` in the pages of an IAM List call (Marker / IsTruncated), at most 50 pages.
    private func iamList(_ action: String, _ parameters: [String: String], tag: String, region: String,
                         timeout: TimeAmount) async throws -> [String] {
        var out: [String] = []
        var marker: String?
        for _ in 0..<50 {
            var form = "Action=\(action)&Version=2010-05-08"
            for (name, value) in parameters.sorted(by: { $0.key < $1.key }) { form += "&\(name)=\(formEncode(value))" }
            if let marker { form += "&Marker=\(formEncode(marker))" }
            let text = try await queryCall(service: "iam", body: Array(form.utf8), credential: base, region: region, timeout: timeout)
            out += xmlTags(tag, in: text)
            guard xmlTag("IsTruncated", in: text) == "true", let next = xmlTag("Marker", in: text) else { return out }
            marker = next
        }
        throw TallyError(.io, "IAM \(action) answered more than 50 pages")
    }

    /// Where the gateway's own STS AssumeRole calls are recorded (review finding 11); nil records nothing.
    private let recorder: CallRecorder?

    init(base: UpstreamCredential, upstream: UpstreamEndpoint, client: HTTPClient, recorder: CallRecorder? = nil) {
        self.base = base
        self.upstream = upstream
        self.client = client
        self.recorder = recorder
    }

    /// The credential to sign this principal's calls with when it is at hand without a call to STS: the gateway's
    /// own, or a cached role credential good for more than five minutes; nil otherwise (``credential(for:region:)``).
    func cachedCredential(for issued: IssuedCredential) -> UpstreamCredential? {
        guard let role = issued.role else { return base }
        let key = "\(role)\u{0}\(issued.principal)"
        if let cached = cache.withLock({ $0[key] }), let exp = cached.expiration, exp.timeIntervalSinceNow > 300 {
            return cached
        }
        return nil
    }

    /// The credential to sign this principal's calls with.
    func credential(for issued: IssuedCredential, region: String) async throws -> UpstreamCredential {
        guard let role = issued.role else { return base }
        let key = "\(role)\u{0}\(issued.principal)"
        if let cached = cache.withLock({ $0[key] }), let exp = cached.expiration, exp.timeIntervalSinceNow > 300 {
            return cached
        }
        let name = sessionName(issued)
        // Write-ahead like every other upstream call: the AssumeRole is on the record (durably) before it is made,
        // and its outcome after (the temporary key id and expiry, never the secret or the token).
        var event = assumeRoleEvent("upstream.assumeRole.requested", role: role, sessionName: name, issued: issued, region: region)
        try await recorder?.record(.object(event))
        event["type"] = "upstream.assumeRole.completed"
        let fresh: UpstreamCredential
        do {
            fresh = try await assumeRole(role: role, sessionName: name, region: region)
        } catch {
            event["outcome"] = "error"
            event["detail"] = .string("\(error)")
            _ = try? await recorder?.record(.object(event))
            throw error
        }
        event["outcome"] = "ok"
        event["upstreamAccessKeyId"] = .string(fresh.accessKeyId)
        if let arn = fresh.identityARN { event["assumedRoleArn"] = .string(arn) }
        if let exp = fresh.expiration { event["expiration"] = .string(rfc3339(seconds: Int64(exp.timeIntervalSince1970))) }
        try await recorder?.record(.object(event))
        cache.withLock { $0[key] = fresh }
        return fresh
    }

    /// The members of the `upstream.assumeRole.*` events.
    /// `upstreamIdentity` is who makes the STS call: the gateway's own credential.
    func assumeRoleEvent(_ type: String, role: String, sessionName: String, issued: IssuedCredential,
                         region: String) -> [String: JSONValue] {
        ["type": .string(type), "role": .string(role), "roleSessionName": .string(sessionName),
         "principal": .string(issued.principal), "session": .string(issued.sessionId), "region": .string(region),
         "upstreamIdentity": .string(baseARN ?? base.accessKeyId), "durationSeconds": 3600]
    }

    /// `tally-<principal>` restricted to the characters STS allows, at most 64.
    private func sessionName(_ issued: IssuedCredential) -> String {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@-_")
        let cleaned = String(("tally-" + issued.principal).map { allowed.contains($0) ? $0 : "-" })
        return String(cleaned.prefix(64))
    }

    private func assumeRole(role: String, sessionName: String, region: String) async throws -> UpstreamCredential {
        let form = "Action=AssumeRole&Version=2011-06-15&RoleArn=\(formEncode(role))&RoleSessionName=\(formEncode(sessionName))&DurationSeconds=3600"
        let text: String
        do { text = try await stsCall(body: Array(form.utf8), credential: base, region: region) } catch {
            throw TallyError(.io, "STS AssumeRole of \(role) failed: \(error)")
        }
        guard let id = xmlTag("AccessKeyId", in: text), let secret = xmlTag("SecretAccessKey", in: text),
              let token = xmlTag("SessionToken", in: text) else {
            throw TallyError(.io, "STS AssumeRole of \(role) answered without credentials")
        }
        // Asked for 3,600 s: a later expiry in the answer is not believed (the cached key is used until 5 min before it).
        let asked = Date().addingTimeInterval(3600)
        let expiration = min(xmlTag("Expiration", in: text).flatMap { ISO8601DateFormatter().date(from: $0) } ?? Date().addingTimeInterval(3000), asked)
        // The session's ARN (what CloudTrail names as the caller), read inside <AssumedRoleUser> only.
        let sessionARN = xmlTag("AssumedRoleUser", in: text).flatMap { xmlTag("Arn", in: $0) }
            .flatMap { $0.hasPrefix("arn:") && $0.contains(":assumed-role/") ? $0 : nil }
        return UpstreamCredential(accessKeyId: id, secretAccessKey: secret, sessionToken: token,
                                  source: "sts:AssumeRole \(role)", expiration: expiration, identityARN: sessionARN)
    }

    /// POSTs a query-protocol STS call signed with `credential`; returns the response text or throws with the AWS error code.
    private func stsCall(body: [UInt8], credential: UpstreamCredential, region: String,
                         timeout: TimeAmount = .seconds(30)) async throws -> String {
        try await queryCall(service: "sts", body: body, credential: credential, region: region, timeout: timeout)
    }

    /// POSTs a query-protocol call of `service` (sts, iam) signed with `credential`; returns the response text or
    /// throws with the AWS error code.
    private func queryCall(service: String, body: [UInt8], credential: UpstreamCredential, region: String,
                           timeout: TimeAmount) async throws -> String {
        let url = upstream.baseURL(service: service, region: region)
        var head = TallyAWS.HTTPRequestHead(method: "POST", path: "/", query: nil, headers: [
            (name: "Host", value: upstreamAuthority(url)),
            (name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8"),
        ])
        SigV4.sign(&head, credentials: AWSCredentials(accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey,
                                                      sessionToken: credential.sessionToken),
                   region: region, service: service, payloadHash: Hex.encode(SHA256.hash(body)), date: Date())
        var request = HTTPClientRequest(url: upstreamBaseURL(url) + "/")
        request.method = .POST
        for (name, value) in head.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: timeout)
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .ok else {
            let code = AWSErrorCode.extract(headerErrorType: nil, queryError: nil, body: Array(text.utf8)) ?? "HTTP \(response.status.code)"
            throw TallyError(.io, code)
        }
        return text
    }
}
