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
        var calls: [String: (allowed: Int, denied: Int, last: Int64?)] = [:]
        // Forwarded calls whose call.completed says they did not complete upstream (`aborted`, `upstream-failure`):
        // they were counted as forwarded and nothing more (session 13 probe).
        var failed: [String: Int] = [:]
        var issuedOnly: [String: JSONValue] = [:]
        // The ledger's revocations hold whatever the registry (not authenticated here) says (review finding 12).
        var revokedInLedger: [String: String] = [:]
        // One record at a time (parsed, counted, dropped): memory grows with the number of sessions, not of records.
        try LedgerReader(home: home).forEachRecord { _, time, bytes in
            let event = try JSONValue(parsing: bytes.bindMemory(to: UInt8.self))
            guard let type = event["type"]?.stringValue, let session = event["session"]?.stringValue else { return true }
            switch type {
            case "call.requested": calls[session, default: (0, 0, nil)].allowed += 1; calls[session]?.last = time
            case "call.denied": calls[session, default: (0, 0, nil)].denied += 1; calls[session]?.last = time
            case "call.completed":
                if let outcome = event["outcome"]?.stringValue, outcome == "aborted" || outcome == "upstream-failure" {
                    failed[session, default: 0] += 1
                }
            case "credential.issued": issuedOnly[session] = event
            case "credential.revoked":
                if revokedInLedger[session] == nil {
                    revokedInLedger[session] = event["revokedAt"]?.stringValue ?? LedgerReader.timeText(time)
                }
            default: break
            }
            return true
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
                // The ledger is the source of truth: where the registry (not authenticated here) says otherwise than the
                // credential.issued record, the record is shown and the session is marked (a gateway refuses that key).
                if let e = issuedOnly[id] {
                    let differs = ["principal", "issuedAt", "expiration", "role"].filter { e[$0] != o[$0] }
                    if !differs.isEmpty {
                        for key in ["principal", "issuedAt", "expiration", "role"] { o[key] = e[key] }
                        o["status"] = "registry-differs"
                        o["registryDiffers"] = .array(differs.map { .string($0) })
                    }
                }
            } else if let e = issuedOnly[id] {
                for key in ["principal", "issuedAt", "expiration", "role"] { if let v = e[key] { o[key] = v } }
                if let r = revokedInLedger[id] { o["revokedAt"] = .string(r) }
                o["status"] = "unknown-to-registry"
            }
            let c = calls[id] ?? (0, 0, nil)
            o["calls"] = .int(c.allowed + c.denied)
            o["forwarded"] = .int(c.allowed)
            o["denied"] = .int(c.denied)
            o["failed"] = .int(failed[id] ?? 0)
            if let last = c.last { o["lastCall"] = .string(LedgerReader.timeText(last)) }
            out.append(.object(o))
        }
        return out
    }

    /// The calls of `session` in ledger order.
    public func replay(session: String) throws -> [Call] {
        var calls: [Call] = []
        try replay(session: session) { calls.append($0) }
        return calls
    }

    /// The calls of `session` in ledger order (the order of their `call.requested` or `call.denied` records), each
    /// handed to `emit` as soon as it is final: an allowed call once its (first) `call.completed` has been read, a
    /// denied one at once (Tally writes no `call.completed` for a denied call; one naming it is ignored), but never
    /// before an earlier call; calls still without a `call.completed` at the end of the ledger come last, in order,
    /// as `incomplete`. The ledger is read one record at a time and only the calls waiting for
    /// their completion (or for an earlier call's) are held: memory follows the calls in flight, not the ledger's
    /// size (a call that never completes, say after a crash, holds the session's later calls until the end).
    /// Throws `notFound`, before emitting anything, when no record names the session.
    public func replay(session: String, _ emit: (Call) throws -> Void) throws {
        // Calls from `head` on are not emitted yet; `index` maps a call id to its position in `pending`.
        var pending: [Call] = []
        var head = 0
        var index: [String: Int] = [:]
        var known = false
        // Records that do not contain the session id's text cannot name it; they are skipped without parsing. (Only for
        // ids whose text is the same inside a JSON string: access key ids are letters and digits.)
        let plain = !session.isEmpty && session.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F || b == 0x2E
        }
        let needle: [UInt8]? = plain ? Array(session.utf8) : nil
        func isFinal(_ call: Call) -> Bool { call.decision == "deny" || call.completed != nil }
        func emitReady() throws {
            while head < pending.count, isFinal(pending[head]) {
                let call = pending[head]
                if index[call.callId] == head { index[call.callId] = nil }
                try emit(call)
                head += 1
            }
            if head >= 1024 && head * 2 >= pending.count {  // drop what was emitted; shift the index
                pending.removeFirst(head)
                for (id, i) in index { index[id] = i - head }
                head = 0
            }
        }
        try LedgerReader(home: home).forEachRecord { seq, time, bytes in
            if let needle, !ByteSearch.contains(bytes, needle) { return true }
            let event = try JSONValue(parsing: bytes.bindMemory(to: UInt8.self))
            guard event["session"]?.stringValue == session || event["accessKeyId"]?.stringValue == session,
                  let type = event["type"]?.stringValue else { return true }
            known = true
            guard let callId = event["callId"]?.stringValue else { return true }
            switch type {
            case "call.requested", "call.denied":
                let allowed = type == "call.requested"
                index[callId] = pending.count
                pending.append(Call(callId: callId, seq: seq, time: LedgerReader.timeText(time), decision: allowed ? "allow" : "deny",
                                    // `JSONValue?.none`, not `nil`: JSONValue is ExpressibleByNilLiteral, so a bare nil here
                                    // became `.some(.null)` and a denied call lost its service, operation and actions.
                                    requested: allowed ? event : JSONValue?.none, denied: allowed ? JSONValue?.none : event))
            case "call.completed":
                if let i = index[callId], pending[i].decision == "allow", pending[i].completed == nil {
                    pending[i].completed = event
                    pending[i].completedTime = LedgerReader.timeText(time)
                }
            default: return true
            }
            try emitReady()
            return true
        }
        if !known {
            throw TallyError(.notFound, "session \(session) is not in the ledger of \(home) (see `tally sessions list`)")
        }
        for call in pending[head...] { try emit(call) }
    }
}
