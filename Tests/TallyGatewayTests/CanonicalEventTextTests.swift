import Foundation
import Testing
@testable import TallyCore
@testable import TallyGateway
import TallyIAM
import TallyLedger

/// `call.requested` / `call.completed` are written directly as canonical text (the one definition of each; the task
/// path parses it into a value): the text must already be in canonical form (members in key order: canonicalising
/// the parsed value gives the same bytes), hold the members the event is documented with, and, for ASCII events,
/// take the ledger's canonical fast path.
@Suite struct CanonicalEventTextTests {
    static func contexts() -> [CallContext] {
        let plain = CallContext(callId: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", method: "GET", path: "/bench/object")
        var full = plain
        full.accessKeyId = "ASIATLYABCDEFGHIJKLM"
        full.credential = IssuedCredential(accessKeyId: "ASIATLYABCDEFGHIJKLM", principal: "agent-7", expiresAt: 2_000_000_000,
                                           issuedAt: 1_900_000_000, role: "arn:aws:iam::123456789012:role/agent")
        full.service = "s3"
        full.operation = "GetObject"
        full.region = "us-east-1"
        full.permissions = [RequiredPermission(action: "s3:GetObject", resources: ["arn:aws:s3:::bench/object"]),
                            RequiredPermission(action: "s3:GetObjectVersion", resources: ["arn:aws:s3:::bench/object", "*"])]
        full.mapped = true
        full.provenance = "curated"
        full.upstreamIdentity = "arn:aws:iam::123456789012:user/gw"
        full.payloadMode = "UNSIGNED-PAYLOAD"
        full.sourceAddress = "127.0.0.1"
        var noRole = full
        noRole.credential?.role = nil
        noRole.permissions = [RequiredPermission(action: "sts:GetCallerIdentity", resources: [])]
        var odd = full
        odd.path = "/b/k\"ey\\with\u{1}control/é/\u{7f}"
        odd.operation = nil
        odd.credential?.principal = "agent \"quoted\"\n"
        odd.permissions = []
        odd.sourceAddress = "::1"
        return [plain, full, noRole, odd]
    }

    static let completions: [CallCompletion] = [
        CallCompletion(outcome: "ok", status: 200, latency: 0.000812345, upstreamLatency: 0.00031, bytesIn: 0, bytesOut: 3),
        CallCompletion(outcome: "aws-error", status: 404, errorCode: "NoSuchKey", upstreamRequestId: "REQ123", latency: 1.5,
                       upstreamLatency: 1.25, bytesIn: 1_048_576, bytesOut: 243, masked: ["SecretAccessKey", "SessionToken"]),
        CallCompletion(outcome: "upstream-failure", detail: "connect: refused \"x\"", latency: 0, bytesIn: 5, bytesOut: 0),
        CallCompletion(outcome: "ok", status: 200, latency: 12_345.678_9, bytesIn: 0, bytesOut: 0),
        CallCompletion(outcome: "ok", status: 200, latency: 0.002, bytesIn: 0, bytesOut: 3, upstreamAttempts: 2),
    ]

    static func canonical(_ event: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        event.appendCanonical(to: &out)
        return out
    }

    @Test func requestedTextIsTheCanonicalForm() throws {
        for context in Self.contexts() {
            var text: [UInt8] = []
            context.appendRequestedEvent(to: &text)
            #expect(text == Self.canonical(try context.requestedEvent()), "\(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test func completedTextIsTheCanonicalForm() throws {
        for context in Self.contexts() {
            for completion in Self.completions {
                var text: [UInt8] = []
                context.appendCompletedEvent(completion, to: &text)
                #expect(text == Self.canonical(try context.completedEvent(completion)), "\(String(decoding: text, as: UTF8.self))")
            }
        }
    }

    /// What each event holds, member by member (no more, no fewer), for a call with every fact known.
    @Test func eventsHoldTheirMembers() throws {
        let context = Self.contexts()[1]
        let requested = try #require(try context.requestedEvent().objectValue)
        #expect(requested.count == 20, "\(requested.keys.sorted())")
        #expect(requested["type"] == "call.requested")
        #expect(requested["callId"]?.stringValue == context.callId)
        #expect(requested["decision"] == "allow")
        #expect(requested["mapped"] == .bool(true))
        #expect(requested["mappingProvenance"] == "curated")
        #expect(requested["method"] == "GET" && requested["path"] == "/bench/object")
        #expect(requested["service"] == "s3" && requested["operation"] == "GetObject" && requested["region"] == "us-east-1")
        #expect(requested["principal"] == "agent-7" && requested["role"] == "arn:aws:iam::123456789012:role/agent")
        #expect(requested["session"] == "ASIATLYABCDEFGHIJKLM" && requested["accessKeyId"] == "ASIATLYABCDEFGHIJKLM")
        #expect(requested["actions"] == ["s3:GetObject", "s3:GetObjectVersion"])
        // Resources of all permissions, each once, in first-seen order.
        #expect(requested["resources"] == ["arn:aws:s3:::bench/object", "*"])
        #expect(requested["permissions"] == [
            ["action": "s3:GetObject", "resources": ["arn:aws:s3:::bench/object"]],
            ["action": "s3:GetObjectVersion", "resources": ["arn:aws:s3:::bench/object", "*"]],
        ])
        #expect(requested["upstreamIdentity"] == "arn:aws:iam::123456789012:user/gw")
        #expect(requested["payloadMode"] == "UNSIGNED-PAYLOAD" && requested["sourceAddress"] == "127.0.0.1")

        let completed = try #require(try context.completedEvent(Self.completions[1]).objectValue)
        #expect(completed.count == 18, "\(completed.keys.sorted())")
        #expect(completed["type"] == "call.completed" && completed["callId"]?.stringValue == context.callId)
        #expect(completed["outcome"] == "aws-error" && completed["status"]?.intValue == 404)
        #expect(completed["errorCode"] == "NoSuchKey" && completed["upstreamRequestId"] == "REQ123")
        #expect(completed["latencyMs"]?.doubleValue == 1500 && completed["upstreamLatencyMs"]?.doubleValue == 1250)
        #expect(completed["bytesIn"]?.intValue == 1_048_576 && completed["bytesOut"]?.intValue == 243)
        #expect(completed["masked"] == ["SecretAccessKey", "SessionToken"])
        #expect(completed["principal"] == "agent-7" && completed["session"] == "ASIATLYABCDEFGHIJKLM")
        #expect(completed["upstreamAttempts"] == nil && completed["detail"] == nil)
        // Latency rounded to the microsecond; a retried request counts its attempts.
        let retried = try #require(try context.completedEvent(Self.completions[4]).objectValue)
        #expect(retried["upstreamAttempts"]?.intValue == 2 && retried["latencyMs"]?.doubleValue == 2)
        let failed = try #require(try Self.contexts()[0].completedEvent(Self.completions[2]).objectValue)
        #expect(failed["detail"] == "connect: refused \"x\"" && failed["status"] == nil && failed["principal"] == nil)
    }

    /// The common events (ASCII, no escapes) pass the ledger's canonical check as they are, and a batch holds them
    /// unchanged.
    @Test func asciiEventsTakeTheLedgersFastPath() throws {
        let contexts = Self.contexts().prefix(3)
        var canonicalizer = JSONCanonicalizer()
        for context in contexts {
            var requested: [UInt8] = [], completed: [UInt8] = []
            context.appendRequestedEvent(to: &requested)
            context.appendCompletedEvent(Self.completions[1], to: &completed)
            for text in [requested, completed] {
                #expect(text.withUnsafeBufferPointer { CanonicalEventCheck.isCanonicalEvent($0) }, "\(String(decoding: text, as: UTF8.self))")
                var batch = EventBatch()
                try text.withUnsafeBufferPointer { try batch.append(jsonText: $0, using: &canonicalizer) }
                #expect(batch.bytes == text + [0x0A])
            }
        }
    }
}
