public import TallyCore
public import Foundation
import TallyLedger

/// Sessions (one per issued credential) and their calls, read back from the ledger.
public struct Sessions: Sendable {
    public let home: String

    public init(home: String) { self.home = home }

    /// One call of a session: its decision, outcome and timings.
    public struct Call: Sendable {
        public var callId: String
        public var seq: UInt64
        public var time: String
        public var decision: String          // allow | deny
        public var requested: JSONValue?
        public var denied: JSONValue?
        public var completed: JSONValue?
        public var completedTime: String?

        /// The call as one JSON object.
        public var json: JSONValue {
            let source = requested ?? denied ?? .object([:])
            var o: [String: JSONValue] = ["callId": .string(callId), "seq": .int(seq), "time": .string(time),
                                          "decision": .string(decision)]
            for key in ["service", "operation", "region", "method", "path", "actions", "resources", "mapped", "upstreamIdentity"] {
                if let v = source[key] { o[key] = v }
            }
            if let denied {
                for key in ["stage", "errorCode", "status", "reason"] { if let v = denied[key] { o[key] = v } }
            }
            if let completed {
                for key in ["outcome", "status", "errorCode", "latencyMs", "upstreamLatencyMs", "bytesIn", "bytesOut", "detail"] {
                    if let v = completed[key] { o[key] = v }
                }
                if let completedTime { o["completedTime"] = .string(completedTime) }
            } else if decision == "allow" {
                o["outcome"] = "incomplete"
            }
            return .object(o)
        }
    }

    /// Every session with counts: issued credentials (from the registry) joined with ledger events.
    public func list(now: Date = Date()) throws -> [JSONValue] {
        let credentials = try CredentialRegistry(paths: GatewayPaths(home: home)).load()
        var calls: [String: (allowed: Int, denied: Int, last: String?)] = [:]
        var issuedOnly: [String: JSONValue] = [:]
        // The ledger's revocations hold whatever the registry (not authenticated here) says (review finding 12).
        var revokedInLedger: [String: String] = [:]
        for record in try LedgerReader(home: home).records() {
            guard let type = record.event["type"]?.stringValue, let session = record.event["session"]?.stringValue else { continue }
            switch type {
            case "call.requested": calls[session, default: (0, 0, nil)].allowed += 1; calls[session]?.last = record.time
            case "call.denied": calls[session, default: (0, 0, nil)].denied += 1; calls[session]?.last = record.time
            case "credential.issued": issuedOnly[session] = record.event
            case "credential.revoked":
                if revokedInLedger[session] == nil { revokedInLedger[session] = record.event["revokedAt"]?.stringValue ?? record.time }
            default: break
            }
        }
        var out: [JSONValue] = []
        var ids = Set(credentials.keys)
        ids.formUnion(issuedOnly.keys)
        for id in ids.sorted(by: { (credentials[$0]?.issuedAt ?? 0, $0) < (credentials[$1]?.issuedAt ?? 0, $1) }) {
            var o: [String: JSONValue] = ["session": .string(id), "accessKeyId": .string(id)]
            if let c = credentials[id] {
                o["principal"] = .string(c.principal)
                o["issuedAt"] = .string(rfc3339(seconds: c.issuedAt))
                o["expiration"] = .string(rfc3339(seconds: c.expiresAt))
                if let role = c.role { o["role"] = .string(role) }
                if let r = c.revokedAt { o["revokedAt"] = .string(rfc3339(seconds: r)) } else if let r = revokedInLedger[id] {
                    o["revokedAt"] = .string(r)
                }
                let revoked = c.revokedAt != nil || revokedInLedger[id] != nil
                o["status"] = .string(revoked ? "revoked" : (c.rejection(at: now) == nil ? "active" : "expired"))
            } else if let e = issuedOnly[id] {
                for key in ["principal", "issuedAt", "expiration", "role"] { if let v = e[key] { o[key] = v } }
                if let r = revokedInLedger[id] { o["revokedAt"] = .string(r) }
                o["status"] = "unknown-to-registry"
            }
            let c = calls[id] ?? (0, 0, nil)
            o["calls"] = .int(c.allowed + c.denied)
            o["forwarded"] = .int(c.allowed)
            o["denied"] = .int(c.denied)
            if let last = c.last { o["lastCall"] = .string(last) }
            out.append(.object(o))
        }
        return out
    }

    /// The calls of `session` in ledger order.
    public func replay(session: String) throws -> [Call] {
        var calls: [Call] = []
        var index: [String: Int] = [:]
        var known = false
        for record in try LedgerReader(home: home).records() {
            guard record.event["session"]?.stringValue == session || record.event["accessKeyId"]?.stringValue == session,
                  let type = record.event["type"]?.stringValue else { continue }
            known = true
            guard let callId = record.event["callId"]?.stringValue else { continue }
            switch type {
            case "call.requested":
                index[callId] = calls.count
                calls.append(Call(callId: callId, seq: record.seq, time: record.time, decision: "allow", requested: record.event))
            case "call.denied":
                index[callId] = calls.count
                calls.append(Call(callId: callId, seq: record.seq, time: record.time, decision: "deny", denied: record.event))
            case "call.completed":
                if let i = index[callId] {
                    calls[i].completed = record.event
                    calls[i].completedTime = record.time
                }
            default: break
            }
        }
        if !known {
            throw TallyError(.notFound, "session \(session) is not in the ledger of \(home) (see `tally sessions list`)")
        }
        return calls
    }
}
