import Foundation
import TallyCore
import TallyIAM

/// `iam-eval`: policy evaluation throughput on one core, and expansion of every AWS managed
/// policy moto ships against the action catalog.
enum IAMEvalBenchmark {
    /// ~10 statements with wildcards, policy variables and conditions: identity, boundary, SCP.
    static let identity = #"""
        {"Version":"2012-10-17","Statement":[
          {"Sid":"ReadAppData","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::app-data","arn:aws:s3:::app-data/*"]},
          {"Sid":"UploadOwn","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::app-data/uploads/${aws:username}/*",
           "Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
          {"Sid":"Orders","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query","dynamodb:PutItem"],"Resource":"arn:aws:dynamodb:*:123456789012:table/orders*"},
          {"Sid":"PassAppRoles","Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/app-*",
           "Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}},
          {"Sid":"Describe","Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
          {"Sid":"TLSOnly","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
          {"Sid":"DeleteFromVPN","Effect":"Deny","Action":"s3:DeleteObject*","Resource":"arn:aws:s3:::app-data/*",
           "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}
        ]}
        """#
    static let boundary = #"""
        {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","dynamodb:*","ec2:Describe*","iam:PassRole"],"Resource":"*"}]}
        """#
    static let scp = #"""
        {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
          {"Sid":"Regions","Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}]}
        """#

    static func requests() -> [(EvaluationRequest, Decision)] {
        let principal = "arn:aws:iam::123456789012:user/alice"
        func ctx(_ extra: [String: [String]] = [:], region: String = "us-east-1", ip: String = "10.1.2.3") -> RequestContext {
            var all: [String: [String]] = ["aws:SecureTransport": ["true"], "aws:SourceIp": [ip], "aws:RequestedRegion": [region]]
            for (k, v) in extra { all[k] = v }
            return RequestContext(all)
        }
        return [
            (EvaluationRequest(action: "s3:GetObject", resource: "arn:aws:s3:::app-data/reports/2024.csv", principal: principal, context: ctx()), .allow),
            (EvaluationRequest(action: "s3:PutObject", resource: "arn:aws:s3:::app-data/uploads/alice/photo.jpg", principal: principal,
                               context: ctx(["s3:x-amz-server-side-encryption": ["aws:kms"]])), .allow),
            (EvaluationRequest(action: "dynamodb:PutItem", resource: "arn:aws:dynamodb:us-east-1:123456789012:table/orders", principal: principal, context: ctx()), .allow),
            (EvaluationRequest(action: "iam:PassRole", resource: "arn:aws:iam::123456789012:role/app-worker", principal: principal,
                               context: ctx(["iam:PassedToService": ["lambda.amazonaws.com"]])), .allow),
            (EvaluationRequest(action: "ec2:DescribeInstances", resource: "*", principal: principal, context: ctx()), .allow),
            (EvaluationRequest(action: "s3:DeleteObject", resource: "arn:aws:s3:::app-data/reports/2024.csv", principal: principal,
                               context: ctx(ip: "192.168.1.20")), .explicitDeny),
            (EvaluationRequest(action: "sqs:SendMessage", resource: "arn:aws:sqs:us-east-1:123456789012:jobs", principal: principal, context: ctx()), .implicitDeny),
            (EvaluationRequest(action: "ec2:DescribeVpcs", resource: "*", principal: principal, context: ctx(region: "ap-south-1")), .explicitDeny),
        ]
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Cycles per second of this core, measured with a chain of dependent 64-bit multiply-adds
    /// `x = x * x + c` (3-cycle multiply + 1-cycle add latency on current x86-64 cores; the
    /// squaring keeps the compiler from folding the chain).
    @inline(never)
    static func measureCoreHz() -> Double {
        var x = UInt64(truncatingIfNeeded: Int(now() * 1000)) | 1
        let n = 100_000_000
        let start = now()
        for _ in 0..<n { x = x &* x &+ 0x9E37_79B9_7F4A_7C15 }
        let seconds = now() - start
        if x == 42 { print("") }  // keep the chain
        return Double(n) * 4 / seconds
    }

    static func policySet() throws -> PolicySet {
        PolicySet([
            NamedPolicy(name: "identity.json", kind: .identity, document: try PolicyDocument(json: identity)),
            NamedPolicy(name: "boundary.json", kind: .boundary, document: try PolicyDocument(json: boundary)),
            NamedPolicy(name: "scp.json", kind: .scp, document: try PolicyDocument(json: scp)),
        ])
    }

    static func run(managedPolicies: String?, evaluations: Int = 4_000_000) throws {
        let set = try policySet()
        let cases = requests()
        for (request, expected) in cases where set.decide(request) != expected {
            throw TallyError(.internalError, "iam-eval: \(request.action) on \(request.resource) decided \(set.decide(request)), expected \(expected)")
        }
        let statementCount = set.policies.reduce(0) { $0 + $1.document.statements.count }
        let hzBefore = measureCoreHz()
        print("iam-eval: \(statementCount) statements (identity, boundary, SCP; wildcards, variables, conditions), \(cases.count) request shapes, 1 thread")

        let requestsOnly = cases.map(\.0)
        var allowed = 0
        var start = now()
        for i in 0..<evaluations where set.decide(requestsOnly[i & 7]) == .allow { allowed += 1 }
        var seconds = now() - start
        let rate = Double(evaluations) / seconds
        // The core's speed right before and after the loop (other processes may share it).
        let hzAfter = measureCoreHz()
        let hz = (hzBefore + hzAfter) / 2
        print(String(format: "  physical limit: this core runs at ~%.2f GHz (dependent-multiply chain before/after the loop: %.2f / %.2f)",
                     hz / 1e9, hzBefore / 1e9, hzAfter / 1e9))
        print(String(format: "  decide (precompiled policies, prepared requests): %.2f M evaluations/s, %.0f ns = ~%.0f cycles each [target >= 1 M/s]",
                     rate / 1e6, 1e9 / rate, hz / rate))

        var explained = 0
        start = now()
        for i in 0..<(evaluations / 4) { explained &+= set.evaluate(requestsOnly[i & 7]).statements.count }
        seconds = now() - start
        print(String(format: "  evaluate (with the deciding statements): %.2f M evaluations/s", Double(evaluations / 4) / seconds / 1e6))

        start = now()
        for i in 0..<(evaluations / 4) {
            let r = requestsOnly[i & 7]
            let fresh = EvaluationRequest(action: r.action, resource: r.resource, principal: r.principal, context: r.context)
            if set.decide(fresh) == .allow { allowed += 1 }
        }
        seconds = now() - start
        print(String(format: "  decide including building the request: %.2f M evaluations/s", Double(evaluations / 4) / seconds / 1e6))
        if allowed == -1 || explained == -1 { print("") }

        guard let managedPolicies else {
            print("  managed-policy expansion: skipped (pass --managed-policies FILE; make it with Tools/export-moto-managed-policies.py)")
            return
        }
        try expandManagedPolicies(path: managedPolicies)
    }

    /// Parses every managed policy in `path` ({"Name": {"Document": {...}}} or {"Name": {...policy...}}),
    /// then resolves every action pattern against the catalog.
    static func expandManagedPolicies(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TallyError(.io, "cannot read \(path)")
        }
        let catalogStart = now()
        let catalog = try IAMCatalog.load()
        let catalogSeconds = now() - catalogStart
        let readStart = now()
        guard case .object(let all) = try JSONValue(parsing: [UInt8](data)) else {
            throw TallyError(.badInput, "\(path): expected an object of policies")
        }
        var documents: [(String, [UInt8])] = []
        for (name, entry) in all.sorted(by: { $0.key < $1.key }) {
            let document = entry["Document"] ?? entry
            documents.append((name, document.canonicalBytes()))
        }
        let readSeconds = now() - readStart
        // Three runs, each with a fresh expander (no pattern cache carried over).
        var runs: [Double] = []
        var patterns = 0
        var resolved = 0
        var invalid: [String] = []
        for _ in 0..<3 {
            let start = now()
            var expander = PolicyExpander(catalog: catalog)
            patterns = 0
            resolved = 0
            invalid = []
            for (name, bytes) in documents {
                let document: PolicyDocument
                do { document = try PolicyDocument(parsing: bytes, source: name) } catch {
                    invalid.append("\(error)")
                    continue
                }
                for statement in document.statements { patterns += statement.action.values.count }
                for list in expander.expand(document) { resolved += list.count }
            }
            runs.append(now() - start)
        }
        for problem in invalid.prefix(5) { print("  rejected: \(problem)") }
        print(String(format: "  catalog load: %.0f ms (%d actions)", catalogSeconds * 1000, catalog.allActions.count))
        print(String(format: "  managed policies: %d, %d rejected by the grammar (%.1f MB JSON read in %.0f ms, not counted)",
                     documents.count, invalid.count, Double(data.count) / 1e6, readSeconds * 1000))
        let each = runs.map { String(format: "%.0f", $0 * 1000) }.joined(separator: ", ")
        print(String(format: "  expand every managed policy (parse + resolve %d action patterns to %d actions): %.0f ms worst of 3",
                     patterns, resolved, runs.max()! * 1000) + " (\(each) ms) [target < 1000 ms]")
    }
}
