import Foundation
import Testing
@testable import TallyGateway
import TallyCore
import TallyLedger

/// `tally replay` reads the ledger one record at a time (``Sessions/replay(session:_:)``): the calls of one session in
/// the order of their first record, each with its outcome, whatever the interleaving of other calls and sessions.
@Suite struct SessionsReplayTests {
    private func ledger(_ events: [JSONValue]) async throws -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tally-replay-\(UUID().uuidString)").path + "/h"
        _ = try Ledger.initialize(home: home)
        let ledger = try await Ledger.open(home: home)
        _ = try await ledger.append(contentsOf: events)
        try await ledger.close()
        return home
    }

    private func requested(_ id: String, _ session: String = "ASIASESSIONA") -> JSONValue {
        ["type": "call.requested", "callId": .string(id), "session": .string(session), "accessKeyId": .string(session),
         "service": "s3", "operation": "GetObject"]
    }
    private func completed(_ id: String, _ session: String = "ASIASESSIONA", status: Int = 200) -> JSONValue {
        ["type": "call.completed", "callId": .string(id), "session": .string(session), "outcome": "ok", "status": .int(Int64(status))]
    }
    private func denied(_ id: String, _ session: String = "ASIASESSIONA") -> JSONValue {
        ["type": "call.denied", "callId": .string(id), "session": .string(session), "stage": "guardrail", "errorCode": "AccessDenied",
         "service": "iam", "operation": "CreateLoginProfile", "actions": ["iam:CreateLoginProfile"]]
    }

    @Test func callsComeInTheOrderOfTheirFirstRecordWithTheirOutcome() async throws {
        let home = try await ledger([
            requested("a"), requested("b"), requested("x", "ASIASESSIONB"), completed("b", status: 404), denied("c"),
            completed("x", "ASIASESSIONB"), completed("c"),  // a completion naming a denied call is ignored
            completed("a"), requested("d"),  // d never completes
        ])
        var streamed: [Sessions.Call] = []
        try Sessions(home: home).replay(session: "ASIASESSIONA") { streamed.append($0) }
        #expect(streamed.map(\.callId) == ["a", "b", "c", "d"])
        #expect(streamed.map(\.seq) == [1, 2, 5, 9])
        #expect(streamed.map { $0.json["outcome"]?.stringValue } == ["ok", "ok", nil, "incomplete"])
        #expect(streamed[1].json["status"] == .int(404))
        #expect(streamed[2].json["decision"]?.stringValue == "deny" && streamed[2].json["stage"]?.stringValue == "guardrail")
        #expect(streamed[2].completed == nil)
        // What the denied call attempted is shown too (a JSONValue `nil` literal once turned its source into `.null`).
        #expect(streamed[2].requested == nil && streamed[2].json["operation"]?.stringValue == "CreateLoginProfile"
                && streamed[2].json["actions"] == ["iam:CreateLoginProfile"], "\(streamed[2].json)")
        #expect(streamed[0].denied == nil)
        let listed = try Sessions(home: home).replay(session: "ASIASESSIONA")
        #expect(listed.map(\.json) == streamed.map(\.json))
        #expect(try Sessions(home: home).replay(session: "ASIASESSIONB").map(\.callId) == ["x"])
    }

    /// Thousands of calls (the emitted ones are dropped from memory as the read goes on, and the positions of those
    /// still waiting are shifted): all of them, in order, each with its own completion, also when completions arrive
    /// out of order. Run with 0 to 3 leading calls, so that in some runs the drops happen while a call still waits.
    @Test(arguments: [0, 1, 2, 3]) func manyCallsKeepTheirOrderAndOutcomes(leading: Int) async throws {
        var events: [JSONValue] = []
        for i in 0..<leading { events += [requested("lead\(i)"), completed("lead\(i)")] }
        for i in stride(from: 0, to: 5000, by: 2) {
            // Completions in order (the second call still waits when the first is emitted) or reversed.
            events += [requested("c\(i)"), requested("c\(i + 1)")]
            events += i % 4 == 0 ? [completed("c\(i)"), completed("c\(i + 1)", status: 201)]
                : [completed("c\(i + 1)", status: 201), completed("c\(i)")]
        }
        let home = try await ledger(events)
        var ids: [String] = []
        var statuses: [JSONValue?] = []
        try Sessions(home: home).replay(session: "ASIASESSIONA") { call in
            ids.append(call.callId)
            statuses.append(call.json["status"])
        }
        #expect(ids == (0..<leading).map { "lead\($0)" } + (0..<5000).map { "c\($0)" })
        #expect(statuses == (0..<leading).map { _ in .int(200) } + (0..<5000).map { $0 % 2 == 0 ? .int(200) : .int(201) })
    }

    @Test func anUnknownSessionEmitsNothingAndThrows() async throws {
        let home = try await ledger([requested("a"), completed("a")])
        var emitted = 0
        #expect(throws: TallyError.self) { try Sessions(home: home).replay(session: "ASIANOBODY") { _ in emitted += 1 } }
        #expect(emitted == 0)
        // A session id that is not plain text (no byte pre-filter) is still matched exactly.
        let odd = try await ledger([requested("a", "s\"q/é"), completed("a", "s\"q/é")])
        #expect(try Sessions(home: odd).replay(session: "s\"q/é").map(\.callId) == ["a"])
    }
}
