import Foundation
import TallyCore
import TallyIAM

/// The facts of one call known when it is decided (before forwarding), shared by its events.
struct CallContext: Sendable {
    var callId: String
    var accessKeyId: String?
    var credential: IssuedCredential?
    var service: String?
    var operation: String?
    var region: String?
    var method: String
    var path: String
    var permissions: [RequiredPermission] = []
    var mapped = false
    var provenance: String?
    var upstreamIdentity: String?
    var payloadMode: String?
    var sourceAddress: String?

    /// The members every call event carries (for `call.denied`; the other two are written as canonical text).
    func common(type: String) -> [String: JSONValue] {
        // Room for all of call.denied's members (up to 20): no rehashing while it is built.
        var e: [String: JSONValue] = Dictionary(minimumCapacity: 24)
        e["type"] = .string(type)
        e["callId"] = .string(callId)
        if let credential {
            e["session"] = .string(credential.sessionId)
            e["principal"] = .string(credential.principal)
            if let role = credential.role { e["role"] = .string(role) }
        }
        if let accessKeyId { e["accessKeyId"] = .string(accessKeyId) }
        if let service { e["service"] = .string(service) }
        if let operation { e["operation"] = .string(operation) }
        if let region { e["region"] = .string(region) }
        return e
    }

    /// `call.requested` (written and made durable before anything reaches the upstream) as a value, for the task
    /// path: parsed from its canonical text (``appendRequestedEvent(to:)``, CallEvents+Canonical.swift), the one
    /// definition of the event. Throws only if that writer produced invalid JSON (a bug; the call then fails closed).
    func requestedEvent() throws -> JSONValue {
        var text: [UInt8] = []
        appendRequestedEvent(to: &text)
        return try JSONValue(parsing: text)
    }

    /// `call.denied`: refused by the gateway (authentication, guardrail or ledger), never forwarded.
    func deniedEvent(stage: String, code: String, status: Int, reason: String) -> JSONValue {
        var e = common(type: "call.denied")
        e["method"] = .string(method)
        e["path"] = .string(path)
        e["decision"] = "deny"
        e["stage"] = .string(stage)
        e["errorCode"] = .string(code)
        e["status"] = .int(status)
        e["reason"] = .string(reason)
        if !permissions.isEmpty {
            e["actions"] = .array(permissions.map { .string($0.action) })
            // What the refused call would have needed, as in call.requested: each action's resources, and all of them.
            e["permissions"] = .array(permissions.map { ["action": .string($0.action), "resources": .array($0.resources.map { .string($0) })] })
            var resources: [String] = []
            var seen = Set<String>()
            for p in permissions { for r in p.resources where seen.insert(r).inserted { resources.append(r) } }
            e["resources"] = .array(resources.map { .string($0) })
        }
        if let sourceAddress { e["sourceAddress"] = .string(sourceAddress) }
        return .object(e)
    }

    /// `call.completed` (what came back, or how forwarding failed) as a value, for the task path: parsed from its
    /// canonical text (``appendCompletedEvent(_:to:)``), the one definition of the event.
    func completedEvent(_ c: CallCompletion) throws -> JSONValue {
        var text: [UInt8] = []
        appendCompletedEvent(c, to: &text)
        return try JSONValue(parsing: text)
    }
}

/// How a forwarded call ended.
struct CallCompletion: Sendable {
    /// "ok" (2xx/3xx), "aws-error" (the upstream answered with an error), "upstream-failure" (no answer),
    /// "aborted" (the agent's body failed verification mid-stream or a connection broke).
    var outcome: String
    var status: Int?
    var errorCode: String?
    var detail: String?
    var upstreamRequestId: String?
    var latency: Double
    var upstreamLatency: Double?
    var bytesIn: Int
    var bytesOut: Int
    /// Names of the response fields the gateway masked (never their values); see ``ResponseMasking``.
    var masked: [String] = []
    /// How many times the request was tried upstream when more than once (a reused connection closed before the
    /// answer and the request was tried again on a new connection: only one not yet written whole, or a GET or
    /// HEAD); nil for once.
    var upstreamAttempts: Int? = nil
}
