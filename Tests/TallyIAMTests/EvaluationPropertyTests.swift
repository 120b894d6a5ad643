import Foundation
import Testing
import TallyIAM

/// Properties of the evaluator over randomly generated policies and requests (seeded, so every
/// run checks the same cases).
@Suite("Evaluation properties")
struct EvaluationPropertyTests {
    static let actions = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "iam:PassRole", "ec2:RunInstances", "sqs:SendMessage"]
    static let actionPatterns = ["*", "s3:*", "s3:Get*", "s3:?utObject", "iam:PassRole", "ec2:*Instances", "sqs:Send*", "S3:GETOBJECT"]
    static let resources = ["arn:aws:s3:::b/k", "arn:aws:s3:::b", "arn:aws:s3:::c/x/y", "arn:aws:iam::1:role/r", "*"]
    static let resourcePatterns = ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b", "arn:aws:s3:::*", "arn:aws:iam::1:role/*", "arn:aws:s3:::c/?/y"]
    static let conditions = [
        #"{"StringEquals":{"aws:PrincipalTag/team":"blue"}}"#,
        #"{"StringNotEquals":{"aws:PrincipalTag/team":"red"}}"#,
        #"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        #"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
        #"{"ForAnyValue:StringLike":{"aws:TagKeys":"a*"}}"#,
        #"{"BoolIfExists":{"aws:SecureTransport":"true"}}"#,
        #"{"Null":{"aws:TokenIssueTime":"true"}}"#,
        #"{"NumericLessThan":{"s3:max-keys":"5"}}"#,
    ]
    static let contexts: [[String: [String]]] = [
        [:], ["aws:PrincipalTag/team": ["blue"]], ["aws:PrincipalTag/team": ["red"], "aws:SourceIp": ["10.1.2.3"]],
        ["aws:TagKeys": ["a"], "aws:SecureTransport": ["false"]], ["aws:TagKeys": ["a", "c"], "s3:max-keys": ["3"]],
        ["aws:TokenIssueTime": ["2020-01-01T00:00:00Z"], "aws:SourceIp": ["192.168.0.1"]],
    ]

    static func pick<T>(_ list: [T], _ g: inout SeededGenerator) -> T { list[Int(g.next() % UInt64(list.count))] }

    static func statement(_ g: inout SeededGenerator, effect: String? = nil) -> String {
        let effect = effect ?? (g.next() % 4 == 0 ? "Deny" : "Allow")
        let actionKey = g.next() % 6 == 0 ? "NotAction" : "Action"
        let resourceKey = g.next() % 8 == 0 ? "NotResource" : "Resource"
        let actions = (0...(g.next() % 2)).map { _ in "\"\(pick(actionPatterns, &g))\"" }.joined(separator: ",")
        let resources = (0...(g.next() % 2)).map { _ in "\"\(pick(resourcePatterns, &g))\"" }.joined(separator: ",")
        var body = #"{"Effect":"\#(effect)","\#(actionKey)":[\#(actions)],"\#(resourceKey)":[\#(resources)]"#
        if g.next() % 2 == 0 { body += #","Condition":\#(pick(conditions, &g))"# }
        return body + "}"
    }

    static func policy(_ g: inout SeededGenerator, statements: Int? = nil) -> String {
        let count = statements ?? Int(1 + g.next() % 4)
        return #"{"Version":"2012-10-17","Statement":["# + (0..<count).map { _ in statement(&g) }.joined(separator: ",") + "]}"
    }

    struct Scenario {
        var identity: [String] = []
        var boundary: [String] = []
        var scp: [String] = []
        var session: [String] = []
        func set() throws -> PolicySet {
            try PolicyFixture.set(identity: identity, boundary: boundary, scp: scp, session: session)
        }
    }

    static func scenario(_ g: inout SeededGenerator) -> Scenario {
        var s = Scenario()
        s.identity = (0..<(1 + g.next() % 2)).map { _ in policy(&g) }
        if g.next() % 3 == 0 { s.boundary = [policy(&g)] }
        if g.next() % 3 == 0 { s.scp = [policy(&g)] }
        if g.next() % 4 == 0 { s.session = [policy(&g)] }
        return s
    }

    static func requests(_ g: inout SeededGenerator) -> [EvaluationRequest] {
        (0..<12).map { _ in PolicyFixture.request(pick(actions, &g), pick(resources, &g), pick(contexts, &g)) }
    }

    @Test func addingADenyNeverTurnsADenyIntoAnAllow() throws {
        var g = SeededGenerator(seed: 0x7A11)
        var checked = 0
        for _ in 0..<300 {
            var s = Self.scenario(&g)
            let before = try s.set()
            s.identity.append(Self.policy(&g, statements: 1).replacingAllow())
            let after = try s.set()
            for r in Self.requests(&g) {
                let a = before.decide(r)
                let b = after.decide(r)
                if a != .allow { #expect(b != .allow) }
                if a == .explicitDeny { #expect(b == .explicitDeny) }
                checked += 1
            }
        }
        #expect(checked == 3600)
    }

    @Test func addingAnAllowNeverOverridesAnExplicitDeny() throws {
        var g = SeededGenerator(seed: 0xA110)
        for _ in 0..<300 {
            var s = Self.scenario(&g)
            let before = try s.set()
            let extra = #"{"Version":"2012-10-17","Statement":["# + Self.statement(&g, effect: "Allow") + "]}"
            s.identity.append(extra)
            let after = try s.set()
            for r in Self.requests(&g) {
                let a = before.decide(r)
                let b = after.decide(r)
                if a == .explicitDeny { #expect(b == .explicitDeny) }
                if a == .allow { #expect(b == .allow) }  // allows are monotone too
            }
        }
    }

    @Test func boundariesSCPsAndSessionPoliciesNeverWiden() throws {
        var g = SeededGenerator(seed: 0xB0B)
        var narrowed = 0
        for _ in 0..<300 {
            let s = Self.scenario(&g)
            let base = try s.set()
            var withBoundary = s
            withBoundary.boundary.append(Self.policy(&g))
            var withSCP = s
            withSCP.scp.append(Self.policy(&g))
            var limited = [try withBoundary.set(), try withSCP.set()]
            // Session policies combine as a union among themselves: adding the first one limits.
            if s.session.isEmpty {
                var withSession = s
                withSession.session.append(Self.policy(&g))
                limited.append(try withSession.set())
            }
            for r in Self.requests(&g) {
                let a = base.decide(r)
                for set in limited {
                    let b = set.decide(r)
                    if b == .allow { #expect(a == .allow) }
                    if a != .allow && b == .allow { Issue.record("widened") }
                    if a == .allow && b != .allow { narrowed += 1 }
                }
            }
        }
        #expect(narrowed > 0)  // the generator does exercise limiting
    }

    @Test func evaluateAndDecideAgreeAndExplainConsistently() throws {
        var g = SeededGenerator(seed: 0xE4)
        var decisions: [Decision: Int] = [:]
        for _ in 0..<300 {
            let set = try Self.scenario(&g).set()
            for r in Self.requests(&g) {
                let result = set.evaluate(r)
                #expect(result.decision == set.decide(r))
                decisions[result.decision, default: 0] += 1
                switch result.decision {
                case .explicitDeny: #expect(!result.statements.isEmpty && result.statements.allSatisfy { $0.effect == .deny })
                case .allow: #expect(result.statements.contains { $0.kind == .identity || $0.kind == .resource })
                case .implicitDeny: #expect(result.statements.isEmpty)
                }
            }
        }
        #expect(decisions.count == 3)  // all three outcomes occur
    }

    @Test func actionCaseNeverMatters() throws {
        var g = SeededGenerator(seed: 0xCA5E)
        for _ in 0..<200 {
            let set = try Self.scenario(&g).set()
            for r in Self.requests(&g) {
                let shouted = EvaluationRequest(action: r.action.uppercased(), resource: r.resource, context: r.context)
                #expect(set.decide(shouted) == set.decide(r))
            }
        }
    }
}

extension String {
    /// Turns every Allow of a generated policy into a Deny.
    fileprivate func replacingAllow() -> String {
        var s = self
        while let r = s.range(of: #""Effect":"Allow""#) { s.replaceSubrange(r, with: #""Effect":"Deny""#) }
        return s
    }
}
