import TallyIAM

/// Helpers shared by the policy, condition and evaluation tests.
enum PolicyFixture {
    static func document(_ json: String, source: String = "test-policy") throws -> PolicyDocument {
        try PolicyDocument(json: json, source: source)
    }

    /// One statement in a 2012-10-17 policy.
    static func statement(_ body: String) -> String {
        #"{"Version":"2012-10-17","Statement":"# + body + "}"
    }

    /// Several statements in one 2012-10-17 policy.
    static func statements(_ bodies: String...) -> String {
        #"{"Version":"2012-10-17","Statement":["# + bodies.joined(separator: ",") + "]}"
    }

    static func set(
        identity: [String] = [], resource: [String] = [], boundary: [String] = [], scp: [String] = [],
        session: [String] = []
    ) throws -> PolicySet {
        var policies: [NamedPolicy] = []
        for (kind, list) in [
            (PolicyKind.identity, identity), (.resource, resource), (.boundary, boundary), (.scp, scp),
            (.session, session),
        ] {
            for (i, json) in list.enumerated() {
                policies.append(NamedPolicy(name: "\(kind.rawValue)-\(i)", kind: kind, document: try document(json)))
            }
        }
        return PolicySet(policies)
    }

    static func request(
        _ action: String, _ resource: String = "*", principal: String? = nil, _ context: [String: [String]] = [:]
    ) -> EvaluationRequest {
        EvaluationRequest(action: action, resource: resource, principal: principal, context: RequestContext(context))
    }

    /// A single Allow statement with one condition, evaluated against a context.
    static func conditionHolds(_ condition: String, _ context: [String: [String]], version: String = "2012-10-17")
        throws -> Bool
    {
        let json = #"{"Version":"\#(version)","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":"#
            + condition + "}}"
        let set = PolicySet([NamedPolicy(name: "p", kind: .identity, document: try document(json))])
        return set.decide(request("s3:GetObject", "arn:aws:s3:::b/k", context)) == .allow
    }
}

/// A small deterministic generator (SplitMix64) for property tests.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
