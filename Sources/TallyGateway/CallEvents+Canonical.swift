import TallyCore
import TallyIAM

/// `call.requested` and `call.completed`, the one definition of each: written directly in the ledger's canonical
/// JSON form (members in UTF-8 key order, no whitespace; every value through
/// ``TallyCore/JSONValue/appendCanonical(to:)``). The plain path appends the text with
/// `EventBatch.append(jsonText:using:)`, whose canonical check lets an already canonical event through as is: no
/// dictionary, hashing or key sort per event; the task path parses it into a value (``CallContext/requestedEvent()``,
/// ``CallContext/completedEvent(_:)``). Should a member ever be written out of order, the ledger canonicalises the
/// text like any other (only slower); CanonicalEventTextTests checks that the text is already canonical and what
/// each event holds.
extension CallContext {
    /// Appends `call.requested` in canonical form: written and made durable before anything reaches the upstream.
    func appendRequestedEvent(to out: inout [UInt8]) {
        var w = CanonicalObjectWriter(&out)
        if let accessKeyId { w.member("accessKeyId", .string(accessKeyId), &out) }
        w.key("actions", &out)
        out.append(UInt8(ascii: "["))
        for (i, p) in permissions.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.string(p.action).appendCanonical(to: &out)
        }
        out.append(UInt8(ascii: "]"))
        w.member("callId", .string(callId), &out)
        w.member("decision", "allow", &out)
        w.member("mapped", .bool(mapped), &out)
        if let provenance { w.member("mappingProvenance", .string(provenance), &out) }
        w.member("method", .string(method), &out)
        if let operation { w.member("operation", .string(operation), &out) }
        w.member("path", .string(path), &out)
        if let payloadMode { w.member("payloadMode", .string(payloadMode), &out) }
        w.key("permissions", &out)
        out.append(UInt8(ascii: "["))
        for (i, p) in permissions.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"action":"#.utf8)
            JSONValue.string(p.action).appendCanonical(to: &out)
            out.append(contentsOf: #","resources":"#.utf8)
            Self.appendStrings(p.resources, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let credential { w.member("principal", .string(credential.principal), &out) }
        if let region { w.member("region", .string(region), &out) }
        var resources: [String] = []
        for p in permissions { for r in p.resources where !resources.contains(r) { resources.append(r) } }
        w.key("resources", &out)
        Self.appendStrings(resources, to: &out)
        if let role = credential?.role { w.member("role", .string(role), &out) }
        if let service { w.member("service", .string(service), &out) }
        if let credential { w.member("session", .string(credential.sessionId), &out) }
        if let sourceAddress { w.member("sourceAddress", .string(sourceAddress), &out) }
        w.member("type", "call.requested", &out)
        if let upstreamIdentity { w.member("upstreamIdentity", .string(upstreamIdentity), &out) }
        out.append(UInt8(ascii: "}"))
    }

    /// Appends `call.completed` in canonical form: what came back (or how forwarding failed).
    func appendCompletedEvent(_ c: CallCompletion, to out: inout [UInt8]) {
        var w = CanonicalObjectWriter(&out)
        if let accessKeyId { w.member("accessKeyId", .string(accessKeyId), &out) }
        w.member("bytesIn", .int(c.bytesIn), &out)
        w.member("bytesOut", .int(c.bytesOut), &out)
        w.member("callId", .string(callId), &out)
        if let detail = c.detail { w.member("detail", .string(detail), &out) }
        if let code = c.errorCode { w.member("errorCode", .string(code), &out) }
        w.member("latencyMs", .double((c.latency * 1000 * 1000).rounded() / 1000), &out)
        if !c.masked.isEmpty {
            w.key("masked", &out)
            Self.appendStrings(c.masked, to: &out)
        }
        if let operation { w.member("operation", .string(operation), &out) }
        w.member("outcome", .string(c.outcome), &out)
        if let credential { w.member("principal", .string(credential.principal), &out) }
        if let region { w.member("region", .string(region), &out) }
        if let role = credential?.role { w.member("role", .string(role), &out) }
        if let service { w.member("service", .string(service), &out) }
        if let credential { w.member("session", .string(credential.sessionId), &out) }
        if let status = c.status { w.member("status", .int(status), &out) }
        w.member("type", "call.completed", &out)
        if let n = c.upstreamAttempts { w.member("upstreamAttempts", .int(n), &out) }
        if let u = c.upstreamLatency { w.member("upstreamLatencyMs", .double((u * 1000 * 1000).rounded() / 1000), &out) }
        if let rid = c.upstreamRequestId { w.member("upstreamRequestId", .string(rid), &out) }
        out.append(UInt8(ascii: "}"))
    }

    private static func appendStrings(_ strings: [String], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, s) in strings.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.string(s).appendCanonical(to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}

/// Writes the members of one canonical JSON object; the caller gives them in canonical key order. Keys are plain
/// ASCII literals (nothing to escape).
private struct CanonicalObjectWriter {
    private var first = true

    init(_ out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
    }

    mutating func key(_ key: StaticString, _ out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        out.append(contentsOf: #"":"#.utf8)
    }

    mutating func member(_ key: StaticString, _ value: JSONValue, _ out: inout [UInt8]) {
        self.key(key, &out)
        value.appendCanonical(to: &out)
    }
}
